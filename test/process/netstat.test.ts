import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { ProcFs } from '../../src/procfs/proc-fs';
import { lineInode, parseInUse } from '../../src/procfs/net-tables';
import { readFdTableSync } from '../../src/procfs/pid-fd';
import { endpoint, resolveSockets, socketLabels } from '../../src/process/netstat';

const fs = new ProcFs(path.resolve(__dirname, '../../../test/fixtures/proc-process/proc'));

test('lineInode finds the tenth column whatever the widths', () => {
  const cases: Array<[string, number]> = [
    ['   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0', 41235],
    ['12345: 0100007F:1F90 0100007F:C350 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000', 0],
    ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', -1],
    ['   1: 0100007F:1F9', -1],
  ];
  for (const [line, want] of cases) assert.equal(lineInode(line, 0, line.length), want, line);
});

test('endpoint and labels: IPv6 in brackets, tcp6 reported as tcp', () => {
  assert.equal(endpoint('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(endpoint('::1', 8080), '[::1]:8080');
  assert.deepEqual(
    socketLabels({ protocol: 'tcp6', localAddress: '::', localPort: 22, remoteAddress: '::', remotePort: 0, state: 10, uid: 0, inode: 5 }),
    { protocol: 'tcp', local: '[::]:22', remote: '[::]:0', state: 10 },
  );
});

test('resolveSockets: own namespace first, then each other namespace once; unknown inodes (unix sockets) dropped', async () => {
  const { sockets, tablesRead } = await resolveSockets(fs, [
    { pid: 100, inodes: [1001, 1002, 1003, 9999] },
    { pid: 700, inodes: [1001] },
    { pid: 600, inodes: [2001] },
  ]);
  assert.deepEqual(sockets[0]!.map((s) => s.inode), [1001, 1002, 1003]);
  assert.deepEqual(sockets[1]!.map((s) => s.inode), [1001]);
  assert.deepEqual(sockets[2]!.map((s) => [s.inode, s.localAddress, s.state]), [[2001, '10.0.0.5', 1]]);
  // net/ + 100's namespace (9999 is unresolved and the fixture has no `self` to say it is ours) + 600's
  assert.equal(tablesRead, 3);
  assert.deepEqual((await resolveSockets(fs, [])).tablesRead, 0, 'no sockets: no table is read');
});

test('resolveSockets with a cap: the first sockets in fd order are kept, every one found is counted', async () => {
  const { sockets, found } = await resolveSockets(fs, [
    { pid: 100, inodes: [9999, 1003, 1001, 1002] },
    { pid: 700, inodes: [1001] },
  ], 2);
  assert.deepEqual(sockets[0]!.map((s) => s.inode), [1003, 1001]); // 9999 is no TCP/UDP socket: not found, not counted
  assert.deepEqual(found, [3, 1]);
  assert.deepEqual(sockets[1]!.map((s) => [s.inode, s.localPort]), [[1001, 8080]]);
});

test('parseInUse reads the inuse count of one protocol line of sockstat', () => {
  const v4 = 'sockets: used 3020\nTCP: inuse 3003 orphan 0 tw 3951 alloc 6005 mem 13\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\n';
  const v6 = 'TCP6: inuse 7\nUDP6: inuse 0\nUDPLITE6: inuse 0\n';
  assert.equal(parseInUse(v4, 'TCP: inuse '), 3003);
  assert.equal(parseInUse(v4, 'UDP: inuse '), 0);
  assert.equal(parseInUse(v6, 'TCP6: inuse '), 7);
  assert.equal(parseInUse(v6, 'UDP6: inuse '), 0);
  assert.equal(parseInUse(v4, 'TCP6: inuse '), undefined);
  assert.equal(parseInUse('TCP: inuse x\n', 'TCP: inuse '), undefined);
});

/** A ProcFs that records the socket tables it is asked to read. */
class RecordingFs extends ProcFs {
  readonly tables: string[] = [];
  override readTextSlices(rel: string, limit?: number, slice?: number): AsyncGenerator<string, void, undefined> {
    this.tables.push(rel);
    return super.readTextSlices(rel, limit, slice);
  }
}

/** The tables of our own namespace (`net/...`) among those read. */
const own = (tables: readonly string[]): string[] => tables.filter((t) => t.startsWith('net/'));

test('resolveSockets: a table whose sockstat counts no socket in use is not read; without sockstat every table is', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'netstat-sockstat-'));
  try {
    cpSync(path.resolve(__dirname, '../../../test/fixtures/proc-process/proc'), root, { recursive: true, verbatimSymlinks: true });
    // 9999 is in no table: every table that may hold it is read to its end
    const request = [{ pid: 700, inodes: [1001, 9999] }];
    const before = new RecordingFs(root);
    const all = await resolveSockets(before, request);
    assert.deepEqual(own(before.tables), ['net/tcp', 'net/tcp6', 'net/udp', 'net/udp6']);
    // the v6 tables hold no socket in use: skipped, and the v4 socket is found as before
    writeFileSync(path.join(root, 'net', 'sockstat'), 'sockets: used 5\nTCP: inuse 3 orphan 0 tw 0 alloc 3 mem 1\nUDP: inuse 1 mem 0\n');
    writeFileSync(path.join(root, 'net', 'sockstat6'), 'TCP6: inuse 0\nUDP6: inuse 0\n');
    const after = new RecordingFs(root);
    const some = await resolveSockets(after, request);
    assert.deepEqual(own(after.tables), ['net/tcp', 'net/udp']);
    assert.deepEqual(some.sockets, all.sockets);
    assert.deepEqual(some.sockets[0]!.map((s) => s.inode), [1001]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveSockets stops reading once every socket wanted is found; in a long table, unix sockets do not keep it going', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'netstat-early-'));
  try {
    cpSync(path.resolve(__dirname, '../../../test/fixtures/proc-process/proc'), root, { recursive: true, verbatimSymlinks: true });
    // tcp6 is a directory: reading it throws (not a regular file), so a scan that goes on past tcp fails
    rmSync(path.join(root, 'net', 'tcp6'));
    mkdirSync(path.join(root, 'net', 'tcp6'));
    const found = new RecordingFs(root);
    const r = await resolveSockets(found, [{ pid: 700, inodes: [1001] }]);
    assert.deepEqual(own(found.tables), ['net/tcp']);
    assert.deepEqual(r.sockets[0]!.map((s) => [s.inode, s.localPort]), [[1001, 8080]]);
    // 9999, a unix socket, is never in tcp: without the unix table the scan goes on, and fails on tcp6
    await assert.rejects(resolveSockets(new RecordingFs(root), [{ pid: 700, inodes: [1001, 9999] }]), /not a regular file|EISDIR/i);
    // a long TCP table (sockstat: 3 in use, 5,000 in TIME_WAIT): the unix table is read first, 9999 is in it
    writeFileSync(path.join(root, 'net', 'sockstat'), 'sockets: used 5\nTCP: inuse 3 orphan 0 tw 5000 alloc 3 mem 1\nUDP: inuse 1 mem 0\n');
    writeFileSync(
      path.join(root, 'net', 'unix'),
      'Num       RefCount Protocol Flags    Type St Inode Path\n' +
        '0000000000000000: 00000002 00000000 00010000 0001 01 9999 /run/app.sock\n' +
        '0000000000000000: 00000003 00000000 00000000 0001 03 12345\n',
    );
    const long = new RecordingFs(root);
    const r2 = await resolveSockets(long, [{ pid: 700, inodes: [1001, 9999] }]);
    assert.deepEqual(own(long.tables), ['net/unix', 'net/tcp']);
    assert.deepEqual(r2.sockets[0]!.map((s) => s.inode), [1001]);
    // below the threshold the unix table is not worth reading
    writeFileSync(path.join(root, 'net', 'sockstat'), 'sockets: used 5\nTCP: inuse 3 orphan 0 tw 10 alloc 3 mem 1\nUDP: inuse 1 mem 0\n');
    const short = new RecordingFs(root);
    const r3 = await resolveSockets(short, [{ pid: 700, inodes: [1001] }]);
    assert.deepEqual(own(short.tables), ['net/tcp']);
    assert.deepEqual(r3.sockets, r.sockets);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveSockets on the live /proc: our own TCP listeners on 127.0.0.1 and ::1 are both found', async () => {
  const listen = (host: string): Promise<Server | undefined> =>
    new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(undefined)); // no IPv6 on this host
      srv.listen(0, host, () => resolve(srv));
    });
  const servers = (await Promise.all([listen('127.0.0.1'), listen('::1')])).filter((s): s is Server => s !== undefined);
  try {
    const live = new ProcFs('/proc');
    const { socketInodes } = readFdTableSync(live, process.pid, true);
    const { sockets } = await resolveSockets(live, [{ pid: process.pid, inodes: socketInodes }]);
    const listening = sockets[0]!.filter((s) => s.state === 10).map((s) => `${s.localAddress}:${s.localPort}`);
    for (const srv of servers) {
      const a = srv.address() as { address: string; port: number };
      assert.ok(listening.includes(`${a.address}:${a.port}`), `${a.address}:${a.port} not in ${listening.join(' ')}`);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
});

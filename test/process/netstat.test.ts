import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ProcFs } from '../../src/procfs/proc-fs';
import { lineInode } from '../../src/procfs/net-tables';
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

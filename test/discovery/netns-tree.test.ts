/**
 * Namespaces from a procfs tree built here (no root needed): pids whose
 * `net` directories are one directory (symlinks, so `stat` gives the same
 * inode) share a namespace; each namespace's tables are read once; sockets
 * join their owners through `fd/`; ports outside pid 1's namespace carry
 * container_id from the owner's cgroup file, else netns-<key>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ProcFs } from '../../src/procfs/proc-fs';
import { discoverPorts } from '../../src/discovery/listeners';
import { ExclusionList } from '../../src/discovery/exclusion';
import { listNetNamespaces } from '../../src/discovery/netns';
import { PortPool } from '../../src/discovery/port-pool';

const ID = 'ab'.repeat(32);
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** One LISTEN row: address in the tables' hex form, port, inode. */
const row = (i: number, hexAddr: string, port: number, inode: number): string =>
  `   ${i}: ${hexAddr}:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

function proc(root: string, pid: number, comm: string, cgroup: string, sockets: number[]): void {
  const dir = path.join(root, String(pid));
  mkdirSync(path.join(dir, 'fd'), { recursive: true });
  writeFileSync(path.join(dir, 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 120 0 3 0 250 50 0 0 20 0 1 0 1000 10485760 256 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n`);
  writeFileSync(path.join(dir, 'comm'), `${comm}\n`);
  writeFileSync(path.join(dir, 'cmdline'), `/usr/sbin/${comm}\0`);
  writeFileSync(path.join(dir, 'cgroup'), cgroup);
  sockets.forEach((inode, i) => symlinkSync(`socket:[${inode}]`, path.join(dir, 'fd', String(3 + i))));
}

function tables(root: string, pid: number, tcp: string): void {
  const net = path.join(root, String(pid), 'net');
  mkdirSync(net, { recursive: true });
  writeFileSync(path.join(net, 'tcp'), HEADER + tcp);
  for (const t of ['tcp6', 'udp', 'udp6']) writeFileSync(path.join(net, t), HEADER);
}

test('a procfs tree with three namespaces: one table read each, owners through fd, labels from cgroup or the namespace key', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ohr-netns-'));
  try {
    // host namespace: pid 1 (init) and pid 100, a web server on :80
    proc(root, 1, 'init', '0::/init.scope\n', []);
    tables(root, 1, row(0, '00000000', 80, 1001));
    proc(root, 100, 'web', '0::/system.slice/web.service\n', [1001]);
    symlinkSync('../1/net', path.join(root, '100', 'net'));
    // a Docker container: the same program on the same port, plus a loopback-only admin port
    proc(root, 300, 'web', `0::/system.slice/docker-${ID}.scope\n`, [3001, 3002]);
    tables(root, 300, row(0, '00000000', 80, 3001) + row(1, '0100007F', 9090, 3002));
    proc(root, 301, 'sh', `0::/system.slice/docker-${ID}.scope\n`, []);
    symlinkSync('../300/net', path.join(root, '301', 'net'));
    // an `ip netns` namespace: the host's cgroup, so netns-<key>
    proc(root, 400, 'web', '0::/user.slice/session-1.scope\n', [4001]);
    tables(root, 400, row(0, '00000000', 80, 4001));

    const fs = new ProcFs(root);
    const ns = await listNetNamespaces(fs);
    assert.equal(ns.byKey.size, 3);
    assert.deepEqual(ns.host.pids, [1, 100]);
    assert.deepEqual([...ns.byKey.values()].map((n) => n.pids), [[1, 100], [300, 301], [400]]);

    const r = await discoverPorts(fs, new ExclusionList(), ns);
    const key400 = statSync(path.join(root, '400', 'net', 'tcp')).ino;
    const got = r.ports.map((p) => ({ port: p.port, pid: p.pid, name: p.processName, labels: p.identityLabels ?? 'host', addresses: p.addresses })).sort((a, b) => a.pid - b.pid || a.port - b.port);
    assert.deepEqual(got, [
      { port: 80, pid: 100, name: 'web', labels: 'host', addresses: ['0.0.0.0'] },
      { port: 80, pid: 300, name: 'web', labels: { container_id: ID }, addresses: ['0.0.0.0'] },
      { port: 9090, pid: 300, name: 'web', labels: { container_id: ID }, addresses: ['127.0.0.1'] },
      { port: 80, pid: 400, name: 'web', labels: { container_id: `netns-${key400}` }, addresses: ['0.0.0.0'] },
    ]);
    assert.equal(r.unowned, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('without pid 1 tables (a fixture tree), the host namespace is <procfs>/net, read as before', async () => {
  const fs = new ProcFs(path.resolve(__dirname, '../../../test/fixtures/proc-basic'));
  const ns = await listNetNamespaces(fs);
  assert.equal(ns.byKey.size, 1);
  assert.equal(ns.host.dir, 'net');
  const r = await discoverPorts(fs, new ExclusionList(), ns);
  const legacy = await discoverPorts(fs, new ExclusionList());
  assert.deepEqual(r, legacy);
});

test('a container port remembered from the state file and found again is one pool entry: identity labels key it, not the namespace inode', () => {
  const pool = new PortPool();
  const identityLabels = { container_id: ID };
  const base = { protocol: 'tcp' as const, port: 80, processName: 'web', exePath: '/usr/sbin/web' };
  pool.remember([{ ...base, pid: 0, startTicks: 0, addresses: [], inodes: [], identityLabels }], () => false, 1000);
  assert.deepEqual(pool.ports().map((p) => [p.remembered, p.tcp?.alive]), [[true, 0]], 'remembered, no listener yet: a true 0');
  const live = { ...base, pid: 300, startTicks: 5, addresses: ['0.0.0.0'], inodes: [3001], identityLabels, netns: { key: 77, inode: 77 } };
  const host = { ...base, pid: 100, startTicks: 1, addresses: ['0.0.0.0'], inodes: [1001] };
  pool.rebuild([live, host], [], [], 2000);
  assert.deepEqual(
    pool.ports().map((p) => [p.pid, p.remembered, p.identityLabels?.container_id ?? 'host']).sort(),
    [[100, undefined, 'host'], [300, undefined, ID]],
  );
});

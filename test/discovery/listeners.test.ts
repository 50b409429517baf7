/** Discovery over the proc-basic fixture (see test/fixtures/README.md for what each pid exercises). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { lstatSync } from 'node:fs';
import { ProcFs } from '../../src/procfs/proc-fs';
import { discoverPorts } from '../../src/discovery/listeners';
import { ExclusionList } from '../../src/discovery/exclusion';

export const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const BASIC = path.join(FIXTURES, 'proc-basic');

test('fixture integrity: fd and exe entries are symlinks (git core.symlinks must be on)', () => {
  for (const rel of ['100/exe', '100/fd/3', '101/fd/4', '400/fd/4']) {
    assert.ok(lstatSync(path.join(BASIC, rel)).isSymbolicLink(), `${rel} is not a symlink: fixture checkout is broken`);
  }
});

test('discovers listening ports with their owners from a fixture procfs', async () => {
  const r = await discoverPorts(new ProcFs(BASIC), new ExclusionList());
  assert.deepEqual(
    r.ports.map((p) => ({ key: `${p.protocol}/${p.port}`, pid: p.pid, name: p.processName, exe: p.exePath, addresses: p.addresses.sort(), inodes: p.inodes.sort() })),
    [
      { key: 'tcp/38014', pid: 200, name: 'sshd', exe: '/usr/sbin/sshd', addresses: ['0.0.0.0'], inodes: [1004] },
      { key: 'tcp/38080', pid: 100, name: 'nginx', exe: '/usr/sbin/nginx', addresses: ['127.0.0.1'], inodes: [1001] },
      // v4 and v6 sockets on one port are one port; nginx master (100) owns what it shares with the worker (101)
      { key: 'tcp/38081', pid: 100, name: 'nginx', exe: '/usr/sbin/nginx', addresses: ['0.0.0.0', '::'], inodes: [1002, 1007] },
      // " (deleted)" stripped from the exe link; the connected UDP client socket is not a port
      { key: 'udp/35353', pid: 400, name: 'dnsmasq', exe: '/usr/sbin/dnsmasq', addresses: ['0.0.0.0'], inodes: [2001] },
    ],
  );
  assert.deepEqual(r.excluded, [{ protocol: 'tcp', port: 39100, processName: 'node_exporter', pid: 300, reason: 'node_exporter' }]);
  // 35555 has no owner; 37000's owner has a malformed stat
  assert.equal(r.unowned, 2);
  assert.equal(r.ports[0]!.startTicks, 1000);
});

test('EXCLUDED_PROCESS_NAMES entries merge with the built-in list, contains match', async () => {
  const r = await discoverPorts(new ProcFs(BASIC), new ExclusionList(['ngin', 'dns']));
  assert.deepEqual(r.ports.map((p) => p.processName), ['sshd']);
  assert.deepEqual(r.excluded.map((x) => `${x.processName}:${x.reason}`).sort(), ['dnsmasq:dns', 'nginx:ngin', 'nginx:ngin', 'node_exporter:node_exporter']);
});

test('the live host: a listening child of ours is found with its pid', async () => {
  const { startListener } = await import('../helpers/processes');
  const child = await startListener('hung', '127.0.0.1', 0, 'ohr-discover');
  try {
    const r = await discoverPorts(new ProcFs('/proc'), new ExclusionList());
    const p = r.ports.find((x) => x.port === child.ports[0]);
    assert.ok(p, 'child port discovered');
    assert.equal(p.pid, child.pid);
    assert.equal(p.processName, 'ohr-discover');
    assert.equal(p.protocol, 'tcp');
  } finally {
    await child.kill();
  }
});

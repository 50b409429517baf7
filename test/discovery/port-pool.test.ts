/** The pool's life cycle, one step per row: rebuild, merge (cheap pass), rebuild again. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortPool } from '../../src/discovery/port-pool';
import type { ListeningPort } from '../../src/discovery/listeners';

function port(p: Partial<ListeningPort> & { port: number }): ListeningPort {
  return { protocol: 'tcp', addresses: ['0.0.0.0'], inodes: [p.port * 10], pid: 100, startTicks: 1, processName: 'svc', exePath: '/bin/svc', ...p };
}

test('probe state survives a rebuild for the same owner; a changed owner starts fresh; a vanished port leaves', () => {
  const pool = new PortPool();
  pool.rebuild([port({ port: 80 }), port({ port: 81 }), port({ port: 82 })], [], [], 0);
  for (const p of pool.ports()) p.tcp = { alive: 1, responseSeconds: 0.001, checkedAt: 1 };
  pool.get('tcp', 80)!.http = { everAnswered: true, detected: true, alive: 1, checkedAt: 1 };
  pool.get('tcp', 81)!.http = { everAnswered: false, detected: true, alive: 0, checkedAt: 1 };
  const gen = pool.generation;

  // 80 same owner (new pid after a restart is fine: same name+exe), 81 same, 82 gone, 83 new, 84 now another program
  pool.rebuild([port({ port: 80, pid: 200 }), port({ port: 81 }), port({ port: 83 })], [], [], 1);
  assert.ok(pool.generation > gen);
  assert.deepEqual(pool.ports().map((p) => p.port), [80, 81, 83]);
  assert.equal(pool.get('tcp', 80)!.tcp?.alive, 1, 'kept');
  assert.equal(pool.get('tcp', 80)!.pid, 200, 'rebound to the new pid');
  assert.equal(pool.get('tcp', 80)!.http?.everAnswered, true, 'an HTTP port stays HTTP');
  assert.equal(pool.get('tcp', 81)!.http?.detected, false, 'never-HTTP ports are detected again after a rebuild');
  assert.equal(pool.get('tcp', 83)!.tcp, undefined, 'new: not probed yet');
});

test('the cheap pass adds and re-binds but never removes', () => {
  const pool = new PortPool();
  pool.rebuild([port({ port: 80 }), port({ port: 81 })], [], [7], 0);
  pool.get('tcp', 81)!.tcp = { alive: 0, responseSeconds: 0, checkedAt: 1 };
  pool.merge([port({ port: 82, inodes: [999] }), port({ port: 80, processName: 'other', exePath: '/bin/other', inodes: [5] })], [], [8]);
  assert.deepEqual(pool.ports().map((p) => `${p.port}:${p.processName}`).sort(), ['80:other', '81:svc', '82:svc']);
  assert.equal(pool.get('tcp', 81)!.tcp?.alive, 0, 'a dead port stays, reading 0, until the next rebuild');
  assert.ok(pool.knownInodes().has(7) && pool.knownInodes().has(8) && pool.knownInodes().has(999));
});

test('processes: one entry per name+exe, with every owning pid', () => {
  const pool = new PortPool();
  pool.rebuild(
    [port({ port: 80, pid: 1 }), port({ port: 443, pid: 1 }), port({ port: 8080, pid: 2, startTicks: 9 }), port({ port: 53, protocol: 'udp', pid: 3, processName: 'dns', exePath: '/bin/dns' })],
    [],
    [],
    0,
  );
  const procs = pool.processes().map((p) => `${p.processName}:${p.refs.map((r) => r.pid).join(',')}`).sort();
  assert.deepEqual(procs, ['dns:3', 'svc:1,2']);
});

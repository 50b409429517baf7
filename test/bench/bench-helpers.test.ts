/**
 * The helpers behind `npm run bench`'s targets (issue 11): the attribution of
 * a heap to owners, on a real snapshot of a child node process whose heap we
 * shape ourselves; the ss timing read from bash; the self-metrics read from a
 * page; the target lines and the steady statistics; and the check that the
 * owner classes still exist in src/.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { analyzeHeap, parseHeapSnapshot, type HeapSnapshot } from '../../bench/heap-snapshot';
import { attributeOwners, classesMissingFromSource, OWNERS, selfMetric, type Attribution } from '../../bench/memory';
import { parseTimedRun } from '../../bench/run';
import { atMost, below, quantile, steady, targetLine } from '../../bench/targets';
import { tempDir } from '../helpers/tmp';

/**
 * A Monitor that alone holds a Pool (an owner inside another), and an A and a
 * B sharing one array of 30,000 objects (held by two owners: retained by
 * neither). Written from a later task, as in heap-snapshot.test.ts.
 */
const CHILD = `
class Pool { constructor() { this.items = Array.from({ length: 20000 }, (_, i) => ({ i })); } }
class Monitor { constructor(pool) { this.pool = pool; this.cache = Array.from({ length: 10000 }, (_, i) => ({ i })); } }
class A { constructor(shared) { this.shared = shared; this.own = Array.from({ length: 5000 }, (_, i) => ({ i })); } }
class B { constructor(shared) { this.shared = shared; } }
function build() {
  const shared = Array.from({ length: 30000 }, (_, i) => ({ i }));
  return { monitor: new Monitor(new Pool()), a: new A(shared), b: new B(shared) };
}
globalThis.kept = build();
setTimeout(() => require('node:v8').writeHeapSnapshot(process.argv[1]), 0);
`;

function only(s: HeapSnapshot, name: string): number {
  const object = s.nodeTypes.indexOf('object');
  const found: number[] = [];
  for (let i = 0; i < s.nodeCount; i++) if (s.nodeType[i] === object && s.strings[s.nodeName[i]!] === name) found.push(i);
  assert.equal(found.length, 1, `one ${name} in the snapshot`);
  return found[0]!;
}

function property(s: HeapSnapshot, node: number, name: string): number {
  for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e++) {
    if (s.edgeTypes[s.edgeType[e]!] === 'property' && s.strings[s.edgeNameOrIndex[e]!] === name) return s.edgeTo[e]!;
  }
  throw new Error(`no property ${name}`);
}

describe('attribution of a heap to owners', () => {
  let snap: HeapSnapshot;
  let at: Attribution;
  const owners = [
    { owner: 'pool', classes: ['Pool'] },
    { owner: 'probes', classes: ['Monitor'] },
    { owner: 'a', classes: ['A'] },
    { owner: 'b', classes: ['B', 'NoSuchClass'] },
  ];
  const of = (name: string) => at.owners.find((o) => o.owner === name)!;

  before(() => {
    const file = path.join(tempDir('attribution').dir, 'child.heapsnapshot');
    const r = spawnSync(process.execPath, ['-e', CHILD, file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    snap = parseHeapSnapshot(file);
    at = attributeOwners(snap, owners);
  });

  test('every byte counts once: the owners and "not attributed" add up to the total', () => {
    let total = 0;
    for (let i = 0; i < snap.nodeCount; i++) total += snap.selfSize[i]!;
    assert.equal(at.totalBytes, total);
    assert.equal(at.owners.reduce((sum, o) => sum + o.bytes, 0) + at.notAttributedBytes, total);
  });

  test('an owner inside another counts for itself only', () => {
    const a = analyzeHeap(snap);
    const pool = a.retained[only(snap, 'Pool')]!;
    const monitor = a.retained[only(snap, 'Monitor')]!;
    assert.ok(pool > 20000 * 12, `the Pool retains its 20,000 objects (${pool} bytes)`);
    assert.equal(of('pool').bytes, pool);
    assert.equal(of('probes').retainedWithNested, monitor);
    assert.equal(of('probes').bytes, monitor - pool);
    assert.deepEqual(of('probes').nested, { pool });
    assert.deepEqual(of('pool').nested, {});
  });

  test('what two owners share is retained by neither and stays "not attributed"', () => {
    const a = analyzeHeap(snap);
    const shared = property(snap, only(snap, 'A'), 'shared');
    assert.equal(property(snap, only(snap, 'B'), 'shared'), shared);
    const sharedBytes = a.retained[shared]!;
    assert.ok(sharedBytes > 30000 * 12, `the shared array holds its 30,000 objects (${sharedBytes} bytes)`);
    assert.equal(of('a').bytes, a.retained[only(snap, 'A')]!);
    assert.ok(of('a').bytes < sharedBytes, 'A does not own the shared array');
    assert.ok(of('b').bytes < 1000, `B owns only itself (${of('b').bytes} bytes)`);
    assert.ok(at.notAttributedBytes >= sharedBytes);
  });

  test('objects are counted per class, a class with no object as 0', () => {
    assert.deepEqual(of('pool').objectsByClass, { Pool: 1 });
    assert.deepEqual(of('b').objectsByClass, { B: 1, NoSuchClass: 0 });
  });

  test("an owner's largest classes are what its objects hold", () => {
    assert.equal(of('pool').topClasses[0]!.className, 'Object', 'the 20,000 { i } objects');
  });
});

describe('owner classes in src/', () => {
  const src = path.resolve(__dirname, '../../../src');

  test('every class the bench attributes memory to is declared in src/', () => {
    assert.deepEqual(classesMissingFromSource(src, OWNERS), []);
  });

  test('a renamed class is reported', () => {
    assert.deepEqual(classesMissingFromSource(src, [{ owner: 'x', classes: ['PortPool', 'PortPoolRenamedAway'] }]), ['PortPoolRenamedAway']);
  });
});

describe('timing ss from bash', () => {
  test('wall from $EPOCHREALTIME and CPU from the children line of times', () => {
    const out = '1796314875.419114 1796314875.663550\n0m0.002s 0m0.000s\n0m0.025s 1m0.197s\n';
    const t = parseTimedRun(out);
    assert.ok(Math.abs(t.wallMs - 244.436) < 0.01, String(t.wallMs));
    assert.ok(Math.abs(t.cpuMs - 60222) < 0.01, String(t.cpuMs));
  });

  test('anything else is an error naming the output', () => {
    assert.throws(() => parseTimedRun('0m0.002s 0m0.000s\n'), /unexpected timing output/);
    assert.throws(() => parseTimedRun('1,5 2,5\n0m0.002s 0m0.000s\n0m0.025s 0m0.197s\n'), /unexpected timing output/);
  });

  test('a real bash: a command that sleeps has wall time and next to no CPU', () => {
    const script = 't0=$EPOCHREALTIME; sleep 0.2; t1=$EPOCHREALTIME; echo "$t0 $t1"; times';
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(r.status, 0, r.stderr);
    const t = parseTimedRun(r.stdout);
    assert.ok(t.wallMs >= 195, `wall ${t.wallMs}`);
    assert.ok(t.cpuMs < t.wallMs / 2, `cpu ${t.cpuMs}`);
  });
});

describe('self-metrics from a page', () => {
  const page = [
    'nodejs_heap_used_bytes 123',
    '# HELP nodejs_heap_total_bytes V8 heap',
    'nodejs_heap_total_bytes_extra 9',
    'nodejs_heap_total_bytes 456',
    'nodejs_external_memory_bytes{kind="x"} 7.5 1700000000000',
    'x_nodejs_array_buffers_bytes 1',
  ].join('\n');

  test('the value of the named series, not of one whose name only starts the same', () => {
    assert.equal(selfMetric(page, 'nodejs_heap_used_bytes'), 123);
    assert.equal(selfMetric(page, 'nodejs_heap_total_bytes'), 456);
    assert.equal(selfMetric(page, 'nodejs_external_memory_bytes'), 7.5);
  });

  test('absent is NaN', () => {
    assert.ok(Number.isNaN(selfMetric(page, 'nodejs_array_buffers_bytes')));
  });
});

describe('target lines', () => {
  test('a bound held, missed, or not measured', () => {
    assert.equal(targetLine(atMost('RSS', 79.96, 80, ' MiB', 1)), 'target RSS: 80 MiB (target ≤ 80 MiB) PASS');
    assert.equal(targetLine(atMost('RSS', 80.04, 80, ' MiB', 1)), 'target RSS: 80 MiB (target ≤ 80 MiB) FAIL');
    assert.equal(targetLine(below('growth', 5, 5, '%')), 'target growth: 5% (target < 5%) FAIL');
    assert.equal(targetLine(atMost('ratio', NaN, 0.25, '×')), 'target ratio: not measured (target ≤ 0.25×) FAIL');
  });

  test('steady is the median of the last half, max over all', () => {
    assert.deepEqual(steady([100, 90, 50, 52, 51, 53]), { median: 52, max: 100 });
    assert.deepEqual(steady([7]), { median: 7, max: 7 });
    assert.ok(Number.isNaN(steady([]).median));
    assert.equal(quantile([5, 1, 3, 2, 4], 0.99), 5);
  });
});

/**
 * The heap snapshot analyzer of bench/heap-snapshot.ts, on a real snapshot
 * written by a child node process whose heap we shape ourselves, read back a
 * second time with plain JSON.parse for the figures the assertions compare to;
 * and its dominator computation on small graphs checked by hand and against a
 * brute-force definition.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { analyzeHeap, breakdown, dominatorsOf, parseHeapSnapshot, type HeapSnapshot } from '../../bench/heap-snapshot';
import { tempDir } from '../helpers/tmp';

const CLI = path.resolve(__dirname, '../../bench/heap-snapshot.js');

/**
 * The child's heap: one Big holding 100,000 small objects, a Small and a Held;
 * a second Small on its own; a WeakRef to the Held (a weak edge, which must
 * not make the Held anyone else's). Everything hangs off globalThis.kept and
 * is built inside a function, so no stack slot of the running script holds
 * any of it; the snapshot is written from a later task because a new WeakRef
 * keeps its target alive until the current job ends (ECMAScript's
 * AddToKeptObjects / ClearKeptObjects).
 */
const CHILD = `
class Small { constructor() { this.tag = 'small'; } }
class Held { constructor() { this.items = new Array(1000).fill(0).map((_, i) => ({ i })); } }
class Big {
  constructor() {
    this.a = new Array(100000).fill(0).map((_, i) => ({ i }));
    this.small = new Small();
    this.held = new Held();
  }
}
function build() {
  const big = new Big();
  return { big, lone: new Small(), weak: new WeakRef(big.held) };
}
globalThis.kept = build();
setTimeout(() => require('node:v8').writeHeapSnapshot(process.argv[1]), 0);
`;

/** What the test reads from the snapshot on its own, with JSON.parse and the format's meta. */
interface Plain {
  nodeCount: number;
  selfSizes: number[];
  totalSelf: number;
  /** Self sizes of the objects in Big's `a` array (V8 gives a JS array an element edge to each). */
  bigElementSizes: number[];
}

function readPlain(file: string): Plain {
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const { meta } = json.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [TYPE, NAME, SIZE, EDGES] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number];
  const [ETYPE, ENAME, ETO] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
  const nodeCount = json.nodes.length / nf;
  const first: number[] = [];
  let e = 0;
  const selfSizes: number[] = [];
  for (let i = 0; i < nodeCount; i++) {
    first.push(e);
    e += json.nodes[i * nf + EDGES]!;
    selfSizes.push(json.nodes[i * nf + SIZE]!);
  }
  first.push(e);
  const edgesOf = (i: number): Array<{ type: string; name: string | number; to: number }> => {
    const out = [];
    for (let k = first[i]!; k < first[i + 1]!; k++) {
      const type = meta.edge_types[0][json.edges[k * ef + ETYPE]!]!;
      const raw = json.edges[k * ef + ENAME]!;
      out.push({ type, name: type === 'element' || type === 'hidden' ? raw : json.strings[raw]!, to: json.edges[k * ef + ETO]! / nf });
    }
    return out;
  };
  const objectType = meta.node_types[0].indexOf('object');
  const bigs = selfSizes.map((_, i) => i).filter((i) => json.nodes[i * nf + TYPE] === objectType && json.strings[json.nodes[i * nf + NAME]!] === 'Big');
  assert.equal(bigs.length, 1, 'one Big in the snapshot');
  const array = edgesOf(bigs[0]!).find((x) => x.name === 'a')!.to;
  const bigElementSizes = edgesOf(array)
    .filter((x) => x.type === 'element')
    .map((x) => selfSizes[x.to]!);
  return { nodeCount, selfSizes, totalSelf: selfSizes.reduce((a, b) => a + b, 0), bigElementSizes };
}

function nodesOfClass(s: HeapSnapshot, name: string): number[] {
  const object = s.nodeTypes.indexOf('object');
  const out: number[] = [];
  for (let i = 0; i < s.nodeCount; i++) if (s.nodeType[i] === object && s.strings[s.nodeName[i]!] === name) out.push(i);
  return out;
}

const only = (...names: string[]) => (c: string): boolean => names.includes(c);

describe('heap snapshot of a child process', () => {
  let file = '';
  let snap: HeapSnapshot;
  let plain: Plain;

  before(() => {
    const tmp = tempDir('heap');
    file = path.join(tmp.dir, 'child.heapsnapshot');
    const r = spawnSync(process.execPath, ['-e', CHILD, file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    snap = parseHeapSnapshot(file);
    plain = readPlain(file);
  });

  test('the typed columns hold what JSON.parse reads', () => {
    assert.equal(snap.nodeCount, plain.nodeCount);
    assert.deepEqual(Array.from(snap.selfSize), plain.selfSizes);
    assert.equal(snap.firstEdge[snap.nodeCount], snap.edgeCount);
  });

  test('the total is the sum of every self size, and the root retains all but the unreachable', () => {
    const b = breakdown(snap, []);
    assert.equal(b.totalBytes, plain.totalSelf);
    assert.equal(b.nodeCount, plain.nodeCount);
    const a = analyzeHeap(snap);
    assert.equal(a.retained[0]! + b.unreachableBytes, b.totalBytes);
    assert.equal(a.idom[0], 0);
  });

  test("Big retains its 100,000 objects and not much more", () => {
    assert.equal(plain.bigElementSizes.length, 100_000);
    const objects = plain.bigElementSizes.reduce((a, b) => a + b, 0);
    assert.ok(Math.min(...plain.bigElementSizes) > 0);
    const [big] = breakdown(snap, [{ owner: 'Big', match: only('Big') }]).owners;
    assert.equal(big!.count, 1);
    assert.ok(big!.bytes >= objects, `Big retains ${big!.bytes} bytes, its objects alone are ${objects}`);
    assert.ok(big!.bytes > 1.5 * 1024 * 1024, `Big retains ${big!.bytes} bytes`);
    // the objects, the array's backing store (8 bytes a slot here) and the small things Big holds
    assert.ok(big!.bytes < objects + 100_000 * 8 + 200 * 1024, `Big retains ${big!.bytes} bytes, more than it holds`);
  });

  test('a Small inside a Big counts once, under the topmost object of the owner', () => {
    const b = breakdown(snap, [
      { owner: 'Both', match: only('Big', 'Small') },
      { owner: 'Big', match: only('Big') },
      { owner: 'Small', match: only('Small') },
    ]);
    const [both, big, small] = b.owners;
    assert.equal(small!.count, 2, 'two Smalls, neither inside the other');
    assert.equal(both!.count, 2, 'the Big and the lone Small; the Small inside the Big is not counted again');
    const a = analyzeHeap(snap);
    const lone = nodesOfClass(snap, 'Small').filter((i) => snap.strings[snap.nodeName[a.idom[i]!]!] !== 'Big');
    assert.equal(lone.length, 1);
    assert.equal(both!.bytes, big!.bytes + a.retained[lone[0]!]!);
  });

  test('a weak reference does not retain: the Held is dominated by the Big that holds it', () => {
    const a = analyzeHeap(snap);
    const [held] = nodesOfClass(snap, 'Held');
    const [big] = nodesOfClass(snap, 'Big');
    assert.equal(a.idom[held!], big, 'only Big holds the Held strongly; the WeakRef reaches it too');
    const weak = snap.edgeTypes.indexOf('weak');
    let weakIntoHeld = 0;
    for (let e = 0; e < snap.edgeCount; e++) if (snap.edgeType[e] === weak && snap.edgeTo[e] === held) weakIntoHeld++;
    assert.ok(weakIntoHeld > 0, 'the snapshot has a weak edge into the Held');
  });

  test('top classes and top objects point at what is big', () => {
    const b = breakdown(snap, [], 10);
    assert.equal(b.topClasses.length, 10);
    assert.equal(b.topClasses[0]!.className, 'Object');
    assert.ok(b.topClasses[0]!.count >= 101_000);
    for (let i = 1; i < b.topClasses.length; i++) assert.ok(b.topClasses[i - 1]!.bytes >= b.topClasses[i]!.bytes);
    assert.equal(b.topObjects.length, 10);
    for (let i = 1; i < b.topObjects.length; i++) assert.ok(b.topObjects[i - 1]!.retained >= b.topObjects[i]!.retained);
    const big = b.topObjects.find((o) => o.className === 'Big');
    assert.ok(big, 'Big is among the 10 largest objects');
    assert.ok(b.topObjects.some((o) => o.className === 'Array' && o.path === 'Big.a' && o.retained < big.retained));
  });

  test('the command line prints the owners table', () => {
    const r = spawnSync(process.execPath, [CLI, file, '--owner', 'Both=Big,Small', '--owner=Lone=Small', '--top', '5'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const row = (name: string): string[] => r.stdout.split('\n').find((l) => l.startsWith(`${name} `))!.trim().split(/\s+/);
    assert.equal(row('Both')[1], '2');
    assert.equal(row('Lone')[1], '2');
    assert.match(r.stdout, /^heap: [\d.]+ MiB in \d+ nodes/);
    assert.match(r.stdout, /Big\.a\n/);
  });
});

describe('command-line errors', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

  test('a file that is not a heap snapshot exits 2 with one line naming it', () => {
    const tmp = tempDir('heap-bad');
    const bad = path.join(tmp.dir, 'bad.heapsnapshot');
    writeFileSync(bad, '{"snapshot":{"meta":{}},"nodes":[0,1,-2],"edges":[],"strings":[]}');
    const r = run(bad);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /bad\.heapsnapshot: not a V8 heap snapshot/);
    const missing = run(path.join(tmp.dir, 'none.heapsnapshot'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /none\.heapsnapshot/);
  });

  test('bad flags exit 2 with one line', () => {
    for (const args of [[], ['x', '--top', '0'], ['x', '--owner'], ['x', '--frobnicate']]) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

/** Dominators by definition: d dominates v when v is unreachable from the root once d is removed. */
function bruteForceIdom(n: number, edges: Array<[number, number]>, root: number): number[] {
  const reach = (removed: number): boolean[] => {
    const seen = new Array<boolean>(n).fill(false);
    if (removed === root) return seen;
    const stack = [root];
    seen[root] = true;
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (const [f, t] of edges) {
        if (f !== v || t === removed || seen[t]) continue;
        seen[t] = true;
        stack.push(t);
      }
    }
    return seen;
  };
  const all = reach(-1);
  const doms: Array<Set<number>> = [];
  for (let v = 0; v < n; v++) doms.push(new Set(all[v] ? [v] : []));
  for (let d = 0; d < n; d++) {
    const r = reach(d);
    for (let v = 0; v < n; v++) if (all[v] && !r[v]) doms[v]!.add(d);
  }
  // The immediate dominator is the strict dominator dominated by all the others: the one with the most dominators.
  return doms.map((ds, v) => {
    if (!all[v]) return -1;
    if (v === root) return root;
    let best = -1;
    for (const d of ds) if (d !== v && (best < 0 || doms[d]!.size > doms[best]!.size)) best = d;
    return best;
  });
}

describe('dominators over plain graphs', () => {
  test('a diamond: the join is dominated by the fork, not by either side', () => {
    const idom = dominatorsOf(5, [
      [0, 1],
      [0, 2],
      [1, 3],
      [2, 3],
      [3, 4],
    ]);
    assert.deepEqual(Array.from(idom), [0, 0, 0, 0, 3]);
  });

  test('a cycle: entering it is what dominates; a self-loop and an unreachable node', () => {
    const idom = dominatorsOf(7, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 1],
      [3, 4],
      [4, 4],
      [2, 5],
      [5, 4],
      [6, 1],
    ]);
    assert.deepEqual(Array.from(idom), [0, 0, 1, 2, 2, 2, -1]);
  });

  test('an irreducible graph, where one pass in reverse postorder is not enough in general', () => {
    // Two entries (1 and 2) into the loop 3 <-> 4 <-> 5: the root dominates everything.
    const idom = dominatorsOf(6, [
      [0, 1],
      [0, 2],
      [1, 3],
      [2, 4],
      [2, 5],
      [3, 4],
      [4, 3],
      [4, 5],
      [5, 4],
    ]);
    assert.deepEqual(Array.from(idom), [0, 0, 0, 0, 0, 0]);
  });

  // An iterative fixpoint (Cooper, Harvey and Kennedy) settles one node of such a list per pass:
  // many minutes at this length, where Lengauer–Tarjan takes milliseconds. A child process runs
  // it, so that the (generous) time limit can stop a computation that never yields.
  test('a long doubly linked list, entered from one end or from both', () => {
    const script = `
      const { dominatorsOf } = require(process.argv[1]);
      const n = 200000;
      const links = [];
      for (let i = 1; i < n; i++) links.push([i, i + 1], [i + 1, i]);
      const fromHead = dominatorsOf(n + 1, [[0, 1], ...links]);
      const fromBoth = dominatorsOf(n + 1, [[0, 1], [0, n], ...links]);
      let wrong = 0;
      for (let i = 2; i <= n; i++) if (fromHead[i] !== i - 1) wrong++;
      for (let i = 1; i <= n; i++) if (fromBoth[i] !== 0) wrong++;
      console.log(JSON.stringify({ wrong, head: fromHead[1], both: fromBoth[n] }));
    `;
    const r = spawnSync(process.execPath, ['-e', script, path.resolve(__dirname, '../../bench/heap-snapshot.js')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, 'still computing after 60 s');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { wrong: 0, head: 0, both: 0 });
  });

  test('random graphs agree with the definition', () => {
    let seed = 12345;
    const rand = (k: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    for (let g = 0; g < 200; g++) {
      const n = 2 + rand(25);
      const m = rand(3 * n);
      const edges: Array<[number, number]> = [];
      for (let k = 0; k < m; k++) edges.push([rand(n), rand(n)]);
      const root = rand(n);
      assert.deepEqual(Array.from(dominatorsOf(n, edges, root)), bruteForceIdom(n, edges, root), `graph ${g}: ${JSON.stringify(edges)} from ${root}`);
    }
  });
});

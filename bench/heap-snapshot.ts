/**
 * A V8 heap snapshot analyzer of our own, for the memory breakdown of
 * `npm run bench` (issue 11): which parts of the daemon hold how many bytes.
 *
 * Input: a `.heapsnapshot` file as written by `v8.writeHeapSnapshot()` or
 * `node --heapsnapshot-signal=SIGUSR2`. The format is one JSON object whose
 * `snapshot.meta` names the node and edge fields, with every node and edge
 * flattened into two integer arrays (`nodes`, `edges`) and every name kept
 * once in `strings`. A node's edges follow those of the nodes before it, in
 * order, `edge_count` of them; an edge's `to_node` is the offset of the target
 * in `nodes` (a multiple of the number of node fields). Edges of type
 * `element` and `hidden` carry an index in `name_or_index`, the others an index
 * into `strings`. Format notes: https://developer.chrome.com/docs/devtools/memory-problems/heap-snapshots
 * and V8's include/v8-profiler.h (HeapGraphNode, HeapGraphEdge).
 *
 * Analysis: every edge but a `weak` one keeps its target alive. The
 * dominator tree from node 0 (the synthetic root) is computed with the
 * algorithm of Lengauer and Tarjan (see immediateDominators); a node's
 * retained size is its self size plus the retained sizes of the nodes it
 * immediately dominates, i.e. what would be freed if it went away.
 *
 * Command line: `node dist/bench/heap-snapshot.js <file.heapsnapshot>
 * [--owner Name=ClassA,ClassB ...] [--top N]` prints the breakdown.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';

/** A parsed snapshot, one typed array per column. Node and edge numbers are ordinals (0..count-1). */
export interface HeapSnapshot {
  readonly nodeCount: number;
  readonly edgeCount: number;
  /** The names of node types (meta `node_types[0]`): nodeType[i] indexes it. */
  readonly nodeTypes: readonly string[];
  /** The names of edge types (meta `edge_types[0]`): edgeType[e] indexes it. */
  readonly edgeTypes: readonly string[];
  readonly strings: readonly string[];
  readonly nodeType: Uint8Array;
  /** Index into `strings`. */
  readonly nodeName: Uint32Array;
  /** V8's object id (stable across snapshots of one process). */
  readonly nodeId: Uint32Array;
  readonly selfSize: Uint32Array;
  /** The edges of node i are firstEdge[i] .. firstEdge[i + 1] - 1 (nodeCount + 1 entries). */
  readonly firstEdge: Uint32Array;
  readonly edgeType: Uint8Array;
  /** An index for `element` and `hidden` edges, else an index into `strings`. */
  readonly edgeNameOrIndex: Uint32Array;
  /** The target's node ordinal. */
  readonly edgeTo: Uint32Array;
}

/** The dominator tree and retained sizes of a snapshot. */
export interface HeapAnalysis {
  /** Immediate dominator of each node; the root's is itself, an unreachable node's is -1. */
  readonly idom: Int32Array;
  /** Retained size of each node in bytes (an unreachable node retains only itself). */
  readonly retained: Float64Array;
  /** Nodes reachable from the root through non-weak edges. */
  readonly reachableCount: number;
  /** The class name of each node (see className()) as an index into `classNames`. */
  readonly nodeClass: Uint32Array;
  readonly classNames: readonly string[];
}

export interface Owner {
  owner: string;
  /** Called once per distinct class name; true when objects of that class belong to the owner. */
  match: (className: string) => boolean;
}

export interface OwnerShare {
  owner: string;
  /** Retained bytes of the topmost matching objects (one nested in another of the same owner counts once). */
  bytes: number;
  /** How many topmost matching objects there are. */
  count: number;
}

export interface ClassShare {
  className: string;
  count: number;
  /** Summed self sizes. */
  bytes: number;
}

export interface ObjectShare {
  className: string;
  /** V8 object id, to find the object again in DevTools. */
  id: number;
  retained: number;
  /**
   * Edge names from the nearest dominating object of a specific class (not a
   * plain Object, Array, Map or Set) down to this one, e.g. `PortPool.byKey.table`;
   * empty when no such dominator exists.
   */
  path: string;
}

export interface HeapBreakdown {
  /** Sum of the self sizes of every node in the snapshot. */
  totalBytes: number;
  nodeCount: number;
  /** Self sizes of the nodes that no non-weak path from the root reaches (garbage at snapshot time). */
  unreachableBytes: number;
  owners: OwnerShare[];
  /** Classes by summed self size, largest first. */
  topClasses: ClassShare[];
  /** Single objects (synthetic root nodes left out) by retained size, largest first. */
  topObjects: ObjectShare[];
}

// ---------------------------------------------------------------------------
// Reading the file

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Top-level values of the snapshot object, read straight from the bytes: the
 * two large integer arrays go into typed arrays without ever becoming a JS
 * string or an array of JS numbers (JSON.parse of the whole file would need the
 * file as one string, limited to ~512 MB, and 8 bytes a number); the small
 * `snapshot` header and the `strings` table go through JSON.parse. Scanning
 * bytes for `"` and `\` is safe in UTF-8: neither byte occurs inside a
 * multi-byte character.
 */
class SnapshotReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
  ) {}

  fail(what: string): never {
    throw new Error(`${this.file}: not a V8 heap snapshot (${what} at byte ${this.pos})`);
  }

  skipSpace(): void {
    const { buf } = this;
    while (this.pos < buf.length && isSpace(buf[this.pos]!)) this.pos++;
  }

  expect(c: number): void {
    this.skipSpace();
    if (this.buf[this.pos] !== c) this.fail(`expected '${String.fromCharCode(c)}'`);
    this.pos++;
  }

  /** True (and consumed) when the next non-space byte is c. */
  accept(c: number): boolean {
    this.skipSpace();
    if (this.buf[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  /** Moves past a JSON string starting at pos. */
  private skipString(): void {
    const { buf } = this;
    let i = this.pos + 1;
    for (;;) {
      if (i >= buf.length) this.fail('unterminated string');
      const c = buf[i]!;
      if (c === BACKSLASH) i += 2;
      else if (c === QUOTE) break;
      else i++;
    }
    this.pos = i + 1;
  }

  readKey(): string {
    this.skipSpace();
    if (this.buf[this.pos] !== QUOTE) this.fail('expected a key');
    const start = this.pos;
    this.skipString();
    return JSON.parse(this.buf.toString('utf8', start, this.pos)) as string;
  }

  /** Moves past any JSON value; returns where it started. */
  skipValue(): number {
    this.skipSpace();
    const { buf } = this;
    const start = this.pos;
    let depth = 0;
    for (;;) {
      if (this.pos >= buf.length) this.fail('unterminated value');
      const c = buf[this.pos]!;
      if (c === QUOTE) {
        this.skipString();
        if (depth === 0) return start;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) return start; // end of the enclosing object: an empty value
        depth--;
        if (depth === 0) {
          this.pos++;
          return start;
        }
      } else if (depth === 0 && (c === COMMA || isSpace(c))) return start; // end of a scalar
      this.pos++;
    }
  }

  /** JSON.parse of the next value, with a clear error when it cannot fit in a JS string. */
  parseValue(key: string): unknown {
    const start = this.skipValue();
    let text: string;
    try {
      text = this.buf.toString('utf8', start, this.pos);
    } catch {
      throw new Error(
        `${this.file}: the "${key}" part of the snapshot is ${this.pos - start} bytes, ` +
          `more than fits in one JavaScript string (${bufferConstants.MAX_STRING_LENGTH} characters)`,
      );
    }
    return JSON.parse(text);
  }

  /**
   * A JSON array of non-negative integers (each below 2^32) into a Uint32Array.
   * `expected` sizes it when the header gave the count; it grows otherwise.
   */
  readUint32Array(key: string, expected: number): Uint32Array {
    this.expect(OPEN_BRACKET);
    const { buf } = this;
    let out = new Uint32Array(Math.max(expected, 1024));
    let n = 0;
    let value = 0;
    let digits = 0;
    let i = this.pos;
    const len = buf.length;
    for (; i < len; i++) {
      const c = buf[i]!;
      if (c >= 0x30 && c <= 0x39) {
        value = value * 10 + (c - 0x30);
        digits++;
        continue;
      }
      if (c === COMMA || c === CLOSE_BRACKET) {
        if (digits === 0) {
          if (c === CLOSE_BRACKET && n === 0) break; // []
          this.pos = i;
          this.fail(`empty element in "${key}"`);
        }
        if (value > 0xffffffff) {
          this.pos = i;
          this.fail(`"${key}" holds ${value}, beyond 32 bits`);
        }
        if (n === out.length) {
          const bigger = new Uint32Array(out.length * 2);
          bigger.set(out);
          out = bigger;
        }
        out[n++] = value;
        value = 0;
        digits = 0;
        if (c === CLOSE_BRACKET) break;
        continue;
      }
      if (isSpace(c)) continue;
      this.pos = i;
      this.fail(`"${key}" holds something other than a non-negative integer`);
    }
    if (i >= len) this.fail(`unterminated "${key}"`);
    this.pos = i + 1;
    return n === out.length ? out : out.slice(0, n);
  }
}

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

interface SnapshotHeader {
  meta: SnapshotMeta;
  node_count?: number;
  edge_count?: number;
}

function readWholeFile(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > bufferConstants.MAX_LENGTH) {
      throw new Error(`${file}: ${size} bytes, more than one Buffer can hold (${bufferConstants.MAX_LENGTH})`);
    }
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    // readFileSync refuses files over 2 GiB; reading in pieces does not.
    while (off < size) {
      const got = readSync(fd, buf, off, Math.min(size - off, 1 << 30), off);
      if (got === 0) break;
      off += got;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Reads a `.heapsnapshot` file into typed arrays. Throws an Error naming the file when it is not one. */
export function parseHeapSnapshot(file: string): HeapSnapshot {
  const buf = readWholeFile(file);
  const r = new SnapshotReader(buf, file);
  let header: SnapshotHeader | undefined;
  let flatNodes: Uint32Array | undefined;
  let flatEdges: Uint32Array | undefined;
  let strings: unknown;
  r.expect(OPEN_BRACE);
  if (!r.accept(CLOSE_BRACE)) {
    do {
      const key = r.readKey();
      r.expect(COLON);
      if (key === 'snapshot') header = r.parseValue(key) as SnapshotHeader;
      else if (key === 'strings') strings = r.parseValue(key);
      else if (key === 'nodes' || key === 'edges') {
        const fields = key === 'nodes' ? header?.meta?.node_fields : header?.meta?.edge_fields;
        const count = key === 'nodes' ? header?.node_count : header?.edge_count;
        const expected = Array.isArray(fields) && typeof count === 'number' ? fields.length * count : 0;
        if (key === 'nodes') flatNodes = r.readUint32Array(key, expected);
        else flatEdges = r.readUint32Array(key, expected);
      } else r.skipValue();
    } while (r.accept(COMMA));
    r.expect(CLOSE_BRACE);
  }
  if (!header?.meta || !flatNodes || !flatEdges || !Array.isArray(strings)) {
    throw new Error(`${file}: not a V8 heap snapshot (it lacks snapshot.meta, nodes, edges or strings)`);
  }
  return columns(file, header.meta, flatNodes, flatEdges, strings as string[]);
}

function fieldIndex(file: string, fields: unknown, name: string): number {
  const i = Array.isArray(fields) ? fields.indexOf(name) : -1;
  if (i < 0) throw new Error(`${file}: not a V8 heap snapshot (no "${name}" field in its meta)`);
  return i;
}

/** Splits the flat arrays into columns, checking that they agree with each other. */
function columns(file: string, meta: SnapshotMeta, flatNodes: Uint32Array, flatEdges: Uint32Array, strings: string[]): HeapSnapshot {
  const nodeFieldCount = meta.node_fields?.length ?? 0;
  const edgeFieldCount = meta.edge_fields?.length ?? 0;
  const typeField = fieldIndex(file, meta.node_fields, 'type');
  const nameField = fieldIndex(file, meta.node_fields, 'name');
  const idField = fieldIndex(file, meta.node_fields, 'id');
  const sizeField = fieldIndex(file, meta.node_fields, 'self_size');
  const edgeCountField = fieldIndex(file, meta.node_fields, 'edge_count');
  const edgeTypeField = fieldIndex(file, meta.edge_fields, 'type');
  const edgeNameField = fieldIndex(file, meta.edge_fields, 'name_or_index');
  const edgeToField = fieldIndex(file, meta.edge_fields, 'to_node');
  const nodeTypes = meta.node_types?.[0];
  const edgeTypes = meta.edge_types?.[0];
  if (!Array.isArray(nodeTypes) || !Array.isArray(edgeTypes) || nodeTypes.length > 255 || edgeTypes.length > 255) {
    throw new Error(`${file}: not a V8 heap snapshot (bad node_types or edge_types in its meta)`);
  }
  if (flatNodes.length % nodeFieldCount !== 0 || flatEdges.length % edgeFieldCount !== 0) {
    throw new Error(`${file}: not a V8 heap snapshot (nodes or edges length is not a multiple of its field count)`);
  }
  const nodeCount = flatNodes.length / nodeFieldCount;
  const edgeCount = flatEdges.length / edgeFieldCount;
  const bad = (what: string): never => {
    throw new Error(`${file}: inconsistent heap snapshot (${what})`);
  };

  const nodeType = new Uint8Array(nodeCount);
  const nodeName = new Uint32Array(nodeCount);
  const nodeId = new Uint32Array(nodeCount);
  const selfSize = new Uint32Array(nodeCount);
  const firstEdge = new Uint32Array(nodeCount + 1);
  let e = 0;
  for (let i = 0, b = 0; i < nodeCount; i++, b += nodeFieldCount) {
    const t = flatNodes[b + typeField]!;
    if (t >= nodeTypes.length) bad(`node ${i} has type ${t}`);
    nodeType[i] = t;
    const name = flatNodes[b + nameField]!;
    if (name >= strings.length) bad(`node ${i} has name ${name}`);
    nodeName[i] = name;
    nodeId[i] = flatNodes[b + idField]!;
    selfSize[i] = flatNodes[b + sizeField]!;
    firstEdge[i] = e;
    e += flatNodes[b + edgeCountField]!;
  }
  if (e !== edgeCount) bad(`nodes declare ${e} edges, edges holds ${edgeCount}`);
  firstEdge[nodeCount] = e;

  const elementType = edgeTypes.indexOf('element');
  const hiddenType = edgeTypes.indexOf('hidden');
  const edgeType = new Uint8Array(edgeCount);
  const edgeNameOrIndex = new Uint32Array(edgeCount);
  const edgeTo = new Uint32Array(edgeCount);
  const nodesLength = flatNodes.length;
  for (let k = 0, b = 0; k < edgeCount; k++, b += edgeFieldCount) {
    const t = flatEdges[b + edgeTypeField]!;
    if (t >= edgeTypes.length) bad(`edge ${k} has type ${t}`);
    edgeType[k] = t;
    const name = flatEdges[b + edgeNameField]!;
    if (t !== elementType && t !== hiddenType && name >= strings.length) bad(`edge ${k} has name ${name}`);
    edgeNameOrIndex[k] = name;
    const to = flatEdges[b + edgeToField]!;
    if (to % nodeFieldCount !== 0 || to >= nodesLength) bad(`edge ${k} points at offset ${to}`);
    edgeTo[k] = to / nodeFieldCount;
  }
  return {
    nodeCount,
    edgeCount,
    nodeTypes: nodeTypes as string[],
    edgeTypes: edgeTypes as string[],
    strings,
    nodeType,
    nodeName,
    nodeId,
    selfSize,
    firstEdge,
    edgeType,
    edgeNameOrIndex,
    edgeTo,
  };
}

// ---------------------------------------------------------------------------
// Dominators

/**
 * Immediate dominators over a graph in compressed form: the edges of node v
 * are firstEdge[v] .. firstEdge[v + 1] - 1, edge e leads to edgeTo[e], and an
 * edge with skip[e] set is ignored. Returns idom per node: the root's is the
 * root, a node the root does not reach gets -1.
 *
 * Lengauer and Tarjan, "A Fast Algorithm for Finding Dominators in a
 * Flowgraph" (ACM TOPLAS 1(1), 1979), in its simple form (path compression
 * without balancing, O(E log N)). The iterative algorithm of Cooper, Harvey
 * and Kennedy is shorter but can need as many passes as a list is long: a
 * doubly linked list reached from both ends (a queue with head and tail
 * pointers, common in a heap) settles one node per pass, and a 30,000-node
 * one took a minute.
 */
export function immediateDominators(
  nodeCount: number,
  firstEdge: ArrayLike<number>,
  edgeTo: ArrayLike<number>,
  root: number,
  skip?: ArrayLike<number>,
): Int32Array {
  // 1. Depth-first preorder numbers (iterative: a heap is far deeper than the call stack).
  //    Below, nodes are named by these numbers; the root is 0.
  const num = new Int32Array(nodeCount).fill(-1);
  const vertex = new Uint32Array(nodeCount); // preorder number -> node
  const parent = new Int32Array(nodeCount); // preorder number -> parent's number in the search tree
  const stackNode = new Uint32Array(nodeCount);
  const stackEdge = new Uint32Array(nodeCount);
  let count = 0;
  let top = 0;
  stackNode[0] = root;
  stackEdge[0] = firstEdge[root]!;
  num[root] = count;
  vertex[count] = root;
  parent[count++] = -1;
  while (top >= 0) {
    const v = stackNode[top]!;
    const end = firstEdge[v + 1]!;
    let e = stackEdge[top]!;
    let pushed = false;
    while (e < end && !pushed) {
      const t = edgeTo[e]!;
      const skipped = skip !== undefined && skip[e] !== 0;
      e++;
      if (!skipped && num[t]! < 0) {
        num[t] = count;
        vertex[count] = t;
        parent[count++] = num[v]!;
        stackEdge[top] = e;
        top++;
        stackNode[top] = t;
        stackEdge[top] = firstEdge[t]!;
        pushed = true;
      }
    }
    if (!pushed) top--;
  }

  // 2. Predecessors of each reachable node, by preorder number, compressed like the edges.
  const predStart = new Uint32Array(count + 1);
  for (let w = 0; w < count; w++) {
    const v = vertex[w]!;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      if (skip !== undefined && skip[e] !== 0) continue;
      const t = num[edgeTo[e]!]!;
      if (t >= 0) predStart[t + 1]!++;
    }
  }
  for (let i = 0; i < count; i++) predStart[i + 1]! += predStart[i]!;
  const preds = new Uint32Array(predStart[count]!);
  const fill = predStart.slice(0, count);
  for (let w = 0; w < count; w++) {
    const v = vertex[w]!;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      if (skip !== undefined && skip[e] !== 0) continue;
      const t = num[edgeTo[e]!]!;
      if (t >= 0) preds[fill[t]!++] = w;
    }
  }

  // 3. Semidominators in reverse preorder, with a forest (ancestor, label) linked as nodes are
  //    done; eval(v) gives the node of least semidominator on the forest path above v.
  const semi = new Int32Array(count);
  const label = new Int32Array(count);
  const ancestor = new Int32Array(count).fill(-1);
  const dom = new Int32Array(count);
  const bucketHead = new Int32Array(count).fill(-1);
  const bucketNext = new Int32Array(count);
  const path = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    semi[i] = i;
    label[i] = i;
  }
  const evaluate = (v: number): number => {
    if (ancestor[v] === -1) return v;
    // Path compression, iteratively: collect the path while the ancestor has an ancestor, then
    // fold labels down from the top.
    let n = 0;
    for (let x = v; ancestor[ancestor[x]!] !== -1; x = ancestor[x]!) path[n++] = x;
    while (n > 0) {
      const x = path[--n]!;
      const a = ancestor[x]!;
      if (semi[label[a]!]! < semi[label[x]!]!) label[x] = label[a]!;
      ancestor[x] = ancestor[a]!;
    }
    return label[v]!;
  };
  for (let w = count - 1; w > 0; w--) {
    let s = semi[w]!;
    for (let k = predStart[w]!, end = predStart[w + 1]!; k < end; k++) {
      const u = semi[evaluate(preds[k]!)]!;
      if (u < s) s = u;
    }
    semi[w] = s;
    bucketNext[w] = bucketHead[s]!;
    bucketHead[s] = w;
    const p = parent[w]!;
    ancestor[w] = p;
    // Every node whose semidominator is p: its idom is p, or the same as a node between.
    for (let v = bucketHead[p]!; v !== -1; v = bucketNext[v]!) {
      const u = evaluate(v);
      dom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucketHead[p] = -1;
  }
  // 4. Settle the deferred ones, in preorder so that dom[dom[w]] is final.
  dom[0] = 0;
  for (let w = 1; w < count; w++) if (dom[w] !== semi[w]) dom[w] = dom[dom[w]!]!;

  const idom = new Int32Array(nodeCount).fill(-1);
  for (let w = 0; w < count; w++) idom[vertex[w]!] = vertex[dom[w]!]!;
  return idom;
}

/** Immediate dominators of a graph given as [from, to] pairs over nodes 0..nodeCount-1 (see immediateDominators). */
export function dominatorsOf(nodeCount: number, edges: ReadonlyArray<readonly [number, number]>, root = 0): Int32Array {
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (const [from, to] of edges) {
    if (!(from >= 0 && from < nodeCount && to >= 0 && to < nodeCount)) throw new RangeError(`edge ${from} -> ${to} outside 0..${nodeCount - 1}`);
    firstEdge[from + 1]!++;
  }
  for (let i = 0; i < nodeCount; i++) firstEdge[i + 1]! += firstEdge[i]!;
  const edgeTo = new Uint32Array(edges.length);
  const fill = firstEdge.slice(0, nodeCount);
  for (const [from, to] of edges) edgeTo[fill[from]!++] = to;
  return immediateDominators(nodeCount, firstEdge, edgeTo, root);
}

// ---------------------------------------------------------------------------
// Analysis

/** Node types whose name is a class (or a bounded set of internal kinds); other types group under `(type)`. */
const NAMED_TYPES = new Set(['object', 'native', 'hidden', 'array', 'object shape', 'synthetic']);
const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);
/** Classes too generic to start a path from: the path goes on up to something more telling. */
const GENERIC_CLASSES = new Set(['Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet', '']);

const analyses = new WeakMap<HeapSnapshot, HeapAnalysis>();

/**
 * The class of a node as a human reads it: the constructor name for objects,
 * V8's own names for its internal kinds, `(string)`, `(closure)`, `(code)`
 * and so on for types whose names are contents (a string's text, a function's name).
 */
function classNamesOf(s: HeapSnapshot): { nodeClass: Uint32Array; classNames: string[] } {
  const classNames: string[] = [];
  const byName = new Map<string, number>();
  const idOf = (name: string): number => {
    let id = byName.get(name);
    if (id === undefined) {
      id = classNames.length;
      classNames.push(name);
      byName.set(name, id);
    }
    return id;
  };
  const typeClass = s.nodeTypes.map((t) => (NAMED_TYPES.has(t) ? -1 : idOf(STRING_TYPES.has(t) ? '(string)' : `(${t})`)));
  const nameClass = new Int32Array(s.strings.length).fill(-1);
  const nodeClass = new Uint32Array(s.nodeCount);
  for (let i = 0; i < s.nodeCount; i++) {
    const t = s.nodeType[i]!;
    const fixed = typeClass[t]!;
    if (fixed >= 0) {
      nodeClass[i] = fixed;
      continue;
    }
    const n = s.nodeName[i]!;
    let c = nameClass[n]!;
    if (c < 0) {
      const name = s.strings[n]!;
      if (name === '') c = idOf(`(${s.nodeTypes[t]})`);
      else c = nameClass[n] = idOf(name);
    }
    nodeClass[i] = c;
  }
  return { nodeClass, classNames };
}

/** Dominator tree, retained sizes and class names of a snapshot (computed once per snapshot object). */
export function analyzeHeap(s: HeapSnapshot): HeapAnalysis {
  const cached = analyses.get(s);
  if (cached) return cached;
  const weak = s.edgeTypes.indexOf('weak');
  const skip = new Uint8Array(s.edgeCount);
  if (weak >= 0) for (let e = 0; e < s.edgeCount; e++) if (s.edgeType[e] === weak) skip[e] = 1;
  const idom = immediateDominators(s.nodeCount, s.firstEdge, s.edgeTo, 0, skip);

  // A dominator always comes before the nodes it dominates in a depth-first preorder, so one pass
  // over the nodes in reverse preorder adds every subtree up. Preorder here: the order of a walk of
  // the dominator tree itself.
  const { childStart, children } = dominatorChildren(idom);
  const retained = new Float64Array(s.nodeCount);
  for (let i = 0; i < s.nodeCount; i++) retained[i] = s.selfSize[i]!;
  const pre = dominatorPreorder(childStart, children, 0);
  for (let k = pre.length - 1; k > 0; k--) {
    const v = pre[k]!;
    retained[idom[v]!]! += retained[v]!;
  }
  const { nodeClass, classNames } = classNamesOf(s);
  const analysis: HeapAnalysis = { idom, retained, reachableCount: pre.length, nodeClass, classNames };
  analyses.set(s, analysis);
  return analysis;
}

/** Children of each node in the dominator tree, compressed (root excluded from its own children). */
function dominatorChildren(idom: Int32Array): { childStart: Uint32Array; children: Uint32Array } {
  const n = idom.length;
  const childStart = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    const d = idom[v]!;
    if (d >= 0 && d !== v) childStart[d + 1]!++;
  }
  for (let i = 0; i < n; i++) childStart[i + 1]! += childStart[i]!;
  const children = new Uint32Array(childStart[n]!);
  const fill = childStart.slice(0, n);
  for (let v = 0; v < n; v++) {
    const d = idom[v]!;
    if (d >= 0 && d !== v) children[fill[d]!++] = v;
  }
  return { childStart, children };
}

function dominatorPreorder(childStart: Uint32Array, children: Uint32Array, root: number): Uint32Array {
  const out = new Uint32Array(children.length + 1);
  const stack = new Uint32Array(children.length + 1);
  let top = 0;
  let n = 0;
  stack[0] = root;
  while (top >= 0) {
    const v = stack[top--]!;
    out[n++] = v;
    for (let k = childStart[v + 1]! - 1; k >= childStart[v]!; k--) stack[++top] = children[k]!;
  }
  return out.subarray(0, n);
}

/** `.name`, `[3]` and so on: how an edge reads in a path. */
function edgeLabel(s: HeapSnapshot, e: number): string {
  const type = s.edgeTypes[s.edgeType[e]!];
  const v = s.edgeNameOrIndex[e]!;
  if (type === 'element') return `[${v}]`;
  if (type === 'hidden') return `[#${v}]`;
  const name = s.strings[v]!;
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)}]`;
}

/** Parent edge of each node in a breadth-first walk from the root over retaining edges (-1: none). */
function shortestPathParents(s: HeapSnapshot): Int32Array {
  const weak = s.edgeTypes.indexOf('weak');
  const parent = new Int32Array(s.nodeCount).fill(-1);
  const seen = new Uint8Array(s.nodeCount);
  const queue = new Uint32Array(s.nodeCount);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const v = queue[head++]!;
    for (let e = s.firstEdge[v]!, end = s.firstEdge[v + 1]!; e < end; e++) {
      if (s.edgeType[e] === weak) continue;
      const t = s.edgeTo[e]!;
      if (seen[t] === 0) {
        seen[t] = 1;
        parent[t] = e;
        queue[tail++] = t;
      }
    }
  }
  return parent;
}

/** Edge index -> source node, for the few edges a path needs (binary search over firstEdge). */
function edgeSource(s: HeapSnapshot, e: number): number {
  let lo = 0;
  let hi = s.nodeCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (s.firstEdge[mid]! <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The path to v from its nearest dominator of a specific class, or from the
 * root's child when there is none. Every path from the root to v passes
 * through all of v's dominators, the shortest one included, so walking that
 * path back from v meets them.
 */
function pathFromNamedDominator(s: HeapSnapshot, a: HeapAnalysis, parent: Int32Array, v: number): string {
  const dominators = new Set<number>();
  for (let d = a.idom[v]!; d > 0 && !dominators.has(d); d = a.idom[d]!) dominators.add(d);
  const objectType = s.nodeTypes.indexOf('object');
  const synthetic = s.nodeTypes.indexOf('synthetic');
  const labels: string[] = [];
  let u = v;
  for (;;) {
    const e = parent[u]!;
    if (e < 0) return ''; // v is the root or unreachable
    const from = edgeSource(s, e);
    if (from === 0) break; // u hangs off the root: start the path at u
    labels.push(edgeLabel(s, e));
    u = from;
    if (s.nodeType[u] === synthetic) break; // a group of GC roots, e.g. (Global handles)
    if (dominators.has(u) && s.nodeType[u] === objectType && !GENERIC_CLASSES.has(a.classNames[a.nodeClass[u]!]!)) break;
  }
  if (u === v) return '';
  labels.reverse();
  const shown = labels.length > 8 ? [...labels.slice(0, 4), '…', ...labels.slice(-3)] : labels;
  return a.classNames[a.nodeClass[u]!] + shown.join('');
}

/**
 * Bytes by owner, class and object. An owner's share is the retained size of
 * its topmost objects: walking the dominator tree down from the root, an
 * object of the owner counts with everything it retains, and nothing below it
 * counts for that owner again.
 */
export function breakdown(s: HeapSnapshot, owners: readonly Owner[], top = 25): HeapBreakdown {
  if (owners.length > 32) throw new RangeError(`at most 32 owners, got ${owners.length}`);
  const a = analyzeHeap(s);
  const objectType = s.nodeTypes.indexOf('object');

  // Owner bits per class, asking each owner once per class name.
  const classMask = new Uint32Array(a.classNames.length);
  a.classNames.forEach((name, c) => {
    let m = 0;
    owners.forEach((o, k) => {
      if (o.match(name)) m |= 1 << k;
    });
    classMask[c] = m;
  });
  const bytes = new Float64Array(owners.length);
  const counts = new Float64Array(owners.length);
  const { childStart, children } = dominatorChildren(a.idom);
  const stackNode = new Uint32Array(children.length + 1);
  const stackMask = new Uint32Array(children.length + 1); // owners already counted above the node
  let sp = 0;
  stackNode[0] = 0;
  stackMask[0] = 0;
  while (sp >= 0) {
    const v = stackNode[sp]!;
    const above = stackMask[sp--]!;
    const own = s.nodeType[v] === objectType ? classMask[a.nodeClass[v]!]! : 0;
    const fresh = own & ~above;
    if (fresh !== 0) {
      for (let k = 0; k < owners.length; k++) {
        if ((fresh >>> k) & 1) {
          bytes[k]! += a.retained[v]!;
          counts[k]!++;
        }
      }
    }
    const below = (above | own) >>> 0;
    for (let k = childStart[v]!; k < childStart[v + 1]!; k++) {
      stackNode[++sp] = children[k]!;
      stackMask[sp] = below;
    }
  }

  // Classes by self size.
  const classBytes = new Float64Array(a.classNames.length);
  const classCount = new Float64Array(a.classNames.length);
  let total = 0;
  let unreachable = 0;
  for (let i = 0; i < s.nodeCount; i++) {
    const size = s.selfSize[i]!;
    total += size;
    if (a.idom[i] === -1) unreachable += size;
    classBytes[a.nodeClass[i]!]! += size;
    classCount[a.nodeClass[i]!]!++;
  }
  const topClasses = [...a.classNames.keys()]
    .sort((x, y) => classBytes[y]! - classBytes[x]! || classCount[y]! - classCount[x]!)
    .slice(0, top)
    .map((c) => ({ className: a.classNames[c]!, count: classCount[c]!, bytes: classBytes[c]! }));

  // Objects by retained size: a bounded selection over all reachable, non-synthetic nodes.
  const synthetic = s.nodeTypes.indexOf('synthetic');
  const best: number[] = [];
  for (let i = 0; i < s.nodeCount; i++) {
    if (a.idom[i] === -1 || s.nodeType[i] === synthetic) continue;
    const r = a.retained[i]!;
    if (best.length === top && r <= a.retained[best[top - 1]!]!) continue;
    let k = best.length === top ? top - 1 : best.length;
    while (k > 0 && a.retained[best[k - 1]!]! < r) {
      best[k] = best[k - 1]!;
      k--;
    }
    best[k] = i;
  }
  const parent = shortestPathParents(s);
  const topObjects = best.map((i) => ({
    className: a.classNames[a.nodeClass[i]!]!,
    id: s.nodeId[i]!,
    retained: a.retained[i]!,
    path: pathFromNamedDominator(s, a, parent, i),
  }));

  return {
    totalBytes: total,
    nodeCount: s.nodeCount,
    unreachableBytes: unreachable,
    owners: owners.map((o, k) => ({ owner: o.owner, bytes: bytes[k]!, count: counts[k]! })),
    topClasses,
    topObjects,
  };
}

// ---------------------------------------------------------------------------
// Printing and the command line

function kib(n: number): string {
  return (n / 1024).toFixed(1);
}

function table(head: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** The breakdown as plain-text tables (KiB and percent of the heap). */
export function formatBreakdown(b: HeapBreakdown): string {
  const pct = (n: number): string => (b.totalBytes > 0 ? ((100 * n) / b.totalBytes).toFixed(1) : '0.0');
  const out: string[] = [];
  out.push(
    `heap: ${(b.totalBytes / 1048576).toFixed(2)} MiB in ${b.nodeCount} nodes` +
      (b.unreachableBytes > 0 ? ` (${kib(b.unreachableBytes)} KiB unreachable)` : ''),
  );
  if (b.owners.length > 0) {
    out.push('', 'by owner (retained by the topmost objects of its classes)');
    out.push(
      table(
        ['owner', 'objects', 'KiB', '% heap'],
        b.owners.map((o) => [o.owner, String(o.count), kib(o.bytes), pct(o.bytes)]),
        [false, true, true, true],
      ),
    );
  }
  out.push('', 'classes by self size');
  out.push(
    table(
      ['class', 'objects', 'KiB', '% heap'],
      b.topClasses.map((c) => [c.className.slice(0, 60), String(c.count), kib(c.bytes), pct(c.bytes)]),
      [false, true, true, true],
    ),
  );
  out.push('', 'objects by retained size');
  out.push(
    table(
      ['class', 'id', 'KiB', '% heap', 'path'],
      b.topObjects.map((o) => [o.className.slice(0, 40), `@${o.id}`, kib(o.retained), pct(o.retained), o.path]),
      [false, true, true, true, false],
    ),
  );
  return out.join('\n');
}

const USAGE = 'usage: heap-snapshot <file.heapsnapshot> [--owner Name=ClassA,ClassB ...] [--top N]';

/** Parses `Name=ClassA,ClassB` into an owner matching exactly those class names. */
export function ownerFromSpec(spec: string): Owner {
  const eq = spec.indexOf('=');
  const owner = eq >= 0 ? spec.slice(0, eq) : spec;
  const classes = eq >= 0 ? spec.slice(eq + 1).split(',').filter((c) => c !== '') : [owner];
  if (owner === '' || classes.length === 0) throw new Error(`--owner ${JSON.stringify(spec)}: expected Name=ClassA,ClassB`);
  const set = new Set(classes);
  return { owner, match: (c) => set.has(c) };
}

function main(argv: string[]): number {
  let file: string | undefined;
  let top = 25;
  const owners: Owner[] = [];
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      const eq = arg.indexOf('=');
      const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
      const value = (): string => {
        const v = flag !== arg ? arg.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new Error(`${flag}: missing value`);
        return v;
      };
      if (flag === '--owner') owners.push(ownerFromSpec(value()));
      else if (flag === '--top') {
        const v = value();
        top = Number(v);
        if (!Number.isInteger(top) || top < 1) throw new Error(`--top ${JSON.stringify(v)}: expected a positive integer`);
      } else if (arg === '-h' || arg === '--help') {
        process.stdout.write(`${USAGE}\n`);
        return 0;
      } else if (arg.startsWith('-')) throw new Error(`${arg}: unknown flag; ${USAGE}`);
      else if (file === undefined) file = arg;
      else throw new Error(`${arg}: one snapshot file at a time; ${USAGE}`);
    }
    if (file === undefined) throw new Error(USAGE);
  } catch (err) {
    process.stderr.write(`heap-snapshot: ${(err as Error).message}\n`);
    return 2;
  }
  const t0 = process.hrtime.bigint();
  let result: HeapBreakdown;
  try {
    result = breakdown(parseHeapSnapshot(file), owners, top);
  } catch (err) {
    process.stderr.write(`heap-snapshot: ${(err as Error).message}\n`);
    return 2;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${formatBreakdown(result)}\n\nanalyzed in ${(ms / 1000).toFixed(2)} s\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

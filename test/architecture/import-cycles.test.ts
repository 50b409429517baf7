/**
 * No import cycles, between files or between src/ folders: data flows one way (procfs ->
 * discovery and process sampling -> probes -> caches -> metric contract -> export), and a
 * cycle is where that stops being true. Every import counts, `import type` too: a type-only
 * import costs nothing at run time, but it still ties the importer to the other module's
 * shape, which is the coupling this test is about.
 *
 * The graph comes from the TypeScript sources (ts.preProcessFile lists every import, export
 * ... from and import() of a file), relative specifiers resolved to files under src/. A
 * folder node is a directory directly under src/ (src/process/); a file directly in src/
 * (src/daemon.ts) is a node of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { REPO_ROOT } from '../helpers/pipelines';

/**
 * Cycles allowed to exist, each as its members (sorted, space-separated). Empty: issue 12
 * removed the last ones (status-page.ts took the whole Daemon; config/ built the process
 * namer from process/). Should one ever have to be listed, the test also fails once it is
 * gone, so the list can only shrink.
 */
const KNOWN_FILE_CYCLES: readonly string[] = [];
const KNOWN_FOLDER_CYCLES: readonly string[] = [];

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

/** Repo-relative file -> the repo-relative files under src/ it imports. */
export function importGraph(root: string): Graph {
  const srcDir = path.join(root, 'src');
  const files = sourceFiles(srcDir);
  const known = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const deps = new Set<string>();
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const base = path.resolve(path.dirname(file), spec);
      const target = [`${base}.ts`, path.join(base, 'index.ts'), base.replace(/\.js$/, '.ts')].find((c) => known.has(c));
      assert.ok(target, `${path.relative(root, file)} imports ${spec}, which is no file under src/`);
      deps.add(path.relative(root, target));
    }
    graph.set(path.relative(root, file), deps);
  }
  return graph;
}

/** src/process/x.ts -> src/process/; src/daemon.ts -> src/daemon.ts. */
export function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts.length > 2 ? `${parts.slice(0, 2).join('/')}/` : file;
}

export function folderGraph(files: Graph): Graph {
  const graph: Graph = new Map();
  for (const [file, deps] of files) {
    const from = folderOf(file);
    const set = graph.get(from) ?? new Set<string>();
    graph.set(from, set);
    for (const d of deps) if (folderOf(d) !== from) set.add(folderOf(d));
  }
  return graph;
}

/** Strongly connected components with more than one node, or with an edge to itself (Tarjan). */
export function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One concrete loop through the first member of a cycle, for the failure message: a -> b -> a. */
export function loopThrough(graph: Graph, members: readonly string[]): string {
  const inside = new Set(members);
  const start = members[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const loop = [start];
        for (let u = v; u !== start; u = prev.get(u)!) loop.unshift(u);
        return [start, ...loop].join(' -> ');
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return members.join(' -> ');
}

function check(kind: string, graph: Graph, known: readonly string[]): void {
  const found = cycles(graph);
  const keys = found.map((c) => c.join(' '));
  const fresh = found.filter((c) => !known.includes(c.join(' ')));
  const gone = known.filter((k) => !keys.includes(k));
  const problems = [
    ...fresh.map((c) => `new ${kind} cycle: ${loopThrough(graph, c)}\n  (members: ${c.join(' ')})`),
    ...gone.map((k) => `the known ${kind} cycle "${k}" is gone: delete it from the list in this test`),
  ];
  assert.deepEqual(problems, [], problems.join('\n'));
}

const graph = importGraph(REPO_ROOT);

test('no import cycle between files under src/ (other than the listed ones being removed)', () => {
  assert.ok(graph.size > 20, `only ${graph.size} files found under src/`);
  check('file', graph, KNOWN_FILE_CYCLES);
});

test('no import cycle between src/ folders (other than the listed ones being removed)', () => {
  check('folder', folderGraph(graph), KNOWN_FOLDER_CYCLES);
});

/**
 * Golden files: a checked-in expected output, compared line for line, with a unified diff
 * on mismatch. `UPDATE_GOLDEN=1 npm test` writes the actual output instead (review the
 * change with `git diff` before committing it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Edit script from `a` to `b` by longest common subsequence (pages here are hundreds of lines). */
function editScript(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i * (m + 1) + j]: length of the LCS of a[i..] and b[j..]
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(lcs[(i + 1) * (m + 1) + j]!, lcs[i * (m + 1) + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * (m + 1) + j]! >= lcs[i * (m + 1) + j + 1]!)) {
      ops.push({ kind: '-', line: a[i++]! }); // removals first, as diff -u prints a changed line
    } else {
      ops.push({ kind: '+', line: b[j++]! });
    }
  }
  return ops;
}

/** A unified diff (as `diff -u` prints it, `context` lines around each change); '' when equal. */
export function unifiedDiff(expected: string, actual: string, expectedName: string, actualName: string, context = 3): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const ops = editScript(a, b);
  const changed = ops.map((o, k) => (o.kind === ' ' ? -1 : k)).filter((k) => k >= 0);
  if (changed.length === 0) return '';
  const out = [`--- ${expectedName}`, `+++ ${actualName}`];
  // line numbers before each op, in a and in b
  const at: { ai: number; bi: number }[] = [];
  let ai = 1;
  let bi = 1;
  for (const o of ops) {
    at.push({ ai, bi });
    if (o.kind !== '+') ai++;
    if (o.kind !== '-') bi++;
  }
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k]! - context);
    let end = Math.min(ops.length, changed[k]! + context + 1);
    while (k + 1 < changed.length && changed[k + 1]! - context <= end) {
      k++;
      end = Math.min(ops.length, changed[k]! + context + 1);
    }
    k++;
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    const aStart = aLen === 0 ? at[start]!.ai - 1 : at[start]!.ai;
    const bStart = bLen === 0 ? at[start]!.bi - 1 : at[start]!.bi;
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
  }
  return out.join('\n');
}

/**
 * Compares `actual` with the golden file (or, with UPDATE_GOLDEN=1, writes it). Returns the
 * diff, '' when they match; the caller fails with it as the message.
 */
export function checkGolden(file: string, actual: string): string {
  if (UPDATE_GOLDEN) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
    return '';
  }
  const name = path.relative(process.cwd(), file);
  if (!fs.existsSync(file)) return `${name} does not exist: run UPDATE_GOLDEN=1 npm test to write it`;
  const diff = unifiedDiff(fs.readFileSync(file, 'utf8'), actual, `${name} (golden)`, 'actual');
  return diff === '' ? '' : `${diff}\n\nIf the change is intended: UPDATE_GOLDEN=1 npm test, then review git diff ${path.basename(file)}`;
}

/**
 * The targets of issue 11 as `npm run bench` and `npm run soak` print them:
 * one line each, `target <name>: <measured> (target <bound>) PASS|FAIL`, and
 * the small statistics they are computed with. A figure that could not be
 * measured (NaN) is a FAIL that says so, never a silent pass.
 */

export interface Target {
  name: string;
  /** The figure as printed, with its unit. */
  measured: string;
  /** The bound as printed, e.g. `≤ 80 MiB`. */
  bound: string;
  pass: boolean;
}

export function targetLine(t: Target): string {
  return `target ${t.name}: ${t.measured} (target ${t.bound}) ${t.pass ? 'PASS' : 'FAIL'}`;
}

export const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

function show(value: number, unit: string, digits: number): string {
  return Number.isFinite(value) ? `${round(value, digits)}${unit}` : 'not measured';
}

/** value ≤ bound. `unit` is appended as written (include its leading space, e.g. ' MiB'). */
export function atMost(name: string, value: number, bound: number, unit: string, digits = 2): Target {
  return { name, measured: show(value, unit, digits), bound: `≤ ${bound}${unit}`, pass: Number.isFinite(value) && value <= bound };
}

/** value < bound. */
export function below(name: string, value: number, bound: number, unit: string, digits = 2): Target {
  return { name, measured: show(value, unit, digits), bound: `< ${bound}${unit}`, pass: Number.isFinite(value) && value < bound };
}

/** The element at rank floor(q·n) of the sorted values (the convention of every bench here); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/**
 * "Steady" figures of a series sampled over a run: the median of its last
 * half (the first half holds start-up and the first samples and sweeps), and
 * the maximum over the whole run.
 */
export function steady(xs: readonly number[]): { median: number; max: number } {
  return { median: median(xs.slice(Math.floor(xs.length / 2))), max: xs.length > 0 ? Math.max(...xs) : NaN };
}

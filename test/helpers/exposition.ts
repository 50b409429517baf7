/**
 * A strict-enough parser of the Prometheus text format for assertions:
 * families with HELP/TYPE, samples with labels (escapes decoded).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  helps: Map<string, string>;
}

function unescape(v: string): string {
  return v.replace(/\\(n|\\|")/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      helps.set(rest.slice(0, sp), rest.slice(sp + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    // `s`: a label value may hold a raw carriage return (only \n is escaped in the text format)
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)(?: \d+)?$/s.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(m[3] ?? '')) !== null) labels[lm[1]!] = unescape(lm[2]!);
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return { samples, types, helps };
}

/** Samples of `name` whose labels include all of `match`. */
export function find(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The single value of `name{match}`, or undefined when absent. Throws when ambiguous. */
export function value(e: Exposition, name: string, match: Record<string, string> = {}): number | undefined {
  const found = find(e, name, match);
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(match)}`);
  return found[0]?.value;
}

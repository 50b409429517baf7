/**
 * The subset of Go text/template that process-exporter group names use:
 * literal text and `{{.Field}}` actions over a fixed set of fields, with
 * `{{- ` / ` -}}` whitespace trimming and `{{/* comments * /}}`. Values print
 * the way Go prints them, so a name comes out byte-for-byte as
 * process-exporter 0.7.10 renders it (checked against the Debian binary):
 *
 *   {{.Comm}} {{.ExeBase}} {{.ExeFull}} {{.Username}}  strings
 *   {{.PID}}                                          decimal
 *   {{.StartTime}}        `2026-11-22 00:53:39.83 +0000 UTC` (Go time.Time String(), UTC)
 *   {{.StartTime.Unix}}   whole seconds since the epoch
 *   {{.Cgroups}}          `[/a /b]` (Go prints a []string that way)
 *   {{.Matches}}          `map[k:v n:7]`, keys sorted
 *   {{.Matches.X}}        the named capture X, or `<no value>` when there is none
 *
 * A field 0.7.10 does not know (`{{.Cwd}}`, a typo) makes Go stop rendering
 * at that action and keep what was written so far; we render the same
 * truncated name and report the action as a warning when the file is loaded.
 * Pipelines, functions and control structures are refused at load time.
 */

export class TemplateError extends Error {}

export interface TemplateParams {
  comm: string;
  exeBase: string;
  exeFull: string;
  username: string;
  pid: number;
  /** Start time in milliseconds since the epoch (10 ms resolution: USER_HZ ticks). */
  startTimeMs: number;
  cgroups: readonly string[];
  matches: ReadonlyMap<string, string>;
}

type Field =
  | { kind: 'comm' | 'exeBase' | 'exeFull' | 'username' | 'pid' | 'startTime' | 'startTimeUnix' | 'cgroups' | 'matchesAll' }
  | { kind: 'match'; key: string }
  /** A field Go cannot evaluate: rendering stops here. */
  | { kind: 'invalid'; action: string };

type Part = string | Field;

export interface CompiledTemplate {
  readonly source: string;
  readonly parts: readonly Part[];
  /** Actions Go would fail to evaluate (rendering stops at the first), for a load-time warning. */
  readonly invalidActions: readonly string[];
  /** Which inputs the template reads, so the sampler reads only those for new processes. */
  readonly uses: { cmdline: boolean; username: boolean; cgroups: boolean; matches: boolean };
}

const SIMPLE: Record<string, Field['kind']> = {
  Comm: 'comm',
  ExeBase: 'exeBase',
  ExeFull: 'exeFull',
  Username: 'username',
  PID: 'pid',
  StartTime: 'startTime',
  Cgroups: 'cgroups',
  Matches: 'matchesAll',
};

function parseField(action: string): Field {
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(action)) {
    if (action === '.') throw new TemplateError('{{.}} prints the whole parameter struct; name a field such as {{.Comm}}');
    throw new TemplateError(`unsupported template action {{${action}}}: only fields such as {{.Comm}} or {{.Matches.name}} are supported`);
  }
  const path = action.slice(1).split('.');
  const head = path[0]!;
  if (head === 'Matches' && path.length === 2) return { kind: 'match', key: path[1]! };
  if (head === 'StartTime' && path.length === 2 && path[1] === 'Unix') return { kind: 'startTimeUnix' };
  const kind = SIMPLE[head];
  if (kind !== undefined && path.length === 1) return { kind } as Field;
  return { kind: 'invalid', action: `{{${action}}}` };
}

/** Parses a Go template; throws TemplateError for syntax Go would reject or we do not support. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  let i = 0;
  let text = '';
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      text += source.slice(i);
      break;
    }
    let literal = source.slice(i, open);
    let start = open + 2;
    if (source.startsWith('- ', start) || source.startsWith('-\t', start) || source.startsWith('-\n', start)) {
      literal = literal.replace(/[ \t\r\n]+$/, '');
      start += 1;
    }
    text += literal;
    const close = source.indexOf('}}', start);
    if (close < 0) throw new TemplateError(`unclosed action in ${JSON.stringify(source)}`);
    let end = close;
    let trimAfter = false;
    if (end - 1 >= start && source[end - 1] === '-' && /[ \t\r\n]/.test(source[end - 2] ?? '')) {
      trimAfter = true;
      end -= 1;
    }
    const action = source.slice(start, end).trim();
    i = close + 2;
    if (trimAfter) {
      const m = /^[ \t\r\n]*/.exec(source.slice(i));
      i += m ? m[0].length : 0;
    }
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) throw new TemplateError(`unclosed comment in ${JSON.stringify(source)}`);
      continue;
    }
    if (action === '') throw new TemplateError(`missing value for command in ${JSON.stringify(source)}`);
    if (text !== '') parts.push(text);
    text = '';
    parts.push(parseField(action));
  }
  if (text !== '') parts.push(text);
  const fields = parts.filter((p): p is Field => typeof p !== 'string');
  const has = (...kinds: Array<Field['kind']>): boolean => fields.some((f) => kinds.includes(f.kind));
  return {
    source,
    parts,
    invalidActions: fields.flatMap((f) => (f.kind === 'invalid' ? [f.action] : [])),
    uses: {
      cmdline: has('exeBase', 'exeFull', 'match', 'matchesAll'),
      username: has('username'),
      cgroups: has('cgroups'),
      matches: has('match', 'matchesAll'),
    },
  };
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Go's time.Time.String() for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`, trailing zeros of the fraction dropped. */
export function goTimeString(ms: number): string {
  const d = new Date(Math.floor(ms));
  let frac = '';
  const sub = Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6); // nanoseconds within the second
  if (sub > 0) frac = '.' + String(sub).padStart(9, '0').replace(/0+$/, '');
  return (
    `${String(d.getUTCFullYear()).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}${frac} +0000 UTC`
  );
}

/** Go's fmt rendering of map[string]string: keys sorted, `map[k:v k2:v2]`. */
function goMapString(m: ReadonlyMap<string, string>): string {
  const keys = [...m.keys()].sort();
  return `map[${keys.map((k) => `${k}:${m.get(k)}`).join(' ')}]`;
}

export function renderTemplate(t: CompiledTemplate, p: TemplateParams): string {
  let out = '';
  for (const part of t.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    switch (part.kind) {
      case 'comm':
        out += p.comm;
        break;
      case 'exeBase':
        out += p.exeBase;
        break;
      case 'exeFull':
        out += p.exeFull;
        break;
      case 'username':
        out += p.username;
        break;
      case 'pid':
        out += String(p.pid);
        break;
      case 'startTime':
        out += goTimeString(p.startTimeMs);
        break;
      case 'startTimeUnix':
        out += String(Math.floor(p.startTimeMs / 1000));
        break;
      case 'cgroups':
        out += `[${p.cgroups.join(' ')}]`;
        break;
      case 'matchesAll':
        out += goMapString(p.matches);
        break;
      case 'match':
        out += p.matches.get(part.key) ?? '<no value>';
        break;
      case 'invalid':
        // Go stops executing at the failing action; process-exporter keeps the partial output
        return out;
    }
  }
  return out;
}

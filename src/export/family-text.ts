/**
 * One producer family's Prometheus text (format 0.0.4), written straight
 * into a Buffer, byte for byte what the SDK's PrometheusSerializer prints for
 * that family alone (no target_info, no otel_scope_* labels, no timestamps):
 *
 *     # HELP <name> <description>
 *     # UNIT <name> <unit>          (only when the descriptor has a unit)
 *     # TYPE <name> <type>
 *     <name>{<label>="<value>",...} <value>
 *
 * The SDK's serializer builds the whole family as one string (Object.entries
 * per point, a template per label, then trim and join): at 1,000 processes
 * that was about 15 MB of garbage for 2.5 MB of text each sample, much of it
 * long enough alive to reach V8's old generation. Here each line is a short
 * string written into a scratch buffer at once, and the family is copied out
 * at its exact size. test/export/family-text.test.ts holds the two
 * serializers to the same bytes on live pages and on odd values.
 *
 * Sums and gauges only: the producer has no histogram family, and a family
 * of another point type throws rather than be written wrongly.
 */
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';

/** Names and label names as the SDK sanitizes them: any character outside [a-zA-Z0-9_] becomes `_`, runs of `_` one. */
function sanitize(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

/** HELP and UNIT text: backslash and newline escaped. */
function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value: backslash, newline and double quote escaped; a value that is not a string is written as JSON first. */
function labelValue(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
  return NEEDS_ESCAPE.test(s) ? escapeText(s).replace(/"/g, '\\"') : s;
}

function valueText(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`;
}

/** `<label>="` for each label name seen, sanitized once. */
const labelPrefixes = new Map<string, string>();

function labelPrefix(key: string): string {
  let p = labelPrefixes.get(key);
  if (p === undefined) {
    p = `${sanitize(key)}="`;
    labelPrefixes.set(key, p);
  }
  return p;
}

/**
 * The buffer lines are written into. Most families fit the 64 KiB one kept
 * for good; a larger buffer, grown for one big family, is dropped once that
 * family is copied out (kept, the largest family's buffer, 0.5 MiB at 1,000
 * processes, stayed in the heap for nothing between samples).
 */
const KEPT = Buffer.allocUnsafeSlow(64 * 1024);
let scratch = KEPT;
let used = 0;

function write(s: string): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit
  if (used + s.length * 3 > scratch.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, used + s.length * 3));
    scratch.copy(bigger, 0, 0, used);
    scratch = bigger;
  }
  used += scratch.write(s, used, 'utf8');
}

/** The family's name as the SDK exposes it; '' when it has none (the SDK then skips the family). */
function exposedName(m: MetricData): string {
  let name = sanitize(escapeText(m.descriptor.name));
  if (name === '' || name === '_') return '';
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  const counter = m.dataPointType === DataPointType.SUM && m.isMonotonic;
  if (counter && !name.endsWith('_total')) name += '_total';
  return name;
}

/** The Prometheus text of one sum or gauge family, ending in a newline; an empty buffer for a name the SDK would skip. */
export function familyText(m: MetricData): Buffer {
  if (m.dataPointType !== DataPointType.SUM && m.dataPointType !== DataPointType.GAUGE) {
    throw new Error(`familyText: ${m.descriptor.name} has data point type ${m.dataPointType}, not a sum or a gauge`);
  }
  const name = exposedName(m);
  if (name === '') return Buffer.alloc(0);
  const type = m.dataPointType === DataPointType.SUM && m.isMonotonic ? 'counter' : 'gauge';
  used = 0;
  let head = `# HELP ${name} ${escapeText(m.descriptor.description || 'description missing')}`;
  if (m.descriptor.unit) head += `\n# UNIT ${name} ${escapeText(m.descriptor.unit)}`;
  head += `\n# TYPE ${name} ${type}`;
  write(head);
  const open = `\n${name}{`;
  for (const p of m.dataPoints) {
    let line = '';
    for (const key in p.attributes) line += `${line === '' ? open : ','}${labelPrefix(key)}${labelValue(p.attributes[key])}"`;
    write(`${line === '' ? `\n${name}` : `${line}}`} ${valueText(p.value)}`);
  }
  write('\n');
  const out = Buffer.allocUnsafeSlow(used);
  scratch.copy(out, 0, 0, used);
  scratch = KEPT;
  return out;
}

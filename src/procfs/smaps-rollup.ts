/**
 * Parser for /proc/<pid>/smaps_rollup (Linux 4.14+): the sums of every
 * mapping's smaps fields, in kB, normalised to bytes here.
 *
 * Reading it makes the kernel walk the whole address space under the mm lock
 * (expensive for huge processes, process-exporter #246), so the sampler reads
 * it only with --gather-smaps. Needs ptrace access (EACCES otherwise); a
 * process without an mm (zombie) answers ESRCH.
 */
import type { ProcFs } from './proc-fs';

export interface SmapsRollup {
  /** `Rss`: resident bytes. */
  rssBytes: number;
  /** `Pss`: proportional set size; each shared page divided by the number of processes mapping it. */
  pssBytes: number;
  /** `Swap`: swapped-out anonymous bytes. */
  swapBytes: number;
  /** `SwapPss`: proportional swap (shared swapped pages divided among sharers). */
  swapPssBytes: number;
  /** Every `Key: N kB` line, in bytes, by key. */
  fields: Map<string, number>;
}

export function parseSmapsRollup(text: string): SmapsRollup {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    // the first line is the address range header: `00400000-7ffd1000 ---p 00000000 00:00 0  [rollup]`
    const colon = line.indexOf(':');
    if (colon <= 0 || !line.endsWith(' kB')) continue;
    const v = Number(line.slice(colon + 1, -3));
    if (Number.isFinite(v)) fields.set(line.slice(0, colon), v * 1024);
  }
  const pss = fields.get('Pss');
  if (pss === undefined) throw new Error('malformed smaps_rollup: no Pss');
  return {
    rssBytes: fields.get('Rss') ?? 0,
    pssBytes: pss,
    swapBytes: fields.get('Swap') ?? 0,
    swapPssBytes: fields.get('SwapPss') ?? 0,
    fields,
  };
}

export function readSmapsRollupSync(fs: ProcFs, pid: number): SmapsRollup {
  return parseSmapsRollup(fs.readSync(`${pid}/smaps_rollup`, undefined, 'latin1'));
}

/** `\n<key>: N kB` in bytes, or undefined. */
function kbField(text: string, key: string): number | undefined {
  const at = text.indexOf(`\n${key}:`);
  if (at < 0) return undefined;
  const end = text.indexOf(' kB', at);
  if (end < 0) return undefined;
  const v = Number(text.slice(at + key.length + 2, end));
  return Number.isFinite(v) ? v * 1024 : undefined;
}

/** Pss and SwapPss only, for the per-cycle sampler. */
export function parsePssOnly(text: string): { pssBytes: number; swapPssBytes: number } {
  const pssBytes = kbField(text, 'Pss');
  if (pssBytes === undefined) throw new Error('malformed smaps_rollup: no Pss');
  return { pssBytes, swapPssBytes: kbField(text, 'SwapPss') ?? 0 };
}

export function readPssSync(fs: ProcFs, pid: number): { pssBytes: number; swapPssBytes: number } {
  return parsePssOnly(fs.readSync(`${pid}/smaps_rollup`, undefined, 'latin1'));
}

/**
 * Parser for /proc/<pid>/limits: a fixed-width table
 *
 *   Limit                     Soft Limit           Hard Limit           Units
 *   Max open files            1024                 1048576              files
 *   Max cpu time              unlimited            unlimited            seconds
 *
 * The limit names contain spaces and the Units column is empty for some rows,
 * so each row is read as "name, then two or three value tokens at the end".
 * `unlimited` becomes Infinity. World-readable.
 */
import type { ProcFs } from './proc-fs';

export interface Limit {
  soft: number;
  hard: number;
  /** `files`, `bytes`, `seconds`, ... or '' when the kernel prints none. */
  unit: string;
}

export interface PidLimits {
  /** Every row by its name as the kernel prints it (`Max open files`). */
  byName: Map<string, Limit>;
  /** RLIMIT_NOFILE soft limit (`Max open files`): the fd count at which open() fails. */
  openFilesSoft: number;
}

function limitValue(token: string): number {
  return token === 'unlimited' ? Infinity : Number(token);
}

export function parsePidLimits(text: string): PidLimits {
  const byName = new Map<string, Limit>();
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('Max ')) continue;
    // the name column is 26 characters wide; values follow, space separated
    const name = line.slice(0, 26).trim();
    const tokens = line.slice(26).trim().split(/\s+/);
    if (tokens.length < 2) continue;
    const soft = limitValue(tokens[0]!);
    const hard = limitValue(tokens[1]!);
    if (Number.isNaN(soft) || Number.isNaN(hard)) continue;
    byName.set(name, { soft, hard, unit: tokens[2] ?? '' });
  }
  const nofile = byName.get('Max open files');
  if (!nofile) throw new Error('malformed limits: no "Max open files" row');
  return { byName, openFilesSoft: nofile.soft };
}

export function readPidLimitsSync(fs: ProcFs, pid: number): PidLimits {
  return parsePidLimits(fs.readSync(`${pid}/limits`, undefined, 'latin1'));
}

/** Only the soft `Max open files` limit, for the per-cycle sampler (skips building the whole table). */
export function parseOpenFilesSoft(text: string): number {
  const at = text.indexOf('\nMax open files');
  if (at < 0) throw new Error('malformed limits: no "Max open files" row');
  let end = text.indexOf('\n', at + 1);
  if (end < 0) end = text.length;
  // after the name the soft value is the first token (the name column is padded to 26 characters)
  const soft = limitValue(text.slice(at + 15, end).trim().split(' ')[0] ?? '');
  if (Number.isNaN(soft)) throw new Error('malformed limits: bad "Max open files" row');
  return soft;
}

export function readOpenFilesSoftSync(fs: ProcFs, pid: number): number {
  return parseOpenFilesSoft(fs.readSync(`${pid}/limits`, undefined, 'latin1'));
}

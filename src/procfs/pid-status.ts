/**
 * Parser for /proc/<pid>/status (proc(5)): `Key:\tvalue` lines. We keep the
 * fields the process metrics need; sizes are normalised from kB to bytes.
 */
import type { ProcFs } from './proc-fs';

export interface PidStatus {
  /** `Name`: comm, with non-printable bytes escaped by the kernel. */
  name: string;
  /** `State`: first letter (R, S, D, Z, T, t, X, I). */
  state: string;
  /** `Tgid`: thread group id (the pid of the process a task belongs to). */
  tgid: number;
  /** `PPid`. */
  ppid: number;
  /** `Uid`: real, effective, saved set, filesystem uid. */
  uids: [number, number, number, number];
  /** `Gid`: real, effective, saved set, filesystem gid. */
  gids: [number, number, number, number];
  /** `Threads`: number of threads. */
  threads: number;
  /** `VmSwap` in bytes; undefined when the line is absent (kernel threads, zombies: no mm). */
  vmSwapBytes: number | undefined;
  /** `voluntary_ctxt_switches`: of this task only (the main thread for /proc/<pid>/status). */
  voluntaryCtxtSwitches: number;
  /** `nonvoluntary_ctxt_switches`: of this task only. */
  nonvoluntaryCtxtSwitches: number;
}

/**
 * Where the value of `\n<key>` (key with its colon) starts, or -1. Keys are
 * searched with their newline so `voluntary_ctxt_switches` never matches
 * inside `nonvoluntary_ctxt_switches`; Name is the first line.
 */
function valueAt(text: string, key: string): number {
  const at = text.indexOf(key);
  return at < 0 ? -1 : at + key.length;
}

/** End of the line holding `from`. */
function lineEnd(text: string, from: number): number {
  const end = text.indexOf('\n', from);
  return end < 0 ? text.length : end;
}

/** Position after the number scanned last by `uintAt`. */
let scanned = 0;

/**
 * The decimal number after any spaces or tabs at `from`, NaN when there is
 * none (or it runs into anything but a space, tab or newline: the value is
 * not one number). Scans in place: the parser runs for every process and
 * thread each cycle, and slices, splits and trims were most of its cost.
 */
function uintAt(text: string, from: number): number {
  let i = from;
  const end = text.length;
  let c = i < end ? text.charCodeAt(i) : -1;
  while (c === 32 || c === 9) c = ++i < end ? text.charCodeAt(i) : -1;
  let v = 0;
  let digits = 0;
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    digits++;
    c = ++i < end ? text.charCodeAt(i) : -1;
  }
  scanned = i;
  return digits > 0 && (c === 32 || c === 9 || c === 10 || c === -1) ? v : NaN;
}

/** A one-number line's value, NaN when absent or not a number. */
function numberField(text: string, key: string): number {
  const at = valueAt(text, key);
  return at < 0 ? NaN : uintAt(text, at);
}

/** `Uid:`/`Gid:` values: real, effective, saved set, filesystem (NaN where absent). */
function ids(text: string, at: number): [number, number, number, number] {
  const end = lineEnd(text, at);
  const out: [number, number, number, number] = [NaN, NaN, NaN, NaN];
  let i = at;
  for (let k = 0; k < 4 && i < end; k++) {
    out[k] = uintAt(text, i);
    i = scanned;
  }
  return out;
}

/**
 * Parses the text of a status file; throws when a field every process has is
 * missing. Looks up only the keys it needs (the file has ~55 lines).
 */
export function parsePidStatus(text: string): PidStatus {
  if (!text.startsWith('Name:')) throw new Error('malformed status: no Name');
  const state = valueAt(text, '\nState:');
  if (state < 0) throw new Error('malformed status: no State');
  const uid = valueAt(text, '\nUid:');
  if (uid < 0) throw new Error('malformed status: no Uid');
  const vol = valueAt(text, '\nvoluntary_ctxt_switches:');
  const nonvol = valueAt(text, '\nnonvoluntary_ctxt_switches:');
  if (vol < 0 || nonvol < 0) throw new Error('malformed status: no ctxt_switches');
  const uids = ids(text, uid);
  if (!Number.isInteger(uids[1])) throw new Error('malformed status: bad Uid line');
  const gid = valueAt(text, '\nGid:');
  const swap = valueAt(text, '\nVmSwap:');
  return {
    name: text.slice(5, lineEnd(text, 5)).trim(),
    state: text.slice(state, lineEnd(text, state)).trim().charAt(0),
    tgid: numberField(text, '\nTgid:'),
    ppid: numberField(text, '\nPPid:'),
    uids,
    gids: gid < 0 ? [NaN, NaN, NaN, NaN] : ids(text, gid),
    threads: numberField(text, '\nThreads:'),
    vmSwapBytes: swap < 0 ? undefined : uintAt(text, swap) * 1024,
    voluntaryCtxtSwitches: uintAt(text, vol),
    nonvoluntaryCtxtSwitches: uintAt(text, nonvol),
  };
}

export function readPidStatusSync(fs: ProcFs, pid: number, task?: number): PidStatus {
  return parsePidStatus(fs.readSync(task === undefined ? `${pid}/status` : `${pid}/task/${task}/status`));
}

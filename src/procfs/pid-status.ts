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

function ids(value: string): [number, number, number, number] {
  const f = value.split('\t');
  return [Number(f[0]), Number(f[1]), Number(f[2]), Number(f[3])];
}

/** The value of `\n<key>:\t...` up to the end of its line, trimmed; undefined when absent. */
function field(text: string, key: string): string | undefined {
  // every key but Name starts a line; searching with the newline keeps `voluntary_ctxt_switches`
  // from matching inside `nonvoluntary_ctxt_switches`
  const at = key === 'Name' ? (text.startsWith('Name:') ? 0 : -1) : text.indexOf(`\n${key}:`);
  if (at < 0) return undefined;
  const from = at + key.length + (key === 'Name' ? 1 : 2);
  let end = text.indexOf('\n', from);
  if (end < 0) end = text.length;
  return text.slice(from, end).trim();
}

/** `1234 kB` -> bytes. */
function kbToBytes(value: string): number {
  return Number(value.split(' ')[0]) * 1024;
}

/**
 * Parses the text of a status file; throws when a field every process has is
 * missing. Looks up only the keys it needs (the file has ~55 lines).
 */
export function parsePidStatus(text: string): PidStatus {
  const name = field(text, 'Name');
  const state = field(text, 'State');
  const uid = field(text, 'Uid');
  const vol = field(text, 'voluntary_ctxt_switches');
  const nonvol = field(text, 'nonvoluntary_ctxt_switches');
  if (name === undefined) throw new Error('malformed status: no Name');
  if (state === undefined) throw new Error('malformed status: no State');
  if (uid === undefined) throw new Error('malformed status: no Uid');
  if (vol === undefined || nonvol === undefined) throw new Error('malformed status: no ctxt_switches');
  const uids = ids(uid);
  if (!Number.isInteger(uids[1])) throw new Error('malformed status: bad Uid line');
  const gid = field(text, 'Gid');
  const swap = field(text, 'VmSwap');
  return {
    name,
    state: state.charAt(0),
    tgid: Number(field(text, 'Tgid') ?? NaN),
    ppid: Number(field(text, 'PPid') ?? NaN),
    uids,
    gids: gid === undefined ? [NaN, NaN, NaN, NaN] : ids(gid),
    threads: Number(field(text, 'Threads') ?? NaN),
    vmSwapBytes: swap === undefined ? undefined : kbToBytes(swap),
    voluntaryCtxtSwitches: Number(vol),
    nonvoluntaryCtxtSwitches: Number(nonvol),
  };
}

export function readPidStatusSync(fs: ProcFs, pid: number, task?: number): PidStatus {
  return parsePidStatus(fs.readSync(task === undefined ? `${pid}/status` : `${pid}/task/${task}/status`));
}

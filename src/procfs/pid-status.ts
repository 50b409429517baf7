/**
 * Parser for /proc/<pid>/status (proc(5)): `Key:\tvalue` lines. We keep the
 * fields the process metrics need; sizes are normalised from kB to bytes.
 */
import type { ProcFs } from './proc-fs';
import { readSmallSync } from './fast-read';

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

/** `1234 kB` -> bytes. */
function kbToBytes(value: string): number {
  return Number(value.trim().split(' ')[0]) * 1024;
}

/** Parses the text of a status file; throws when a field every process has is missing. */
export function parsePidStatus(text: string): PidStatus {
  const out: Partial<PidStatus> = { vmSwapBytes: undefined };
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = text.slice(start, colon);
      const value = text.slice(colon + 1, end).trim();
      switch (key) {
        case 'Name':
          out.name = value;
          break;
        case 'State':
          out.state = value.charAt(0);
          break;
        case 'Tgid':
          out.tgid = Number(value);
          break;
        case 'PPid':
          out.ppid = Number(value);
          break;
        case 'Uid':
          out.uids = ids(value);
          break;
        case 'Gid':
          out.gids = ids(value);
          break;
        case 'Threads':
          out.threads = Number(value);
          break;
        case 'VmSwap':
          out.vmSwapBytes = kbToBytes(value);
          break;
        case 'voluntary_ctxt_switches':
          out.voluntaryCtxtSwitches = Number(value);
          break;
        case 'nonvoluntary_ctxt_switches':
          out.nonvoluntaryCtxtSwitches = Number(value);
          break;
        default:
          break;
      }
    }
    start = end + 1;
  }
  for (const k of ['name', 'state', 'uids', 'voluntaryCtxtSwitches', 'nonvoluntaryCtxtSwitches'] as const) {
    if (out[k] === undefined) throw new Error(`malformed status: no ${k}`);
  }
  if (!Number.isInteger(out.uids![1])) throw new Error('malformed status: bad Uid line');
  return {
    name: out.name!,
    state: out.state!,
    tgid: out.tgid ?? NaN,
    ppid: out.ppid ?? NaN,
    uids: out.uids!,
    gids: out.gids ?? [NaN, NaN, NaN, NaN],
    threads: out.threads ?? NaN,
    vmSwapBytes: out.vmSwapBytes,
    voluntaryCtxtSwitches: out.voluntaryCtxtSwitches!,
    nonvoluntaryCtxtSwitches: out.nonvoluntaryCtxtSwitches!,
  };
}

export function readPidStatusSync(fs: ProcFs, pid: number, task?: number): PidStatus {
  return parsePidStatus(readSmallSync(fs, task === undefined ? `${pid}/status` : `${pid}/task/${task}/status`));
}

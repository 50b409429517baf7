/**
 * Parser for /proc/<pid>/stat (proc(5)). The second field, comm, is wrapped in
 * parentheses and may itself contain spaces and `)`, so we cut it out between
 * the first `(` and the *last* `)` and split the rest on spaces.
 *
 * Units are normalised here, once: clock ticks become seconds, pages become
 * bytes, so nothing downstream has to know about USER_HZ or the page size.
 */
import type { ProcFs } from './proc-fs';
import { readSmallSync } from './fast-read';

/**
 * USER_HZ, the unit of the tick fields. The kernel reports these to userland
 * at a fixed 100 Hz on every architecture Linux ships (it rescales internally
 * when CONFIG_HZ differs), which is why process-exporter, procps and
 * prometheus/procfs all hard-code it instead of calling sysconf(_SC_CLK_TCK).
 */
export const USER_HZ = 100;

/**
 * Page size for rss. 4 KiB on x86_64 and most arm64 kernels; 64 KiB arm64 or
 * ppc64 kernels would need `getconf PAGESIZE`. We avoid spawning a process
 * (no child_process in src) and accept an override for such hosts.
 */
export let PAGE_SIZE = 4096;
export function setPageSize(bytes: number): void {
  PAGE_SIZE = bytes;
}

export interface PidStat {
  pid: number;
  /** Field 2, comm: the executable name truncated to 15 bytes (or what the process set via prctl). */
  comm: string;
  /** Field 3, state: R, S, D, Z, T, t, X, I, ... */
  state: string;
  /** Field 4, ppid. */
  ppid: number;
  /** Field 9, flags: the kernel's PF_* bits (PF_KTHREAD marks a kernel thread). */
  flags: number;
  /** Field 10, minflt: minor faults. */
  minorFaults: number;
  /** Field 12, majflt: major faults. */
  majorFaults: number;
  /** Field 14, utime, in seconds. */
  userSeconds: number;
  /** Field 15, stime, in seconds. */
  systemSeconds: number;
  /** Field 20, num_threads. */
  numThreads: number;
  /** Field 22, starttime, in ticks since boot (kept as ticks: it is part of the process identity). */
  startTicks: number;
  /** Field 23, vsize, in bytes. */
  virtualBytes: number;
  /** Field 24, rss, in bytes (pages * PAGE_SIZE). */
  residentBytes: number;
}

/** Parses the text of a stat file; throws a descriptive error on malformed input. */
export function parsePidStat(text: string): PidStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`malformed stat: no (comm)`);
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // fields after comm start at field 3 (state), so rest[0] is field 3
  const rest = text.slice(close + 2).trim().split(' ');
  const field = (n: number): number => {
    const raw = rest[n - 3];
    const v = raw === undefined ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new Error(`malformed stat: field ${n} is ${JSON.stringify(raw)}`);
    return v;
  };
  if (!Number.isInteger(pid)) throw new Error('malformed stat: bad pid');
  return {
    pid,
    comm,
    state: rest[0] ?? '?',
    ppid: field(4),
    flags: field(9),
    minorFaults: field(10),
    majorFaults: field(12),
    userSeconds: field(14) / USER_HZ,
    systemSeconds: field(15) / USER_HZ,
    numThreads: field(20),
    startTicks: field(22),
    virtualBytes: field(23),
    residentBytes: field(24) * PAGE_SIZE,
  };
}

export async function readPidStat(fs: ProcFs, pid: number, task?: number): Promise<PidStat> {
  const rel = task === undefined ? `${pid}/stat` : `${pid}/task/${task}/stat`;
  return parsePidStat(await fs.readText(rel, 8192));
}

/** PF_KTHREAD (include/linux/sched.h): set in `flags` for kernel threads, which have no userland. */
export const PF_KTHREAD = 0x00200000;

/** True for kernel threads (kthreadd and its children): no cmdline, no mm, not a userland process. */
export function isKernelThread(stat: PidStat): boolean {
  // flags is an unsigned 32-bit value; ToInt32 in `&` keeps the low bits, and PF_KTHREAD is bit 21
  return (stat.flags & PF_KTHREAD) !== 0;
}

/** Synchronous twin of readPidStat for the batched per-process sampler. */
export function readPidStatSync(fs: ProcFs, pid: number, task?: number): PidStat {
  return parsePidStatFast(readSmallSync(fs, task === undefined ? `${pid}/stat` : `${pid}/task/${task}/stat`));
}

/**
 * parsePidStat without splitting the line into ~50 strings: the sampler
 * parses one stat per process (and per thread) every cycle, and those
 * short-lived strings are most of its garbage. Same result, same errors.
 */
export function parsePidStatFast(text: string): PidStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`malformed stat: no (comm)`);
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isInteger(pid)) throw new Error('malformed stat: bad pid');
  // fields we need, by number (field 3 follows the ") ")
  const want = [4, 9, 10, 12, 14, 15, 20, 22, 23, 24];
  const values: number[] = [];
  let state = '?';
  let field = 3;
  let i = close + 2;
  let w = 0;
  const end = text.length;
  while (i < end && w < want.length) {
    while (i < end && text.charCodeAt(i) === 32) i++;
    let j = i;
    while (j < end && text.charCodeAt(j) !== 32 && text.charCodeAt(j) !== 10) j++;
    if (field === 3) state = text.slice(i, j);
    else if (field === want[w]) {
      const raw = text.slice(i, j);
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new Error(`malformed stat: field ${field} is ${JSON.stringify(raw)}`);
      values.push(v);
      w++;
    }
    field++;
    i = j + 1;
  }
  if (w < want.length) throw new Error(`malformed stat: field ${want[w]} is undefined`);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: state === '' ? '?' : state,
    ppid: values[0]!,
    flags: values[1]!,
    minorFaults: values[2]!,
    majorFaults: values[3]!,
    userSeconds: values[4]! / USER_HZ,
    systemSeconds: values[5]! / USER_HZ,
    numThreads: values[6]!,
    startTicks: values[7]!,
    virtualBytes: values[8]!,
    residentBytes: values[9]! * PAGE_SIZE,
  };
}

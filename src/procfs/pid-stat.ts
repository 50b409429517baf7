/**
 * Parser for /proc/<pid>/stat (proc(5)). The second field, comm, is wrapped in
 * parentheses and may itself contain spaces and `)`, so we cut it out between
 * the first `(` and the *last* `)` and read the fields after it by number.
 *
 * CPU times and the start time stay in clock ticks (exact integers, and the
 * start time is part of a process's identity); they become seconds only
 * where a metric is written. rss is normalised from pages to bytes here.
 */
import type { ProcFs } from './proc-fs';

/**
 * USER_HZ, the unit of the tick fields. The kernel reports these to userland
 * at a fixed 100 Hz on every architecture Linux ships (it rescales internally
 * when CONFIG_HZ differs), which is why process-exporter, procps and
 * prometheus/procfs all hard-code it instead of calling sysconf(_SC_CLK_TCK).
 */
export const USER_HZ = 100;

/**
 * Page size for rss: 4 KiB on x86_64 and most arm64 kernels. 64 KiB arm64 or
 * ppc64 kernels would need sysconf(_SC_PAGESIZE), which Node does not expose
 * (and src spawns no `getconf`).
 */
export const PAGE_SIZE = 4096;

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
  /** Field 14, utime, in USER_HZ ticks. */
  userTicks: number;
  /** Field 15, stime, in USER_HZ ticks. */
  systemTicks: number;
  /** Field 20, num_threads. */
  numThreads: number;
  /** Field 22, starttime, in USER_HZ ticks since boot. */
  startTicks: number;
  /** Field 23, vsize, in bytes. */
  virtualBytes: number;
  /** Field 24, rss, in bytes (pages * PAGE_SIZE). */
  residentBytes: number;
}

/** The numbered fields we keep, ascending (field 3, state, is taken as text). */
const WANT = [4, 9, 10, 12, 14, 15, 20, 22, 23, 24];

/**
 * Parses the text of a stat file; throws a descriptive error on malformed
 * input. Scans to the fields it needs instead of splitting the line into ~50
 * strings: the sampler parses one stat per process (and per thread) every
 * cycle, and those short-lived strings would be most of its garbage.
 */
export function parsePidStat(text: string): PidStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`malformed stat: no (comm)`);
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isInteger(pid)) throw new Error('malformed stat: bad pid');
  const values: number[] = [];
  let state = '?';
  let field = 3; // field 3 follows the ") "
  let i = close + 2;
  let w = 0;
  const end = text.length;
  while (i < end && w < WANT.length) {
    while (i < end && text.charCodeAt(i) === 32) i++;
    let j = i;
    while (j < end && text.charCodeAt(j) !== 32 && text.charCodeAt(j) !== 10) j++;
    if (field === 3) state = text.slice(i, j);
    else if (field === WANT[w]) {
      const raw = text.slice(i, j);
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new Error(`malformed stat: field ${field} is ${JSON.stringify(raw)}`);
      values.push(v);
      w++;
    }
    field++;
    i = j + 1;
  }
  if (w < WANT.length) throw new Error(`malformed stat: field ${WANT[w]} is undefined`);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: state === '' ? '?' : state,
    ppid: values[0]!,
    flags: values[1]!,
    minorFaults: values[2]!,
    majorFaults: values[3]!,
    userTicks: values[4]!,
    systemTicks: values[5]!,
    numThreads: values[6]!,
    startTicks: values[7]!,
    virtualBytes: values[8]!,
    residentBytes: values[9]! * PAGE_SIZE,
  };
}

/** `<pid>/stat`, or with `task`, `<pid>/task/<task>/stat`. */
export function readPidStatSync(fs: ProcFs, pid: number, task?: number): PidStat {
  return parsePidStat(fs.readSync(task === undefined ? `${pid}/stat` : `${pid}/task/${task}/stat`));
}

/** PF_KTHREAD (include/linux/sched.h): set in `flags` for kernel threads, which have no userland. */
export const PF_KTHREAD = 0x00200000;

/** True for kernel threads (kthreadd and its children): no cmdline, no mm, not a userland process. */
export function isKernelThread(stat: PidStat): boolean {
  // flags is an unsigned 32-bit value; ToInt32 in `&` keeps the low bits, and PF_KTHREAD is bit 21
  return (stat.flags & PF_KTHREAD) !== 0;
}

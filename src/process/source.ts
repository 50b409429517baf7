/**
 * Reads one process's files for a sampling cycle, through the procfs
 * modules, and sorts every failure:
 *
 * - vanished (ENOENT, ESRCH) while the process is gone: the process exited
 *   mid-read. Not an error; the sample is dropped.
 * - vanished while the process is still there: the kernel has no such data
 *   (a zombie or kernel thread has no mm, so no smaps_rollup and no fd
 *   table). A real zero, not an error.
 * - denied (EACCES, EPERM: not root, no CAP_SYS_PTRACE, hidepid) or any other
 *   failure of an optional file: the value is unknown (never reported as 0)
 *   and the process counts one partial error for the cycle.
 *
 * Only the files the options ask for are opened: smaps_rollup with
 * --gather-smaps, task/* with --threads and only for processes with two or
 * more threads (process-exporter drops per-thread data below two), fd links
 * only when netstat needs socket inodes.
 */
import type { ProcFs } from '../procfs/proc-fs';
import { errorCode, isDenied, isVanished } from '../procfs/proc-fs';
import { readPidStatSync, type PidStat } from '../procfs/pid-stat';
import { readPidStatusSync, type PidStatus } from '../procfs/pid-status';
import { readPidIoSync } from '../procfs/pid-io';
import { readOpenFilesSoftSync } from '../procfs/pid-limits';
import { readPssSync } from '../procfs/smaps-rollup';
import { readSmapsPssSync } from '../procfs/pid-smaps';
import { readWchanSync } from '../procfs/pid-wchan';
import { addSocketInodesSync, listFdsSync, type FdTable } from '../procfs/pid-fd';
import { listTasksSync } from '../procfs/pid-task';
import { readCmdlineSync } from '../procfs/pid-cmdline';
import { readPidCgroupSync } from '../procfs/pid-cgroup';
import { stateName, type StateName } from '../metrics/namedprocess';
import type { Slicer } from '../util/slicer';

/** fd links read between two checks of the slicer: a process with thousands of sockets is read in slices. */
const LINKS_PER_SLICE = 128;

/** Counters of a process or a thread, as totals. cpu in USER_HZ ticks (exact integers; seconds at export). */
export interface Counts {
  userTicks: number;
  systemTicks: number;
  minorFaults: number;
  majorFaults: number;
  ctxVoluntary: number;
  ctxNonvoluntary: number;
  /** io read_bytes; undefined when io is unreadable. */
  readBytes: number | undefined;
  writeBytes: number | undefined;
}

export interface ThreadSample {
  tid: number;
  startTicks: number;
  /** task comm: the thread name (the main thread carries the process comm). */
  name: string;
  /** stat state letter. */
  state: string;
  /** '' when the task is running or the reader has no ptrace access. */
  wchan: string;
  counts: Counts;
}

/** The kernel has no such data for this live process (no mm, no fd table). */
const MISSING = Symbol('missing');
/** Unreadable (denied or odd): unknown, and a partial error. */
const FAILED = Symbol('failed');

export type StateCounts = Record<StateName, number>;

export interface ProcSample {
  pid: number;
  startTicks: number;
  comm: string;
  ppid: number;
  /** Effective uid (status Uid, second field). */
  euid: number;
  numThreads: number;
  counts: Counts;
  residentBytes: number;
  virtualBytes: number;
  /** status VmSwap; 0 without an mm. */
  swapBytes: number;
  /** smaps_rollup Pss / SwapPss; undefined when not gathered or unreadable. */
  pssBytes: number | undefined;
  swapPssBytes: number | undefined;
  /** Cycles since Pss and the fd limit were read (0: read this cycle). */
  reuseAge: number;
  openFds: number | undefined;
  /** Soft RLIMIT_NOFILE; undefined when limits is unreadable. */
  fdLimit: number | undefined;
  /** Tasks per state: the process state, plus each task's state when per-thread data was read (process-exporter counts both). */
  states: StateCounts;
  /** stat state letter of the process itself. */
  stateLetter: string;
  /** The process's own wchan ('' when running or unreadable). */
  wchan: string;
  /** Tasks per non-empty wchan, counted the same way as states. */
  wchans: Map<string, number>;
  /** Per-thread data; only with --threads and for processes with 2+ threads. */
  threads: ThreadSample[] | undefined;
  /** Socket inodes from fd links (only when netstat is on). */
  socketInodes: number[];
  /** Whether the next sample may reuse io, fds and wchan if the process does not run meanwhile. */
  idleReusable: boolean;
  /** Some optional file was unreadable this cycle. */
  partial: boolean;
}

export interface ReadOptions {
  threads: boolean;
  gatherSmaps: boolean;
  /** Read fd link targets for socket inodes. */
  sockets: boolean;
  /** Skip re-reading what cannot have changed for a process that has not run since the last sample. */
  reuseIdle: boolean;
  /** For a process that has not run, reuse Pss and the fd limit read at most this many cycles ago (0: always read). */
  maxReuseAge: number;
}

export type FailureKind = 'vanished' | 'denied' | 'error';

export function classify(err: unknown): FailureKind {
  if (isVanished(err)) return 'vanished';
  if (isDenied(err)) return 'denied';
  return 'error';
}

/** Thrown inside a read when the process turned out to be gone; caught by readProcess. */
class Vanished extends Error {}

export function emptyStates(): StateCounts {
  return { Running: 0, Sleeping: 0, Waiting: 0, Zombie: 0, Other: 0 };
}

export interface StaticAttrs {
  cmdline: string[];
  cgroups: string[];
}

export class ProcessReader {
  constructor(private readonly fs: ProcFs) {}

  /** /proc/<pid>/stat, or undefined if the process is gone. Other failures throw (a procread error). */
  stat(pid: number): PidStat | undefined {
    try {
      return readPidStatSync(this.fs, pid);
    } catch (err) {
      if (isVanished(err)) return undefined;
      throw err;
    }
  }

  /** True while <pid> is the same process (start time) as when first read. */
  stillAlive(pid: number, startTicks: number): boolean {
    try {
      return readPidStatSync(this.fs, pid).startTicks === startTicks;
    } catch {
      return false;
    }
  }

  /**
   * What naming needs beyond stat and status, read once per new process:
   * cmdline and cgroups (only if the namer reads them). Unreadable ones are
   * empty, as process-exporter treats them; undefined if the process is gone.
   */
  staticAttrs(pid: number, want: { cmdline: boolean; cgroups: boolean }): StaticAttrs | undefined {
    const out: StaticAttrs = { cmdline: [], cgroups: [] };
    try {
      if (want.cmdline) out.cmdline = readCmdlineSync(this.fs, pid);
      if (want.cgroups) out.cgroups = readPidCgroupSync(this.fs, pid).map((c) => c.path);
    } catch (err) {
      if (isVanished(err)) return undefined;
      // denied or odd: an empty value, as process-exporter would render it
    }
    return out;
  }

  /** status of the process; undefined if it is gone. Other failures throw (a procread error). */
  status(pid: number): PidStatus | undefined {
    try {
      return readPidStatusSync(this.fs, pid);
    } catch (err) {
      if (isVanished(err)) return undefined;
      throw err;
    }
  }

  /**
   * Everything the metrics need for one process whose stat and status were
   * just read. Returns undefined when the process exited mid-read.
   * With a `slicer`, the event loop gets a turn inside a long read (thousands
   * of fd links, many threads).
   *
   * `prev` is this process's previous sample. When the process has not run
   * since (single-threaded, not running, and neither its CPU ticks, faults
   * nor context switches moved), its io counters, fd table and wait channel
   * cannot have changed, so they are taken from `prev` instead of being
   * read again. Two values other processes can change while this one sleeps
   * (proportional memory, when sharers come and go; the fd limit, through
   * prlimit(2)) are reused for at most `opts.maxReuseAge` cycles.
   */
  async metrics(stat: PidStat, status: PidStatus, opts: ReadOptions, prev?: ProcSample, slicer?: Slicer): Promise<ProcSample | undefined> {
    const pid = stat.pid;
    let partial = false;
    let alive: boolean | undefined;
    /** What a failed optional read means: MISSING when the kernel has no such data for this live process. */
    const failure = (err: unknown): typeof MISSING | typeof FAILED => {
      if (isVanished(err)) {
        alive ??= this.stillAlive(pid, stat.startTicks);
        if (!alive) throw new Vanished();
        return MISSING;
      }
      partial = true;
      return FAILED;
    };
    /** Runs an optional read. */
    const optional = <T>(read: () => T): T | typeof MISSING | typeof FAILED => {
      try {
        return read();
      } catch (err) {
        return failure(err);
      }
    };
    const userTicks = stat.userTicks;
    const systemTicks = stat.systemTicks;
    const idle =
      opts.reuseIdle &&
      prev !== undefined &&
      !prev.partial &&
      prev.idleReusable &&
      stat.numThreads === 1 &&
      stat.state !== 'R' &&
      prev.counts.userTicks === userTicks &&
      prev.counts.systemTicks === systemTicks &&
      prev.counts.minorFaults === stat.minorFaults &&
      prev.counts.majorFaults === stat.majorFaults &&
      prev.counts.ctxVoluntary === status.voluntaryCtxtSwitches &&
      prev.counts.ctxNonvoluntary === status.nonvoluntaryCtxtSwitches;
    try {
      let readBytes: number | undefined;
      let writeBytes: number | undefined;
      let openFds: number | undefined;
      let socketInodes: number[] = [];
      let wchanText = '';
      if (idle) {
        readBytes = prev.counts.readBytes;
        writeBytes = prev.counts.writeBytes;
        openFds = prev.openFds;
        socketInodes = prev.socketInodes;
        wchanText = prev.wchan;
      } else {
        const io = optional(() => readPidIoSync(this.fs, pid));
        if (typeof io === 'object') {
          readBytes = io.readBytes;
          writeBytes = io.writeBytes;
        } else if (io === MISSING) partial = true; // a live process always has io: its absence is not a real zero
        let fds: FdTable | typeof MISSING | typeof FAILED;
        try {
          fds = await this.fdTable(pid, opts.sockets, slicer);
        } catch (err) {
          fds = failure(err);
        }
        if (typeof fds === 'object') {
          openFds = fds.count;
          socketInodes = fds.socketInodes;
        } else if (fds === MISSING) openFds = 0; // no fd table (zombie): none open
        const wchan = optional(() => readWchanSync(this.fs, pid));
        if (typeof wchan === 'string') wchanText = wchan;
      }
      // values other processes may change: reused from an idle process's last sample for a few cycles
      const reuseOld = idle && prev.reuseAge < opts.maxReuseAge && prev.fdLimit !== undefined && (!opts.gatherSmaps || prev.pssBytes !== undefined);
      const reuseAge = reuseOld ? prev.reuseAge + 1 : 0;
      let fdLimit: number | undefined;
      if (reuseOld) fdLimit = prev.fdLimit;
      else {
        const l = optional(() => readOpenFilesSoftSync(this.fs, pid));
        if (typeof l === 'number') fdLimit = l;
      }
      let pssBytes: number | undefined;
      let swapPssBytes: number | undefined;
      if (opts.gatherSmaps) {
        if (reuseOld) {
          pssBytes = prev.pssBytes;
          swapPssBytes = prev.swapPssBytes;
        } else {
          // kernels before 4.14 have no smaps_rollup: sum the per-mapping smaps there
          let smaps = optional(() => readPssSync(this.fs, pid));
          if (smaps === MISSING) smaps = optional(() => readSmapsPssSync(this.fs, pid));
          if (typeof smaps === 'object') {
            pssBytes = smaps.pssBytes;
            swapPssBytes = smaps.swapPssBytes;
          } else if (smaps === MISSING) {
            pssBytes = 0; // no mm (zombie, kernel thread): no memory
            swapPssBytes = 0;
          }
        }
      }
      if (
        idle &&
        reuseOld &&
        stat.state === prev.stateLetter &&
        stat.residentBytes === prev.residentBytes &&
        stat.virtualBytes === prev.virtualBytes &&
        (status.vmSwapBytes ?? 0) === prev.swapBytes &&
        status.uids[1] === prev.euid &&
        stat.comm === prev.comm &&
        stat.ppid === prev.ppid
      ) {
        // nothing moved: keep the previous sample object (no garbage for an idle process)
        prev.reuseAge = reuseAge;
        return prev;
      }
      const counts: Counts = {
        userTicks,
        systemTicks,
        minorFaults: stat.minorFaults,
        majorFaults: stat.majorFaults,
        ctxVoluntary: status.voluntaryCtxtSwitches,
        ctxNonvoluntary: status.nonvoluntaryCtxtSwitches,
        readBytes,
        writeBytes,
      };
      const states = emptyStates();
      states[stateName(stat.state)]++;
      const wchans = new Map<string, number>();
      if (wchanText !== '') wchans.set(wchanText, 1);

      let threads: ThreadSample[] | undefined;
      if (opts.threads && stat.numThreads >= 2) {
        let t: ThreadSample[] | typeof MISSING | typeof FAILED;
        try {
          // the last sample's tasks, when its reads were all good: idle ones keep their io and wait channel
          const before = opts.reuseIdle && prev !== undefined && !prev.partial ? prev.threads : undefined;
          t = await this.threads(pid, () => (partial = true), slicer, before);
        } catch (err) {
          t = failure(err);
        }
        if (Array.isArray(t) && t.length >= 2) {
          threads = t;
          // process-exporter replaces the process's (main-thread-only) switch counts with the sum over
          // tasks, and adds every task's state and wchan to the process's own (the main thread twice)
          counts.ctxVoluntary = 0;
          counts.ctxNonvoluntary = 0;
          for (const th of t) {
            counts.ctxVoluntary += th.counts.ctxVoluntary;
            counts.ctxNonvoluntary += th.counts.ctxNonvoluntary;
            states[stateName(th.state)]++;
            if (th.wchan !== '') wchans.set(th.wchan, (wchans.get(th.wchan) ?? 0) + 1);
          }
        }
      }
      return {
        pid,
        startTicks: stat.startTicks,
        comm: stat.comm,
        ppid: stat.ppid,
        euid: status.uids[1],
        numThreads: stat.numThreads,
        counts,
        residentBytes: stat.residentBytes,
        virtualBytes: stat.virtualBytes,
        swapBytes: status.vmSwapBytes ?? 0,
        pssBytes,
        swapPssBytes,
        reuseAge,
        openFds,
        fdLimit,
        states,
        stateLetter: stat.state,
        wchan: wchanText,
        wchans,
        threads,
        socketInodes,
        // the shortcut needs the process's own switch counts, which threads replace by task sums
        idleReusable: threads === undefined && stat.numThreads === 1,
        partial,
      };
    } catch (err) {
      if (err instanceof Vanished) return undefined;
      throw err;
    }
  }

  /** The fd count and, with `wantSockets`, the socket inodes (pid-fd.ts), a slice of links at a time. */
  private async fdTable(pid: number, wantSockets: boolean, slicer: Slicer | undefined): Promise<FdTable> {
    const names = listFdsSync(this.fs, pid);
    const socketInodes: number[] = [];
    if (wantSockets) {
      for (let from = 0; from < names.length; from += LINKS_PER_SLICE) {
        if (from > 0 && slicer) await slicer.maybeYield();
        addSocketInodesSync(this.fs, pid, names, from, Math.min(names.length, from + LINKS_PER_SLICE), socketInodes);
      }
    }
    return { count: names.length, socketInodes };
  }

  /**
   * Per-task data; a task that exits while we read it is skipped, an unreadable file is a partial error.
   * A task of `before` (the last sample's, ascending tids) that has not run since (same ticks, faults and
   * switches, not running) keeps its io and wait channel, as a whole process does in metrics(): busy
   * services have hundreds of mostly idle threads, and those are half of each one's reads.
   */
  private async threads(pid: number, onPartial: () => void, slicer: Slicer | undefined, before: readonly ThreadSample[] | undefined): Promise<ThreadSample[]> {
    const out: ThreadSample[] = [];
    let b = 0;
    for (const tid of listTasksSync(this.fs, pid)) {
      if (out.length > 0 && slicer) await slicer.maybeYield();
      let stat: PidStat;
      let status: PidStatus;
      try {
        stat = readPidStatSync(this.fs, pid, tid);
        status = readPidStatusSync(this.fs, pid, tid);
      } catch (err) {
        if (!isVanished(err)) onPartial();
        continue;
      }
      let old: ThreadSample | undefined;
      if (before) {
        while (b < before.length && before[b]!.tid < tid) b++;
        const o = before[b];
        if (
          o !== undefined &&
          o.tid === tid &&
          o.startTicks === stat.startTicks &&
          stat.state !== 'R' &&
          o.counts.readBytes !== undefined &&
          o.counts.userTicks === stat.userTicks &&
          o.counts.systemTicks === stat.systemTicks &&
          o.counts.minorFaults === stat.minorFaults &&
          o.counts.majorFaults === stat.majorFaults &&
          o.counts.ctxVoluntary === status.voluntaryCtxtSwitches &&
          o.counts.ctxNonvoluntary === status.nonvoluntaryCtxtSwitches
        ) {
          old = o;
        }
      }
      if (old) {
        if (old.name === stat.comm && old.state === stat.state) out.push(old); // nothing moved: the same object
        else out.push({ ...old, name: stat.comm, state: stat.state }); // renamed by another thread
        continue;
      }
      let readBytes: number | undefined;
      let writeBytes: number | undefined;
      try {
        const io = readPidIoSync(this.fs, pid, tid);
        readBytes = io.readBytes;
        writeBytes = io.writeBytes;
      } catch (err) {
        if (!isVanished(err)) onPartial();
      }
      let wchan = '';
      try {
        wchan = readWchanSync(this.fs, pid, tid);
      } catch (err) {
        if (!isVanished(err)) onPartial();
      }
      out.push({
        tid,
        startTicks: stat.startTicks,
        name: stat.comm,
        state: stat.state,
        wchan,
        counts: {
          userTicks: stat.userTicks,
          systemTicks: stat.systemTicks,
          minorFaults: stat.minorFaults,
          majorFaults: stat.majorFaults,
          ctxVoluntary: status.voluntaryCtxtSwitches,
          ctxNonvoluntary: status.nonvoluntaryCtxtSwitches,
          readBytes,
          writeBytes,
        },
      });
    }
    return out;
  }
}

/** For logs: the errno of a failure, or its message. */
export function describeFailure(err: unknown): string {
  return errorCode(err) ?? (err instanceof Error ? err.message : String(err));
}

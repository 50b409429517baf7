/**
 * Process identity and per-process counters that never go backwards.
 *
 * A process is (pid, start time): a reused pid is a new process. Each is
 * decided once when first seen: tracked in a group, or ignored (and not
 * looked at again until it exits), as process-exporter does without
 * -recheck. State for processes that are gone is swept every cycle.
 *
 * Counters: the first observation counts the process's real totals (unlike
 * process-exporter, which counts processes that predate it from zero), then
 * every later increase is added. A decrease (context switches summed over
 * tasks drop when a thread exits) is never subtracted, so what we report per
 * process is monotonic.
 */
import type { Counts, ProcSample } from './source';

/** Monotonic totals built from successive observations of kernel counters. */
export class MonotonicCounts {
  readonly reported: Counts;
  private readonly last: Counts;

  constructor(first: Counts) {
    this.reported = { ...first };
    this.last = { ...first };
  }

  update(now: Counts): void {
    const r = this.reported;
    const l = this.last;
    r.userTicks += Math.max(0, now.userTicks - l.userTicks);
    r.systemTicks += Math.max(0, now.systemTicks - l.systemTicks);
    r.minorFaults += Math.max(0, now.minorFaults - l.minorFaults);
    r.majorFaults += Math.max(0, now.majorFaults - l.majorFaults);
    r.ctxVoluntary += Math.max(0, now.ctxVoluntary - l.ctxVoluntary);
    r.ctxNonvoluntary += Math.max(0, now.ctxNonvoluntary - l.ctxNonvoluntary);
    l.userTicks = now.userTicks;
    l.systemTicks = now.systemTicks;
    l.minorFaults = now.minorFaults;
    l.majorFaults = now.majorFaults;
    l.ctxVoluntary = now.ctxVoluntary;
    l.ctxNonvoluntary = now.ctxNonvoluntary;
    // io may be unreadable in some cycles: keep the last known value, count in full when first known
    if (now.readBytes !== undefined) {
      r.readBytes = l.readBytes === undefined ? now.readBytes : (r.readBytes ?? 0) + Math.max(0, now.readBytes - l.readBytes);
      l.readBytes = now.readBytes;
    }
    if (now.writeBytes !== undefined) {
      r.writeBytes = l.writeBytes === undefined ? now.writeBytes : (r.writeBytes ?? 0) + Math.max(0, now.writeBytes - l.writeBytes);
      l.writeBytes = now.writeBytes;
    }
  }
}

export function zeroCounts(): Counts {
  return { userTicks: 0, systemTicks: 0, minorFaults: 0, majorFaults: 0, ctxVoluntary: 0, ctxNonvoluntary: 0, readBytes: undefined, writeBytes: undefined };
}

/** a += b; unknown io stays unknown only while both are unknown. */
export function addCounts(a: Counts, b: Counts): void {
  a.userTicks += b.userTicks;
  a.systemTicks += b.systemTicks;
  a.minorFaults += b.minorFaults;
  a.majorFaults += b.majorFaults;
  a.ctxVoluntary += b.ctxVoluntary;
  a.ctxNonvoluntary += b.ctxNonvoluntary;
  if (b.readBytes !== undefined) a.readBytes = (a.readBytes ?? 0) + b.readBytes;
  if (b.writeBytes !== undefined) a.writeBytes = (a.writeBytes ?? 0) + b.writeBytes;
}

export interface TrackedThread {
  name: string;
  counts: MonotonicCounts;
  seenCycle: number;
}

export interface TrackedProc {
  readonly key: string;
  readonly pid: number;
  readonly startTicks: number;
  /** Wall-clock start, ms since the epoch. */
  readonly startTimeMs: number;
  group: string;
  /** comm when named (per-pid names follow a later exec or prctl rename). */
  comm: string;
  /** Undefined until the first successful metrics read. */
  counts: MonotonicCounts | undefined;
  /** tid:start -> thread; only while the process has 2+ threads and --threads. */
  threads: Map<string, TrackedThread>;
  /** Latest metrics sample. */
  sample: ProcSample | undefined;
  seenCycle: number;
}

export interface RetiredThread {
  group: string;
  name: string;
  counts: Counts;
}

export const procKey = (pid: number, startTicks: number): string => `${pid}:${startTicks}`;

export class Tracker {
  private readonly tracked = new Map<string, TrackedProc>();
  /** Ignored processes: key -> cycle last seen. */
  private readonly ignored = new Map<string, number>();
  private cycle = 0;

  get currentCycle(): number {
    return this.cycle;
  }

  beginCycle(): void {
    this.cycle++;
  }

  /** 'ignored', the tracked process, or undefined for a process not seen before. Marks it seen. */
  lookup(pid: number, startTicks: number): TrackedProc | 'ignored' | undefined {
    const key = procKey(pid, startTicks);
    const t = this.tracked.get(key);
    if (t) {
      t.seenCycle = this.cycle;
      return t;
    }
    if (this.ignored.has(key)) {
      this.ignored.set(key, this.cycle);
      return 'ignored';
    }
    return undefined;
  }

  track(pid: number, startTicks: number, startTimeMs: number, group: string, comm: string): TrackedProc {
    const key = procKey(pid, startTicks);
    this.ignored.delete(key);
    const t: TrackedProc = {
      key,
      pid,
      startTicks,
      startTimeMs,
      group,
      comm,
      counts: undefined,
      threads: new Map(),
      sample: undefined,
      seenCycle: this.cycle,
    };
    this.tracked.set(key, t);
    return t;
  }

  ignore(pid: number, startTicks: number): void {
    this.ignored.set(procKey(pid, startTicks), this.cycle);
  }

  /**
   * Records this cycle's sample. Returns the threads that disappeared since
   * the last sample (their totals move to the group's history).
   */
  update(t: TrackedProc, sample: ProcSample): RetiredThread[] {
    t.seenCycle = this.cycle;
    t.sample = sample;
    if (t.counts) t.counts.update(sample.counts);
    else t.counts = new MonotonicCounts(sample.counts);
    const retired: RetiredThread[] = [];
    if (sample.threads) {
      for (const th of sample.threads) {
        const key = procKey(th.tid, th.startTicks);
        const known = t.threads.get(key);
        if (known && known.name === th.name) {
          known.counts.update(th.counts);
          known.seenCycle = this.cycle;
        } else {
          // a new thread, or one that renamed itself (a new threadname series)
          if (known) retired.push({ group: t.group, name: known.name, counts: known.counts.reported });
          t.threads.set(key, { name: th.name, counts: new MonotonicCounts(th.counts), seenCycle: this.cycle });
        }
      }
    }
    for (const [key, th] of t.threads) {
      if (th.seenCycle !== this.cycle) {
        retired.push({ group: t.group, name: th.name, counts: th.counts.reported });
        t.threads.delete(key);
      }
    }
    return retired;
  }

  /** Tracked processes not seen this cycle (exited): removed and returned. Forgets ignored ones that exited. */
  sweep(): TrackedProc[] {
    const gone: TrackedProc[] = [];
    for (const [key, t] of this.tracked) {
      if (t.seenCycle !== this.cycle) {
        gone.push(t);
        this.tracked.delete(key);
      }
    }
    for (const [key, seen] of this.ignored) if (seen !== this.cycle) this.ignored.delete(key);
    return gone;
  }

  /** Stops tracking a process (its name no longer matches after a reload); it may be adopted again as new. */
  untrack(t: TrackedProc): void {
    this.tracked.delete(t.key);
  }

  /** Forgets every naming decision (config reload): tracked processes are re-named next cycle. */
  forgetIgnored(): void {
    this.ignored.clear();
  }

  all(): IterableIterator<TrackedProc> {
    return this.tracked.values();
  }

  get size(): number {
    return this.tracked.size;
  }

  get ignoredCount(): number {
    return this.ignored.size;
  }
}

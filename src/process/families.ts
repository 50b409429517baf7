/**
 * Turns one cycle's group views into the namedprocess families, once per
 * sample; scrapes and OTLP exports only hand out these arrays.
 *
 * Label sets follow process-exporter 0.7.10 (attributes are built in sorted
 * key order, as client_golang prints them). A value we could not read is a
 * missing series, never a 0: io without ptrace access, fds of processes we
 * may not list, proportional memory without smaps_rollup. An empty group
 * that is kept (config naming) reports true zeros for its gauges, keeps its
 * counters, and has no start time, pid, username or sockets.
 */
import type { HrTime } from '@opentelemetry/api';
import { dataPoint, EXPORT_TIME, type FamilyData, type Point } from '../metrics/producer';
import { NAMEDPROCESS_FAMILIES as F, STATE_NAMES } from '../metrics/namedprocess';
import { USER_HZ } from '../procfs/pid-stat';
import type { Slicer } from '../util/slicer';
import type { GroupView } from './grouper';
import type { SocketLabels } from './netstat';

type Attrs = Record<string, string>;

/**
 * Joins a group name and a container id into one group key (--process.container-label): the
 * processes of one name in different containers are different groups, told apart by the
 * `container_id` label. NUL cannot occur in a name built from /proc text fields.
 */
export const GROUP_KEY_SEPARATOR = '\0';

/**
 * `base` plus labels, in that order. Built key by key from an empty literal so
 * that every object with the same label names shares one V8 hidden class: an
 * object spread with an extra key (`{ ...base, state }`) got a hidden class of
 * its own, ~15,000 of them (~4 MiB) at 1,000 groups.
 */
function extend(base: Attrs, k1: string, v1: string, k2?: string, v2?: string): Attrs {
  const o: Attrs = {};
  for (const k in base) o[k] = base[k]!;
  o[k1] = v1;
  if (k2 !== undefined) o[k2] = v2!;
  return o;
}

/** A label, then `base` (process-exporter sorts `ctxswitchtype` before `groupname`). */
function prepend(k: string, v: string, base: Attrs, k2?: string, v2?: string): Attrs {
  const o: Attrs = {};
  o[k] = v;
  for (const j in base) o[j] = base[j]!;
  if (k2 !== undefined) o[k2] = v2!;
  return o;
}

/** A series before its first value: NaN equals nothing, so the first update makes its point. */
const unset = (attributes: Attrs): Point => dataPoint(attributes, NaN);

/**
 * The series' point for this sample: the last one when value and start time
 * are the same (the producer then keeps its MetricData and the exporter its
 * Prometheus text), else a new point with the same attributes object.
 */
function update(slots: Point[], i: number, value: number, startTime: HrTime): Point {
  const last = slots[i]!;
  if (last.value === value && last.startTime === startTime) return last;
  return (slots[i] = dataPoint(last.attributes, value, startTime));
}

/** Slots of a group's series (GroupSeries.slots). */
const enum S {
  NumProcs,
  CpuSystem,
  CpuUser,
  Read,
  Write,
  Majflt,
  Minflt,
  CtxNonvoluntary,
  CtxVoluntary,
  Pss,
  SwapPss,
  Resident,
  Swapped,
  Virtual,
  Fds,
  Worst,
  Oldest,
  Threads,
  Pid,
  /** STATE_NAMES.length slots from here. */
  States,
}

/** Slots of one thread name's series. */
const enum T {
  Count,
  Majflt,
  Minflt,
  CpuSystem,
  CpuUser,
  IoRead,
  IoWrite,
  CtxNonvoluntary,
  CtxVoluntary,
}

/** The series of one thread name of a group. */
interface ThreadSeries {
  startMs: number;
  startTime: HrTime;
  slots: Point[];
}

/**
 * The last point of every series of one group, kept from sample to sample.
 * The families labelled by the group alone share one `{groupname}` object;
 * each series keeps its own last point in a slot.
 */
class GroupSeries {
  readonly slots: Point[];
  private startMs = NaN;
  private startHr: HrTime = [0, 0];
  /**
   * The series of each wchan and user: a short list (most groups have one of
   * each), searched by label value; an empty Map costs more than the list.
   */
  wchans: readonly Point[] = NONE;
  users: readonly Point[] = NONE;
  /** By thread name and by socket key; made when the group first has one. */
  threads: Map<string, ThreadSeries> | undefined;
  sockets: Map<string, Point> | undefined;
  /** `{groupname}`, plus `container_id` with --process.container-label (see GROUP_KEY_SEPARATOR). */
  private readonly base: Attrs;

  constructor(key: string) {
    const sep = key.indexOf(GROUP_KEY_SEPARATOR);
    const groupname = sep < 0 ? key : key.slice(0, sep);
    const base: Attrs = sep < 0 ? { groupname } : { groupname, container_id: key.slice(sep + 1) };
    this.base = base;
    const slots: Point[] = [];
    const g = unset(base);
    for (const i of [S.NumProcs, S.Read, S.Write, S.Majflt, S.Minflt, S.Fds, S.Worst, S.Oldest, S.Threads, S.Pid]) slots[i] = g;
    slots[S.CpuSystem] = unset(extend(base, 'mode', 'system'));
    slots[S.CpuUser] = unset(extend(base, 'mode', 'user'));
    slots[S.CtxNonvoluntary] = unset(prepend('ctxswitchtype', 'nonvoluntary', base));
    slots[S.CtxVoluntary] = unset(prepend('ctxswitchtype', 'voluntary', base));
    slots[S.Pss] = unset(extend(base, 'memtype', 'proportionalResident'));
    slots[S.SwapPss] = unset(extend(base, 'memtype', 'proportionalSwapped'));
    slots[S.Resident] = unset(extend(base, 'memtype', 'resident'));
    slots[S.Swapped] = unset(extend(base, 'memtype', 'swapped'));
    slots[S.Virtual] = unset(extend(base, 'memtype', 'virtual'));
    for (let i = 0; i < STATE_NAMES.length; i++) slots[S.States + i] = unset(extend(base, 'state', STATE_NAMES[i]!));
    this.slots = slots;
  }

  /** The counters' start time, the same array while it does not change (so points can be reused). */
  start(ms: number): HrTime {
    if (ms !== this.startMs) {
      this.startMs = ms;
      this.startHr = hrTime(ms);
    }
    return this.startHr;
  }

  wchan(w: string, n: number, next: Point[]): Point {
    return listed(this.wchans, next, 'wchan', w, n, this.base);
  }

  thread(threadname: string, startMs: number, next: Map<string, ThreadSeries>): ThreadSeries {
    const base = this.base;
    let t = this.threads?.get(threadname);
    if (t && t.startMs !== startMs) t = undefined; // a new series of that name: new start time
    if (!t) {
      const slots: Point[] = [];
      const named = unset(extend(base, 'threadname', threadname));
      slots[T.Count] = named;
      slots[T.Majflt] = named;
      slots[T.Minflt] = named;
      slots[T.CpuSystem] = unset(extend(base, 'mode', 'system', 'threadname', threadname));
      slots[T.CpuUser] = unset(extend(base, 'mode', 'user', 'threadname', threadname));
      slots[T.IoRead] = unset(extend(base, 'iomode', 'read', 'threadname', threadname));
      slots[T.IoWrite] = unset(extend(base, 'iomode', 'write', 'threadname', threadname));
      slots[T.CtxNonvoluntary] = unset(prepend('ctxswitchtype', 'nonvoluntary', base, 'threadname', threadname));
      slots[T.CtxVoluntary] = unset(prepend('ctxswitchtype', 'voluntary', base, 'threadname', threadname));
      t = { startMs, startTime: hrTime(startMs), slots };
    }
    next.set(threadname, t);
    return t;
  }

  user(username: string, next: Point[]): Point {
    return listed(this.users, next, 'username', username, 1, this.base);
  }

  socket(key: string, s: SocketLabels, next: Map<string, Point>): Point {
    return keyed(this.sockets, next, key, s.state, () => {
      const a = extend(this.base, 'local', s.local);
      a.protocol = s.protocol;
      a.remote = s.remote;
      return a;
    });
  }
}

const NONE: readonly Point[] = Object.freeze([]);

/** The point of the series whose `label` is `value` in a short list: the last one when its value is the same. */
function listed(last: readonly Point[], next: Point[], label: string, labelValue: string, value: number, base: Attrs): Point {
  let old: Point | undefined;
  for (let i = 0; i < last.length; i++) {
    if (last[i]!.attributes[label] === labelValue) {
      old = last[i];
      break;
    }
  }
  const p = old === undefined ? dataPoint(extend(base, label, labelValue), value) : old.value === value ? old : dataPoint(old.attributes, value);
  next.push(p);
  return p;
}

/** The point of a series kept in a map by key: the last one when its value is the same. */
function keyed(last: Map<string, Point> | undefined, next: Map<string, Point>, key: string, value: number, attrs: () => Attrs): Point {
  const old = last?.get(key);
  const p = old === undefined ? dataPoint(attrs(), value) : old.value === value ? old : dataPoint(old.attributes, value);
  next.set(key, p);
  return p;
}

/**
 * Hands out the same point objects for the same series and values from one
 * sample to the next. The producer keeps a family's MetricData (and the
 * exporter its Prometheus text) when a new version has the very same points,
 * so an idle host's families are not re-serialized after every sample.
 * Groups and series not seen in a round are forgotten.
 */
export class AttributeInterner {
  private groups = new Map<string, GroupSeries>();
  private next = new Map<string, GroupSeries>();
  /** The unlabelled self counters: errors, partial, procread, dropped. */
  readonly self: Point[] = [unset({}), unset({}), unset({}), unset({})];
  private selfStartMs = NaN;
  private selfStartHr: HrTime = [0, 0];

  selfStart(ms: number): HrTime {
    if (ms !== this.selfStartMs) {
      this.selfStartMs = ms;
      this.selfStartHr = hrTime(ms);
    }
    return this.selfStartHr;
  }

  beginRound(): void {
    this.next = new Map();
  }

  group(groupname: string): GroupSeries {
    let g = this.next.get(groupname);
    if (!g) {
      g = this.groups.get(groupname) ?? new GroupSeries(groupname);
      this.next.set(groupname, g);
    }
    return g;
  }

  endRound(): void {
    this.groups = this.next;
  }

  get size(): number {
    return this.groups.size;
  }
}

export function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

export interface ErrorCounters {
  scrapeErrors: number;
  procReadErrors: number;
  partialErrors: number;
  droppedSockets: number;
}

export interface FamilyOptions {
  threads: boolean;
  gatherSmaps: boolean;
  /** Start of the self counters (the collector's creation), ms. */
  startedMs: number;
  /** Groups expected by --expect.file: num_procs 0 (and no other family) while they have no member. */
  expectedGroups?: readonly string[];
}

const seconds = (ticks: number): number => ticks / USER_HZ;

/**
 * The namedprocess families of one sample, at once (the collector's first,
 * empty build; tests). The daemon's sampling cycle uses buildFamiliesSliced.
 */
export function buildFamilies(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner = new AttributeInterner(),
): FamilyData[] {
  const steps = familySteps(views, errors, opts, interner);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same, giving the event loop a turn whenever `slicer` says a slice of
 * work is spent: at 1,000 groups the whole build is 25-120 ms, long enough to
 * hold a scrape or a probe's connect timing. Nothing is published until the
 * end, so a scrape in between sees the last sample's families whole.
 */
export async function buildFamiliesSliced(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner,
  slicer: Slicer,
): Promise<FamilyData[]> {
  const steps = familySteps(views, errors, opts, interner);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await slicer.maybeYield();
  }
}

/** Builds the families; yields after each group (a point where the caller may pause). */
function* familySteps(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner,
): Generator<void, FamilyData[], void> {
  interner.beginRound();
  const numProcs: Point[] = [];
  const cpu: Point[] = [];
  const readBytes: Point[] = [];
  const writeBytes: Point[] = [];
  const majflt: Point[] = [];
  const minflt: Point[] = [];
  const ctx: Point[] = [];
  const memory: Point[] = [];
  const openFds: Point[] = [];
  const worstFd: Point[] = [];
  const oldest: Point[] = [];
  const numThreads: Point[] = [];
  const states: Point[] = [];
  const wchan: Point[] = [];
  const thCount: Point[] = [];
  const thCpu: Point[] = [];
  const thIo: Point[] = [];
  const thMaj: Point[] = [];
  const thMin: Point[] = [];
  const thCtx: Point[] = [];
  const pid: Point[] = [];
  const username: Point[] = [];
  const netstat: Point[] = [];
  const G = EXPORT_TIME; // a gauge's point carries the export's time

  for (const g of views) {
    const a = interner.group(g.name);
    const sl = a.slots;
    const startTime = a.start(g.startMs);
    const c = g.counts;
    const empty = g.numProcs === 0;
    numProcs.push(update(sl, S.NumProcs, g.numProcs, G));
    cpu.push(update(sl, S.CpuSystem, seconds(c.systemTicks), startTime));
    cpu.push(update(sl, S.CpuUser, seconds(c.userTicks), startTime));
    if (c.readBytes !== undefined) readBytes.push(update(sl, S.Read, c.readBytes, startTime));
    if (c.writeBytes !== undefined) writeBytes.push(update(sl, S.Write, c.writeBytes, startTime));
    majflt.push(update(sl, S.Majflt, c.majorFaults, startTime));
    minflt.push(update(sl, S.Minflt, c.minorFaults, startTime));
    ctx.push(update(sl, S.CtxNonvoluntary, c.ctxNonvoluntary, startTime));
    ctx.push(update(sl, S.CtxVoluntary, c.ctxVoluntary, startTime));
    if (opts.gatherSmaps) {
      const pss = empty ? 0 : g.pssBytes;
      const swapPss = empty ? 0 : g.swapPssBytes;
      if (pss !== undefined) memory.push(update(sl, S.Pss, pss, G));
      if (swapPss !== undefined) memory.push(update(sl, S.SwapPss, swapPss, G));
    }
    memory.push(update(sl, S.Resident, g.residentBytes, G));
    memory.push(update(sl, S.Swapped, g.swapBytes, G));
    memory.push(update(sl, S.Virtual, g.virtualBytes, G));
    const fds = empty ? 0 : g.openFds;
    if (fds !== undefined) openFds.push(update(sl, S.Fds, fds, G));
    const ratio = empty ? 0 : g.worstFdRatio;
    if (ratio !== undefined) worstFd.push(update(sl, S.Worst, ratio, G));
    if (g.oldestStartSeconds !== undefined) oldest.push(update(sl, S.Oldest, g.oldestStartSeconds, G));
    numThreads.push(update(sl, S.Threads, g.numThreads, G));
    for (let i = 0; i < STATE_NAMES.length; i++) states.push(update(sl, S.States + i, g.states[STATE_NAMES[i]!], G));
    if (g.wchans.size > 0 || a.wchans.length > 0) {
      const next: Point[] = [];
      for (const [w, n] of g.wchans) wchan.push(a.wchan(w, n, next));
      a.wchans = next.length > 0 ? next : NONE;
    }
    if (opts.threads && (g.threads.length > 0 || a.threads !== undefined)) {
      const next = new Map<string, ThreadSeries>();
      for (const t of g.threads) {
        const ts = a.thread(t.name, t.startMs, next);
        const st = ts.slots;
        const start = ts.startTime;
        const tc = t.counts;
        thCount.push(update(st, T.Count, t.count, G));
        thCpu.push(update(st, T.CpuSystem, seconds(tc.systemTicks), start));
        thCpu.push(update(st, T.CpuUser, seconds(tc.userTicks), start));
        if (tc.readBytes !== undefined) thIo.push(update(st, T.IoRead, tc.readBytes, start));
        if (tc.writeBytes !== undefined) thIo.push(update(st, T.IoWrite, tc.writeBytes, start));
        thMaj.push(update(st, T.Majflt, tc.majorFaults, start));
        thMin.push(update(st, T.Minflt, tc.minorFaults, start));
        thCtx.push(update(st, T.CtxNonvoluntary, tc.ctxNonvoluntary, start));
        thCtx.push(update(st, T.CtxVoluntary, tc.ctxVoluntary, start));
      }
      a.threads = next.size > 0 ? next : undefined;
    }
    if (g.pid !== undefined) pid.push(update(sl, S.Pid, g.pid, G));
    if (g.usernames.size > 0 || a.users.length > 0) {
      const next: Point[] = [];
      for (const u of g.usernames) username.push(a.user(u, next));
      a.users = next.length > 0 ? next : NONE;
    }
    if (g.sockets.size > 0 || a.sockets !== undefined) {
      const next = new Map<string, Point>();
      for (const [key, s] of g.sockets) netstat.push(a.socket(key, s, next));
      a.sockets = next.size > 0 ? next : undefined;
    }
    yield;
  }
  if (opts.expectedGroups && opts.expectedGroups.length > 0) {
    const present = new Set(views.map((g) => g.name));
    for (const name of opts.expectedGroups) if (!present.has(name)) numProcs.push(update(interner.group(name).slots, S.NumProcs, 0, G));
  }
  interner.endRound();
  return [
    { spec: F.contextSwitches, points: ctx },
    { spec: F.cpuSeconds, points: cpu },
    { spec: F.majorPageFaults, points: majflt },
    { spec: F.memoryBytes, points: memory },
    { spec: F.minorPageFaults, points: minflt },
    { spec: F.numProcs, points: numProcs },
    { spec: F.numThreads, points: numThreads },
    { spec: F.oldestStartTime, points: oldest },
    { spec: F.openFiledesc, points: openFds },
    { spec: F.readBytes, points: readBytes },
    { spec: F.states, points: states },
    { spec: F.threadContextSwitches, points: thCtx },
    { spec: F.threadCount, points: thCount },
    { spec: F.threadCpuSeconds, points: thCpu },
    { spec: F.threadIoBytes, points: thIo },
    { spec: F.threadMajorPageFaults, points: thMaj },
    { spec: F.threadMinorPageFaults, points: thMin },
    { spec: F.threadsWchan, points: wchan },
    { spec: F.worstFdRatio, points: worstFd },
    { spec: F.writeBytes, points: writeBytes },
    { spec: F.pid, points: pid },
    { spec: F.effectiveUsername, points: username },
    { spec: F.netstat, points: netstat },
    ...buildSelfFamilies(errors, opts.startedMs, interner),
  ];
}

/** The collector's own error counters. */
export function buildSelfFamilies(errors: ErrorCounters, startedMs: number, interner: AttributeInterner): FamilyData[] {
  const selfStart = interner.selfStart(startedMs);
  const slots = interner.self;
  const single = (i: number, value: number): Point[] => [update(slots, i, value, selfStart)];
  return [
    { spec: F.scrapeErrors, points: single(0, errors.scrapeErrors) },
    { spec: F.scrapePartialErrors, points: single(1, errors.partialErrors) },
    { spec: F.scrapeProcReadErrors, points: single(2, errors.procReadErrors) },
    { spec: F.netstatDropped, points: single(3, errors.droppedSockets) },
  ];
}

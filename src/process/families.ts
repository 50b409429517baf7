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
import type { GroupView } from './grouper';
import type { SocketLabels } from './netstat';

type Attrs = Record<string, string>;

/** Attribute objects of one thread name's series. */
interface ThreadAttrs {
  startMs: number;
  startTime: HrTime;
  count: Attrs;
  majflt: Attrs;
  minflt: Attrs;
  cpuSystem: Attrs;
  cpuUser: Attrs;
  ioRead: Attrs;
  ioWrite: Attrs;
  ctxNonvoluntary: Attrs;
  ctxVoluntary: Attrs;
}

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

/** Attribute objects of every series of one group, kept from sample to sample. */
class GroupAttrs {
  /** `{groupname}` of each family labelled by the group alone: one object per series, so each keeps its own last point. */
  readonly g: Record<'numProcs' | 'read' | 'write' | 'majflt' | 'minflt' | 'fds' | 'worst' | 'oldest' | 'threads' | 'pid', Attrs>;
  private startMs = NaN;
  private startHr: HrTime = [0, 0];
  readonly cpuSystem: Attrs;
  readonly cpuUser: Attrs;
  readonly ctxNonvoluntary: Attrs;
  readonly ctxVoluntary: Attrs;
  readonly memory: Record<'proportionalResident' | 'proportionalSwapped' | 'resident' | 'swapped' | 'virtual', Attrs>;
  readonly states: Attrs[];
  wchans = new Map<string, Attrs>();
  threads = new Map<string, ThreadAttrs>();
  users = new Map<string, Attrs>();
  sockets = new Map<string, Attrs>();

  readonly groupname: string;
  /** `{groupname}`, plus `container_id` with --process.container-label (see GROUP_KEY_SEPARATOR). */
  private readonly base: Attrs;

  constructor(key: string) {
    const sep = key.indexOf(GROUP_KEY_SEPARATOR);
    const groupname = sep < 0 ? key : key.slice(0, sep);
    this.groupname = groupname;
    const base: Attrs = sep < 0 ? { groupname } : { groupname, container_id: key.slice(sep + 1) };
    this.base = base;
    this.g = {
      numProcs: { ...base },
      read: { ...base },
      write: { ...base },
      majflt: { ...base },
      minflt: { ...base },
      fds: { ...base },
      worst: { ...base },
      oldest: { ...base },
      threads: { ...base },
      pid: { ...base },
    };
    this.cpuSystem = extend(base, 'mode', 'system');
    this.cpuUser = extend(base, 'mode', 'user');
    this.ctxNonvoluntary = prepend('ctxswitchtype', 'nonvoluntary', base);
    this.ctxVoluntary = prepend('ctxswitchtype', 'voluntary', base);
    this.memory = {
      proportionalResident: extend(base, 'memtype', 'proportionalResident'),
      proportionalSwapped: extend(base, 'memtype', 'proportionalSwapped'),
      resident: extend(base, 'memtype', 'resident'),
      swapped: extend(base, 'memtype', 'swapped'),
      virtual: extend(base, 'memtype', 'virtual'),
    };
    this.states = STATE_NAMES.map((state) => extend(base, 'state', state));
  }

  /** The counters' start time, the same array while it does not change (so points can be reused). */
  start(ms: number): HrTime {
    if (ms !== this.startMs) {
      this.startMs = ms;
      this.startHr = hrTime(ms);
    }
    return this.startHr;
  }

  wchan(w: string, next: Map<string, Attrs>): Attrs {
    const a = this.wchans.get(w) ?? extend(this.base, 'wchan', w);
    next.set(w, a);
    return a;
  }

  thread(threadname: string, startMs: number, next: Map<string, ThreadAttrs>): ThreadAttrs {
    const base = this.base;
    let a = this.threads.get(threadname);
    if (a && a.startMs !== startMs) a = undefined; // a new series of that name: new start time
    a ??= {
      startMs,
      startTime: hrTime(startMs),
      count: extend(base, 'threadname', threadname),
      majflt: extend(base, 'threadname', threadname),
      minflt: extend(base, 'threadname', threadname),
      cpuSystem: extend(base, 'mode', 'system', 'threadname', threadname),
      cpuUser: extend(base, 'mode', 'user', 'threadname', threadname),
      ioRead: extend(base, 'iomode', 'read', 'threadname', threadname),
      ioWrite: extend(base, 'iomode', 'write', 'threadname', threadname),
      ctxNonvoluntary: prepend('ctxswitchtype', 'nonvoluntary', base, 'threadname', threadname),
      ctxVoluntary: prepend('ctxswitchtype', 'voluntary', base, 'threadname', threadname),
    };
    next.set(threadname, a);
    return a;
  }

  user(username: string, next: Map<string, Attrs>): Attrs {
    const a = this.users.get(username) ?? extend(this.base, 'username', username);
    next.set(username, a);
    return a;
  }

  socket(key: string, s: SocketLabels, next: Map<string, Attrs>): Attrs {
    const a = this.sockets.get(key) ?? extend(extend(this.base, 'local', s.local), 'protocol', s.protocol, 'remote', s.remote);
    next.set(key, a);
    return a;
  }
}

/**
 * Hands out the same attribute objects for the same series from one sample
 * to the next. The producer keeps a family's MetricData (and the exporter
 * its Prometheus text) when a new version has the very same attribute
 * objects and values, so an idle host's families are not re-serialized after
 * every sample. Groups and series not seen in a round are forgotten.
 */
export class AttributeInterner {
  private groups = new Map<string, GroupAttrs>();
  private next = new Map<string, GroupAttrs>();
  /** The unlabelled self counters (one object each, so each keeps its own last point). */
  readonly self = { errors: {}, partial: {}, procread: {}, dropped: {} } as const satisfies Record<string, Attrs>;
  /** Last point of each series, by its attributes object: reused while value and start time stay the same. */
  private readonly points = new WeakMap<Attrs, Point>();
  private selfStartMs = NaN;
  private selfStartHr: HrTime = [0, 0];

  /** The point for a series: last sample's object when nothing changed (less garbage on an idle host). */
  point(attributes: Attrs, value: number, startTime?: HrTime): Point {
    const last = this.points.get(attributes);
    if (last && last.value === value && last.startTime === (startTime ?? EXPORT_TIME)) return last;
    const p = dataPoint(attributes, value, startTime);
    this.points.set(attributes, p);
    return p;
  }

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

  group(groupname: string): GroupAttrs {
    let g = this.next.get(groupname);
    if (!g) {
      g = this.groups.get(groupname) ?? new GroupAttrs(groupname);
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

export function buildFamilies(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner = new AttributeInterner(),
): FamilyData[] {
  interner.beginRound();
  const P = (attributes: Attrs, value: number, startTime?: HrTime): Point => interner.point(attributes, value, startTime);
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

  for (const g of views) {
    const a = interner.group(g.name);
    const ga = a.g;
    const startTime = a.start(g.startMs);
    const c = g.counts;
    const empty = g.numProcs === 0;
    numProcs.push(P(ga.numProcs, g.numProcs));
    cpu.push(P(a.cpuSystem, seconds(c.systemTicks), startTime));
    cpu.push(P(a.cpuUser, seconds(c.userTicks), startTime));
    if (c.readBytes !== undefined) readBytes.push(P(ga.read, c.readBytes, startTime));
    if (c.writeBytes !== undefined) writeBytes.push(P(ga.write, c.writeBytes, startTime));
    majflt.push(P(ga.majflt, c.majorFaults, startTime));
    minflt.push(P(ga.minflt, c.minorFaults, startTime));
    ctx.push(P(a.ctxNonvoluntary, c.ctxNonvoluntary, startTime));
    ctx.push(P(a.ctxVoluntary, c.ctxVoluntary, startTime));
    if (opts.gatherSmaps) {
      const pss = empty ? 0 : g.pssBytes;
      const swapPss = empty ? 0 : g.swapPssBytes;
      if (pss !== undefined) memory.push(P(a.memory.proportionalResident, pss));
      if (swapPss !== undefined) memory.push(P(a.memory.proportionalSwapped, swapPss));
    }
    memory.push(P(a.memory.resident, g.residentBytes));
    memory.push(P(a.memory.swapped, g.swapBytes));
    memory.push(P(a.memory.virtual, g.virtualBytes));
    const fds = empty ? 0 : g.openFds;
    if (fds !== undefined) openFds.push(P(ga.fds, fds));
    const ratio = empty ? 0 : g.worstFdRatio;
    if (ratio !== undefined) worstFd.push(P(ga.worst, ratio));
    if (g.oldestStartSeconds !== undefined) oldest.push(P(ga.oldest, g.oldestStartSeconds));
    numThreads.push(P(ga.threads, g.numThreads));
    for (let i = 0; i < STATE_NAMES.length; i++) states.push(P(a.states[i]!, g.states[STATE_NAMES[i]!]));
    if (g.wchans.size > 0 || a.wchans.size > 0) {
      const next = new Map<string, Attrs>();
      for (const [w, n] of g.wchans) wchan.push(P(a.wchan(w, next), n));
      a.wchans = next;
    }
    if (opts.threads && (g.threads.length > 0 || a.threads.size > 0)) {
      const next = new Map<string, ThreadAttrs>();
      for (const t of g.threads) {
        const ta = a.thread(t.name, t.startMs, next);
        const ts = ta.startTime;
        const tc = t.counts;
        thCount.push(P(ta.count, t.count));
        thCpu.push(P(ta.cpuSystem, seconds(tc.systemTicks), ts));
        thCpu.push(P(ta.cpuUser, seconds(tc.userTicks), ts));
        if (tc.readBytes !== undefined) thIo.push(P(ta.ioRead, tc.readBytes, ts));
        if (tc.writeBytes !== undefined) thIo.push(P(ta.ioWrite, tc.writeBytes, ts));
        thMaj.push(P(ta.majflt, tc.majorFaults, ts));
        thMin.push(P(ta.minflt, tc.minorFaults, ts));
        thCtx.push(P(ta.ctxNonvoluntary, tc.ctxNonvoluntary, ts));
        thCtx.push(P(ta.ctxVoluntary, tc.ctxVoluntary, ts));
      }
      a.threads = next;
    }
    if (g.pid !== undefined) pid.push(P(ga.pid, g.pid));
    if (g.usernames.size > 0 || a.users.size > 0) {
      const next = new Map<string, Attrs>();
      for (const u of g.usernames) username.push(P(a.user(u, next), 1));
      a.users = next;
    }
    if (g.sockets.size > 0 || a.sockets.size > 0) {
      const next = new Map<string, Attrs>();
      for (const [key, s] of g.sockets) netstat.push(P(a.socket(key, s, next), s.state));
      a.sockets = next;
    }
  }
  if (opts.expectedGroups && opts.expectedGroups.length > 0) {
    const present = new Set(views.map((g) => g.name));
    for (const name of opts.expectedGroups) if (!present.has(name)) numProcs.push(P(interner.group(name).g.numProcs, 0));
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
  const a = interner.self;
  const single = (attrs: Attrs, value: number): Point[] => [interner.point(attrs, value, selfStart)];
  return [
    { spec: F.scrapeErrors, points: single(a.errors, errors.scrapeErrors) },
    { spec: F.scrapePartialErrors, points: single(a.partial, errors.partialErrors) },
    { spec: F.scrapeProcReadErrors, points: single(a.procread, errors.procReadErrors) },
    { spec: F.netstatDropped, points: single(a.dropped, errors.droppedSockets) },
  ];
}

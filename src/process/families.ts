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
import type { FamilyData, Point } from '../metrics/producer';
import { NAMEDPROCESS_FAMILIES as F, STATE_NAMES } from '../metrics/namedprocess';
import { USER_HZ } from '../procfs/pid-stat';
import type { GroupView } from './grouper';
import type { SocketLabels } from './netstat';

type Attrs = Record<string, string>;

/** Attribute objects of one thread name's series. */
interface ThreadAttrs {
  name: Attrs;
  cpuSystem: Attrs;
  cpuUser: Attrs;
  ioRead: Attrs;
  ioWrite: Attrs;
  ctxNonvoluntary: Attrs;
  ctxVoluntary: Attrs;
}

/** Attribute objects of every series of one group, kept from sample to sample. */
class GroupAttrs {
  /** `{groupname}`: shared by every family labelled by the group alone (attribute objects are never mutated). */
  readonly group: Attrs;
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

  constructor(readonly groupname: string) {
    this.group = { groupname };
    this.cpuSystem = { groupname, mode: 'system' };
    this.cpuUser = { groupname, mode: 'user' };
    this.ctxNonvoluntary = { ctxswitchtype: 'nonvoluntary', groupname };
    this.ctxVoluntary = { ctxswitchtype: 'voluntary', groupname };
    this.memory = {
      proportionalResident: { groupname, memtype: 'proportionalResident' },
      proportionalSwapped: { groupname, memtype: 'proportionalSwapped' },
      resident: { groupname, memtype: 'resident' },
      swapped: { groupname, memtype: 'swapped' },
      virtual: { groupname, memtype: 'virtual' },
    };
    this.states = STATE_NAMES.map((state) => ({ groupname, state }));
  }

  wchan(w: string, next: Map<string, Attrs>): Attrs {
    const a = this.wchans.get(w) ?? { groupname: this.groupname, wchan: w };
    next.set(w, a);
    return a;
  }

  thread(threadname: string, next: Map<string, ThreadAttrs>): ThreadAttrs {
    const groupname = this.groupname;
    const a = this.threads.get(threadname) ?? {
      name: { groupname, threadname },
      cpuSystem: { groupname, mode: 'system', threadname },
      cpuUser: { groupname, mode: 'user', threadname },
      ioRead: { groupname, iomode: 'read', threadname },
      ioWrite: { groupname, iomode: 'write', threadname },
      ctxNonvoluntary: { ctxswitchtype: 'nonvoluntary', groupname, threadname },
      ctxVoluntary: { ctxswitchtype: 'voluntary', groupname, threadname },
    };
    next.set(threadname, a);
    return a;
  }

  user(username: string, next: Map<string, Attrs>): Attrs {
    const a = this.users.get(username) ?? { groupname: this.groupname, username };
    next.set(username, a);
    return a;
  }

  socket(key: string, s: SocketLabels, next: Map<string, Attrs>): Attrs {
    const a = this.sockets.get(key) ?? { groupname: this.groupname, local: s.local, protocol: s.protocol, remote: s.remote };
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
  /** The unlabelled self counters. */
  readonly none: Attrs = {};

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
}

const seconds = (ticks: number): number => ticks / USER_HZ;

export function buildFamilies(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner = new AttributeInterner(),
): FamilyData[] {
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

  for (const g of views) {
    const a = interner.group(g.name);
    const ga = a.group;
    const startTime = hrTime(g.startMs);
    const c = g.counts;
    const empty = g.numProcs === 0;
    numProcs.push({ attributes: ga, value: g.numProcs });
    cpu.push({ attributes: a.cpuSystem, value: seconds(c.systemTicks), startTime });
    cpu.push({ attributes: a.cpuUser, value: seconds(c.userTicks), startTime });
    if (c.readBytes !== undefined) readBytes.push({ attributes: ga, value: c.readBytes, startTime });
    if (c.writeBytes !== undefined) writeBytes.push({ attributes: ga, value: c.writeBytes, startTime });
    majflt.push({ attributes: ga, value: c.majorFaults, startTime });
    minflt.push({ attributes: ga, value: c.minorFaults, startTime });
    ctx.push({ attributes: a.ctxNonvoluntary, value: c.ctxNonvoluntary, startTime });
    ctx.push({ attributes: a.ctxVoluntary, value: c.ctxVoluntary, startTime });
    if (opts.gatherSmaps) {
      const pss = empty ? 0 : g.pssBytes;
      const swapPss = empty ? 0 : g.swapPssBytes;
      if (pss !== undefined) memory.push({ attributes: a.memory.proportionalResident, value: pss });
      if (swapPss !== undefined) memory.push({ attributes: a.memory.proportionalSwapped, value: swapPss });
    }
    memory.push({ attributes: a.memory.resident, value: g.residentBytes });
    memory.push({ attributes: a.memory.swapped, value: g.swapBytes });
    memory.push({ attributes: a.memory.virtual, value: g.virtualBytes });
    const fds = empty ? 0 : g.openFds;
    if (fds !== undefined) openFds.push({ attributes: ga, value: fds });
    const ratio = empty ? 0 : g.worstFdRatio;
    if (ratio !== undefined) worstFd.push({ attributes: ga, value: ratio });
    if (g.oldestStartSeconds !== undefined) oldest.push({ attributes: ga, value: g.oldestStartSeconds });
    numThreads.push({ attributes: ga, value: g.numThreads });
    for (let i = 0; i < STATE_NAMES.length; i++) states.push({ attributes: a.states[i]!, value: g.states[STATE_NAMES[i]!] });
    if (g.wchans.size > 0 || a.wchans.size > 0) {
      const next = new Map<string, Attrs>();
      for (const [w, n] of g.wchans) wchan.push({ attributes: a.wchan(w, next), value: n });
      a.wchans = next;
    }
    if (opts.threads && (g.threads.length > 0 || a.threads.size > 0)) {
      const next = new Map<string, ThreadAttrs>();
      for (const t of g.threads) {
        const ta = a.thread(t.name, next);
        const ts = hrTime(t.startMs);
        const tc = t.counts;
        thCount.push({ attributes: ta.name, value: t.count });
        thCpu.push({ attributes: ta.cpuSystem, value: seconds(tc.systemTicks), startTime: ts });
        thCpu.push({ attributes: ta.cpuUser, value: seconds(tc.userTicks), startTime: ts });
        if (tc.readBytes !== undefined) thIo.push({ attributes: ta.ioRead, value: tc.readBytes, startTime: ts });
        if (tc.writeBytes !== undefined) thIo.push({ attributes: ta.ioWrite, value: tc.writeBytes, startTime: ts });
        thMaj.push({ attributes: ta.name, value: tc.majorFaults, startTime: ts });
        thMin.push({ attributes: ta.name, value: tc.minorFaults, startTime: ts });
        thCtx.push({ attributes: ta.ctxNonvoluntary, value: tc.ctxNonvoluntary, startTime: ts });
        thCtx.push({ attributes: ta.ctxVoluntary, value: tc.ctxVoluntary, startTime: ts });
      }
      a.threads = next;
    }
    if (g.pid !== undefined) pid.push({ attributes: ga, value: g.pid });
    if (g.usernames.size > 0 || a.users.size > 0) {
      const next = new Map<string, Attrs>();
      for (const u of g.usernames) username.push({ attributes: a.user(u, next), value: 1 });
      a.users = next;
    }
    if (g.sockets.size > 0 || a.sockets.size > 0) {
      const next = new Map<string, Attrs>();
      for (const [key, s] of g.sockets) netstat.push({ attributes: a.socket(key, s, next), value: s.state });
      a.sockets = next;
    }
  }
  interner.endRound();
  const selfStart = hrTime(opts.startedMs);
  const single = (value: number): Point[] => [{ attributes: interner.none, value, startTime: selfStart }];
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
    { spec: F.scrapeErrors, points: single(errors.scrapeErrors) },
    { spec: F.scrapePartialErrors, points: single(errors.partialErrors) },
    { spec: F.scrapeProcReadErrors, points: single(errors.procReadErrors) },
    { spec: F.netstatDropped, points: single(errors.droppedSockets) },
  ];
}

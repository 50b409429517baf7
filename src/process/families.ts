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

/**
 * Hands out the same attributes object for the same series from one sample
 * to the next. The producer keeps a family's MetricData (and the exporter
 * its Prometheus text) when a new version has the very same attribute
 * objects and values, so an idle host's families are not re-serialized after
 * every sample. Series not asked for in a round are forgotten.
 */
export class AttributeInterner {
  private previous = new Map<string, Record<string, string>>();
  private current = new Map<string, Record<string, string>>();

  /** Starts a round: what the last round used stays available, the rest is dropped. */
  beginRound(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** `values` in the order of `keys`; the family name keeps equal label values of two families apart. */
  get(family: string, keys: readonly string[], values: readonly string[]): Record<string, string> {
    const id = family + '\u0000' + values.join('\u0000');
    let a = this.current.get(id);
    if (a) return a;
    a = this.previous.get(id);
    if (!a) {
      a = {};
      for (let i = 0; i < keys.length; i++) a[keys[i]!] = values[i]!;
    }
    this.current.set(id, a);
    return a;
  }

  get size(): number {
    return this.current.size;
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

// label keys in sorted order, as client_golang prints them
const GM = ['groupname', 'mode'];
const CG = ['ctxswitchtype', 'groupname'];
const GMT = ['groupname', 'memtype'];
const GS = ['groupname', 'state'];
const GW = ['groupname', 'wchan'];
const GT = ['groupname', 'threadname'];
const GMTN = ['groupname', 'mode', 'threadname'];
const GIT = ['groupname', 'iomode', 'threadname'];
const CGT = ['ctxswitchtype', 'groupname', 'threadname'];
const GU = ['groupname', 'username'];
const GLPR = ['groupname', 'local', 'protocol', 'remote'];

export function buildFamilies(
  views: readonly GroupView[],
  errors: ErrorCounters,
  opts: FamilyOptions,
  interner: AttributeInterner = new AttributeInterner(),
): FamilyData[] {
  interner.beginRound();
  const G = ['groupname'];
  const attrs1 = (family: string, groupname: string): Record<string, string> => interner.get(family, G, [groupname]);
  const attrs = (family: string, keys: readonly string[], values: readonly string[]): Record<string, string> => interner.get(family, keys, values);
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
    const groupname = g.name;
    const startTime = hrTime(g.startMs);
    const c = g.counts;
    const empty = g.numProcs === 0;
    numProcs.push({ attributes: attrs1('num_procs', groupname), value: g.numProcs });
    cpu.push({ attributes: attrs('cpu', GM, [groupname, 'system']), value: seconds(c.systemTicks), startTime });
    cpu.push({ attributes: attrs('cpu', GM, [groupname, 'user']), value: seconds(c.userTicks), startTime });
    if (c.readBytes !== undefined) readBytes.push({ attributes: attrs1('read', groupname), value: c.readBytes, startTime });
    if (c.writeBytes !== undefined) writeBytes.push({ attributes: attrs1('write', groupname), value: c.writeBytes, startTime });
    majflt.push({ attributes: attrs1('majflt', groupname), value: c.majorFaults, startTime });
    minflt.push({ attributes: attrs1('minflt', groupname), value: c.minorFaults, startTime });
    ctx.push({ attributes: attrs('ctx', CG, ['nonvoluntary', groupname]), value: c.ctxNonvoluntary, startTime });
    ctx.push({ attributes: attrs('ctx', CG, ['voluntary', groupname]), value: c.ctxVoluntary, startTime });
    if (opts.gatherSmaps) {
      const pss = empty ? 0 : g.pssBytes;
      const swapPss = empty ? 0 : g.swapPssBytes;
      if (pss !== undefined) memory.push({ attributes: attrs('mem', GMT, [groupname, 'proportionalResident']), value: pss });
      if (swapPss !== undefined) memory.push({ attributes: attrs('mem', GMT, [groupname, 'proportionalSwapped']), value: swapPss });
    }
    memory.push({ attributes: attrs('mem', GMT, [groupname, 'resident']), value: g.residentBytes });
    memory.push({ attributes: attrs('mem', GMT, [groupname, 'swapped']), value: g.swapBytes });
    memory.push({ attributes: attrs('mem', GMT, [groupname, 'virtual']), value: g.virtualBytes });
    const fds = empty ? 0 : g.openFds;
    if (fds !== undefined) openFds.push({ attributes: attrs1('fds', groupname), value: fds });
    const ratio = empty ? 0 : g.worstFdRatio;
    if (ratio !== undefined) worstFd.push({ attributes: attrs1('worst', groupname), value: ratio });
    if (g.oldestStartSeconds !== undefined) oldest.push({ attributes: attrs1('oldest', groupname), value: g.oldestStartSeconds });
    numThreads.push({ attributes: attrs1('threads', groupname), value: g.numThreads });
    for (const state of STATE_NAMES) states.push({ attributes: attrs('states', GS, [groupname, state]), value: g.states[state] });
    for (const [w, n] of g.wchans) wchan.push({ attributes: attrs('wchan', GW, [groupname, w]), value: n });
    if (opts.threads) {
      for (const t of g.threads) {
        const threadname = t.name;
        const ts = hrTime(t.startMs);
        const tc = t.counts;
        thCount.push({ attributes: attrs('thcount', GT, [groupname, threadname]), value: t.count });
        thCpu.push({ attributes: attrs('thcpu', GMTN, [groupname, 'system', threadname]), value: seconds(tc.systemTicks), startTime: ts });
        thCpu.push({ attributes: attrs('thcpu', GMTN, [groupname, 'user', threadname]), value: seconds(tc.userTicks), startTime: ts });
        if (tc.readBytes !== undefined) thIo.push({ attributes: attrs('thio', GIT, [groupname, 'read', threadname]), value: tc.readBytes, startTime: ts });
        if (tc.writeBytes !== undefined) thIo.push({ attributes: attrs('thio', GIT, [groupname, 'write', threadname]), value: tc.writeBytes, startTime: ts });
        thMaj.push({ attributes: attrs('thmaj', GT, [groupname, threadname]), value: tc.majorFaults, startTime: ts });
        thMin.push({ attributes: attrs('thmin', GT, [groupname, threadname]), value: tc.minorFaults, startTime: ts });
        thCtx.push({ attributes: attrs('thctx', CGT, ['nonvoluntary', groupname, threadname]), value: tc.ctxNonvoluntary, startTime: ts });
        thCtx.push({ attributes: attrs('thctx', CGT, ['voluntary', groupname, threadname]), value: tc.ctxVoluntary, startTime: ts });
      }
    }
    if (g.pid !== undefined) pid.push({ attributes: attrs1('pid', groupname), value: g.pid });
    for (const u of g.usernames) username.push({ attributes: attrs('user', GU, [groupname, u]), value: 1 });
    for (const s of g.sockets.values()) {
      netstat.push({ attributes: attrs('netstat', GLPR, [groupname, s.local, s.protocol, s.remote]), value: s.state });
    }
  }
  const selfStart = hrTime(opts.startedMs);
  const single = (family: string, value: number): Point[] => [{ attributes: attrs(family, [], []), value, startTime: selfStart }];
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
    { spec: F.scrapeErrors, points: single('e', errors.scrapeErrors) },
    { spec: F.scrapePartialErrors, points: single('p', errors.partialErrors) },
    { spec: F.scrapeProcReadErrors, points: single('r', errors.procReadErrors) },
    { spec: F.netstatDropped, points: single('d', errors.droppedSockets) },
  ];
}

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

export function buildFamilies(views: readonly GroupView[], errors: ErrorCounters, opts: FamilyOptions): FamilyData[] {
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
    numProcs.push({ attributes: { groupname }, value: g.numProcs });
    cpu.push({ attributes: { groupname, mode: 'system' }, value: seconds(c.systemTicks), startTime });
    cpu.push({ attributes: { groupname, mode: 'user' }, value: seconds(c.userTicks), startTime });
    if (c.readBytes !== undefined) readBytes.push({ attributes: { groupname }, value: c.readBytes, startTime });
    if (c.writeBytes !== undefined) writeBytes.push({ attributes: { groupname }, value: c.writeBytes, startTime });
    majflt.push({ attributes: { groupname }, value: c.majorFaults, startTime });
    minflt.push({ attributes: { groupname }, value: c.minorFaults, startTime });
    ctx.push({ attributes: { ctxswitchtype: 'nonvoluntary', groupname }, value: c.ctxNonvoluntary, startTime });
    ctx.push({ attributes: { ctxswitchtype: 'voluntary', groupname }, value: c.ctxVoluntary, startTime });
    if (opts.gatherSmaps) {
      const pss = empty ? 0 : g.pssBytes;
      const swapPss = empty ? 0 : g.swapPssBytes;
      if (pss !== undefined) memory.push({ attributes: { groupname, memtype: 'proportionalResident' }, value: pss });
      if (swapPss !== undefined) memory.push({ attributes: { groupname, memtype: 'proportionalSwapped' }, value: swapPss });
    }
    memory.push({ attributes: { groupname, memtype: 'resident' }, value: g.residentBytes });
    memory.push({ attributes: { groupname, memtype: 'swapped' }, value: g.swapBytes });
    memory.push({ attributes: { groupname, memtype: 'virtual' }, value: g.virtualBytes });
    const fds = empty ? 0 : g.openFds;
    if (fds !== undefined) openFds.push({ attributes: { groupname }, value: fds });
    const ratio = empty ? 0 : g.worstFdRatio;
    if (ratio !== undefined) worstFd.push({ attributes: { groupname }, value: ratio });
    if (g.oldestStartSeconds !== undefined) oldest.push({ attributes: { groupname }, value: g.oldestStartSeconds });
    numThreads.push({ attributes: { groupname }, value: g.numThreads });
    for (const state of STATE_NAMES) states.push({ attributes: { groupname, state }, value: g.states[state] });
    for (const [w, n] of g.wchans) wchan.push({ attributes: { groupname, wchan: w }, value: n });
    if (opts.threads) {
      for (const t of g.threads) {
        const threadname = t.name;
        const ts = hrTime(t.startMs);
        const tc = t.counts;
        thCount.push({ attributes: { groupname, threadname }, value: t.count });
        thCpu.push({ attributes: { groupname, mode: 'system', threadname }, value: seconds(tc.systemTicks), startTime: ts });
        thCpu.push({ attributes: { groupname, mode: 'user', threadname }, value: seconds(tc.userTicks), startTime: ts });
        if (tc.readBytes !== undefined) thIo.push({ attributes: { groupname, iomode: 'read', threadname }, value: tc.readBytes, startTime: ts });
        if (tc.writeBytes !== undefined) thIo.push({ attributes: { groupname, iomode: 'write', threadname }, value: tc.writeBytes, startTime: ts });
        thMaj.push({ attributes: { groupname, threadname }, value: tc.majorFaults, startTime: ts });
        thMin.push({ attributes: { groupname, threadname }, value: tc.minorFaults, startTime: ts });
        thCtx.push({ attributes: { ctxswitchtype: 'nonvoluntary', groupname, threadname }, value: tc.ctxNonvoluntary, startTime: ts });
        thCtx.push({ attributes: { ctxswitchtype: 'voluntary', groupname, threadname }, value: tc.ctxVoluntary, startTime: ts });
      }
    }
    if (g.pid !== undefined) pid.push({ attributes: { groupname }, value: g.pid });
    for (const u of g.usernames) username.push({ attributes: { groupname, username: u }, value: 1 });
    for (const s of g.sockets.values()) {
      netstat.push({ attributes: { groupname, local: s.local, protocol: s.protocol, remote: s.remote }, value: s.state });
    }
  }
  const selfStart = hrTime(opts.startedMs);
  const single = (value: number): Point[] => [{ attributes: {}, value, startTime: selfStart }];
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

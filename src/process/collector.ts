/**
 * ProcessCollector: the namedprocess_namegroup_* families (process-exporter
 * 0.7.10 compatible, plus our pid, effective_username and netstat).
 *
 * sample() walks /proc once (on its own StageRunner period); families()
 * hands out the families built from the last sample, so a scrape or an OTLP
 * export never touches /proc. One cycle:
 *
 *   1. list pids; read each stat (identity: pid + start time)
 *   2. a process seen before: ignored ones cost that one read; tracked ones
 *      are read in full (source.ts). A new one is named (naming.ts); an
 *      unnamed one may join a tracked ancestor's group (--children).
 *   3. processes gone are swept: their totals stay in their group (grouper.ts)
 *   4. sockets are resolved for netstat (netstat.ts), capped per process
 *   5. group views -> families (families.ts)
 *
 * File reads are synchronous; the event loop gets a turn whenever a slice of
 * work has taken `sliceMs` (a few ms), so a scrape that arrives during a
 * cycle waits at most that long for it.
 */
import type { Config } from '../config/options';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';
import type { ProcFs } from '../procfs/proc-fs';
import { isKernelThread, type PidStat } from '../procfs/pid-stat';
import type { PidStatus } from '../procfs/pid-status';
import { readProcStatSync } from '../procfs/proc-stat';
import { USER_HZ } from '../procfs/pid-stat';
import type { CachedFamily, FamilyData } from '../metrics/producer';
import type { Namer } from './naming';
import { describeFailure, ProcessReader, type ReadOptions } from './source';
import { Tracker, type TrackedProc } from './tracker';
import { Grouper, sortViews, type GroupView } from './grouper';
import { resolveSockets, socketLabels, type SocketLabels } from './netstat';
import { UserNames } from './users';
import { AttributeInterner, buildFamilies, buildFamiliesSliced, buildSelfFamilies, GROUP_KEY_SEPARATOR, type ErrorCounters, type FamilyOptions } from './families';
import { readPidCgroupSync } from '../procfs/pid-cgroup';
import { containerFromCgroups } from '../procfs/cgroup-container';
import { Slicer } from '../util/slicer';

export type ProcessCollectorConfig = Pick<
  Config,
  'processConfigPath' | 'procnames' | 'children' | 'threads' | 'gatherSmaps' | 'removeEmptyGroups' | 'netstatMaxPerProcess'
> &
  Partial<Pick<Config, 'processContainerLabel'>>;

/**
 * --process.container-label: a process in a container (an id in its cgroup, see
 * procfs/cgroup-container.ts) gets a group of its own per container; families.ts turns the
 * key back into `groupname` and `container_id`. Read once per new process, like its name.
 */
function withContainer(name: string, fs: ProcFs, pid: number): string {
  let id: string | undefined;
  try {
    id = containerFromCgroups(readPidCgroupSync(fs, pid)).containerId;
  } catch {
    id = undefined; // exited or unreadable: the plain group
  }
  return id === undefined ? name : `${name}${GROUP_KEY_SEPARATOR}${id}`;
}

/** What the collector is handed by the composition root: it loads no file itself. */
export interface ProcessCollectorOptions {
  /** How processes are named into groups (src/process/namer-loader.ts builds it from the config). */
  namer: Namer;
  /** Reads the passwd text for user names; throws when there is none (users then read as uids). */
  readPasswd: () => string;
  /** Wall clock, ms. */
  now?: () => number;
  /** Synchronous work between two turns of the event loop, ms (default 2): what a scrape may wait for a cycle. */
  sliceMs?: number;
  /** Groups that report num_procs 0 while they have no member (--expect.file). */
  expectedGroups?: readonly string[];
  /** Cycles a process that has not run may keep its Pss and fd limit before they are read again (default 3). */
  maxReuseAge?: number;
  /** false: read every file of every process every cycle, as process-exporter does (bench: the busy-host cost). */
  reuseIdle?: boolean;
}

/** What the last cycle did, for logs, the bench and tests. */
export interface CycleReport {
  /** pids listed. */
  pids: number;
  /** Processes tracked (members of some group). */
  tracked: number;
  groups: number;
  /** Partial errors this cycle. */
  partial: number;
  procReadErrors: number;
  wallMs: number;
}

/** A pid seen this cycle that no rule named: it may still join a tracked ancestor. */
interface Candidate {
  pid: number;
  stat: PidStat;
  status: PidStatus;
  startTimeMs: number;
  /** Group decided by ancestry: a name, null for ignored, undefined while unresolved. */
  decided?: string | null;
  visiting?: boolean;
}

const IGNORED = 'ignored' as const;
type PidEntry = TrackedProc | Candidate | typeof IGNORED;

export class ProcessCollector {
  private namer: Namer;
  private readonly reader: ProcessReader;
  private readonly tracker = new Tracker();
  private readonly grouper: Grouper;
  private readonly users: UserNames;
  private readonly now: () => number;
  private readonly sliceMs: number;
  private readonly startedMs: number;
  private readonly readOptions: ReadOptions;
  private bootMs: number | undefined;
  private renamePending = false;
  private running: Promise<void> | undefined;
  private last: FamilyData[] = [];
  /** Bumped whenever `last` is rebuilt (the producer's cache key). */
  private version = 0;
  private readonly interner = new AttributeInterner();
  private expectedGroups: readonly string[];
  private readonly errors: ErrorCounters = { scrapeErrors: 0, procReadErrors: 0, partialErrors: 0, droppedSockets: 0 };
  private report: CycleReport | undefined;

  constructor(
    private readonly fs: ProcFs,
    private readonly config: ProcessCollectorConfig,
    // stage duration and success are recorded by the daemon's StageRunner ('process_sample')
    _stats: SelfStats,
    private readonly log: Logger,
    options: ProcessCollectorOptions,
  ) {
    this.namer = options.namer;
    this.expectedGroups = options.expectedGroups ?? [];
    this.reader = new ProcessReader(fs);
    this.grouper = new Grouper(this.namer.removeEmptyGroups);
    this.users = new UserNames(options.readPasswd, options.now);
    this.now = options.now ?? Date.now;
    this.sliceMs = options.sliceMs ?? 2;
    this.startedMs = this.now();
    this.readOptions = { threads: config.threads, gatherSmaps: config.gatherSmaps, sockets: true, reuseIdle: options.reuseIdle ?? true, maxReuseAge: options.maxReuseAge ?? 3 };
    this.last = this.build([]);
  }

  /** The namedprocess families from the last sample. Cheap: no /proc access. */
  families(): FamilyData[] {
    return this.last;
  }

  /**
   * The same families for CacheMetricProducer.addCached: rebuilt by the
   * producer only after a sample, and kept (with their Prometheus text) when
   * a sample left a family's series and values as they were.
   */
  cachedFamilies(): CachedFamily[] {
    return this.last.map(({ spec }) => ({
      spec,
      version: () => this.version,
      points: () => this.last.find((f) => f.spec.name === spec.name)?.points ?? [],
    }));
  }

  lastReport(): CycleReport | undefined {
    return this.report;
  }

  errorCounts(): Readonly<ErrorCounters> {
    return this.errors;
  }

  /**
   * Replaces the naming rules (config reload). Every tracked process is
   * named again at the next sample: one whose name changes moves, leaving its
   * totals in the old group; ignored processes are looked at again.
   */
  setNaming(namer: Namer): void {
    this.namer = namer;
    this.grouper.setRemoveEmpty(namer.removeEmptyGroups);
    this.tracker.forgetIgnored();
    this.renamePending = true;
  }

  /** Groups that report num_procs 0 while they have no member (--expect.file); shown from the next sample. */
  setExpectedGroups(names: readonly string[]): void {
    this.expectedGroups = names;
  }

  /** One sampling cycle; concurrent calls share the run in progress. */
  sample(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.cycle().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async cycle(): Promise<void> {
    const started = this.now();
    let pids: number[];
    try {
      pids = await this.fs.listPids();
      this.bootMs ??= readProcStatSync(this.fs).bootTimeSeconds * 1000;
    } catch (err) {
      this.errors.scrapeErrors++;
      // the groups of the last good sample stay; only the error counters move
      this.version++;
      const self = buildSelfFamilies({ ...this.errors }, this.startedMs, this.interner);
      const renewed = new Map(self.map((f) => [f.spec.name, f]));
      this.last = this.last.map((f) => renewed.get(f.spec.name) ?? f);
      throw new Error(`cannot list processes in ${this.fs.root}: ${describeFailure(err)}`);
    }
    const bootMs = this.bootMs;
    const tracker = this.tracker;
    tracker.beginCycle();
    const cycle = tracker.currentCycle;
    const renaming = this.renamePending;
    this.renamePending = false;
    const byPid = new Map<number, PidEntry>();
    const candidates: Candidate[] = [];
    let partial = 0;
    let procRead = 0;

    const slicer = new Slicer(this.sliceMs);

    const readMetrics = async (t: TrackedProc, stat: PidStat, knownStatus?: PidStatus): Promise<void> => {
      let status = knownStatus;
      try {
        status ??= this.reader.status(t.pid);
      } catch (err) {
        procRead++;
        this.log.debug('process unreadable', { pid: t.pid, err: describeFailure(err) });
        return; // keeps its last sample
      }
      const sample = status && (await this.reader.metrics(stat, status, this.readOptions, t.sample, slicer));
      if (!sample) {
        t.seenCycle = -1; // exited mid-read: swept below, not an error
        return;
      }
      if (sample.partial) partial++;
      for (const r of tracker.update(t, sample)) this.grouper.retireThread(r);
    };

    const nameOf = (stat: PidStat, status: PidStatus, startTimeMs: number): string | undefined => {
      const needs = this.namer.needs;
      const attrs = this.reader.staticAttrs(stat.pid, needs);
      if (!attrs) return undefined;
      const name = this.namer.name({
        comm: stat.comm,
        cmdline: attrs.cmdline,
        pid: stat.pid,
        startTimeMs,
        username: needs.username ? this.users.name(status.uids[1]) : '',
        cgroups: attrs.cgroups,
      });
      return name === undefined || !this.config.processContainerLabel ? name : withContainer(name, this.fs, stat.pid);
    };

    const visit = async (pid: number): Promise<void> => {
      let stat: PidStat | undefined;
      try {
        stat = this.reader.stat(pid);
      } catch (err) {
        procRead++;
        this.log.debug('process unreadable', { pid, err: describeFailure(err) });
        return;
      }
      if (!stat) return; // exited since the listing
      const known = tracker.lookup(pid, stat.startTicks);
      if (known === IGNORED) {
        byPid.set(pid, IGNORED);
        return;
      }
      if (known && !renaming && !(this.namer.kind === 'per-pid' && known.comm !== stat.comm)) {
        byPid.set(pid, known);
        await readMetrics(known, stat);
        return;
      }
      // new, or to be named again (config reload; a per-pid process that exec'd or renamed itself)
      if (!known && this.namer.skipKernelThreads && isKernelThread(stat)) {
        tracker.ignore(pid, stat.startTicks);
        byPid.set(pid, IGNORED);
        return;
      }
      let status: PidStatus | undefined;
      try {
        status = this.reader.status(pid);
      } catch (err) {
        procRead++;
        this.log.debug('process unreadable', { pid, err: describeFailure(err) });
        if (known) byPid.set(pid, known);
        return;
      }
      if (!status) return;
      const startTimeMs = bootMs + (stat.startTicks * 1000) / USER_HZ;
      const name = nameOf(stat, status, startTimeMs);
      if (known) {
        if (name === known.group) {
          known.comm = stat.comm;
          byPid.set(pid, known);
          await readMetrics(known, stat, status);
          return;
        }
        this.grouper.leave(known);
        if (name !== undefined) {
          known.group = name;
          known.comm = stat.comm;
          this.grouper.join(known, cycle);
          byPid.set(pid, known);
          await readMetrics(known, stat, status);
          return;
        }
        tracker.untrack(known);
      }
      if (name !== undefined) {
        const t = tracker.track(pid, stat.startTicks, startTimeMs, name, stat.comm);
        this.grouper.join(t, cycle);
        byPid.set(pid, t);
        await readMetrics(t, stat, status);
        return;
      }
      const c: Candidate = { pid, stat, status, startTimeMs };
      candidates.push(c);
      byPid.set(pid, c);
    };

    for (let i = 0; i < pids.length; i++) {
      await visit(pids[i]!);
      await slicer.maybeYield();
    }

    // --children: an unnamed new process joins the group of its nearest tracked ancestor
    const resolve = (c: Candidate): string | null => {
      if (c.decided !== undefined) return c.decided;
      if (!this.config.children || c.visiting) return (c.decided = null);
      c.visiting = true;
      const parent = byPid.get(c.stat.ppid);
      let group: string | null = null;
      if (parent === undefined || parent === IGNORED) group = null;
      else if ('group' in parent) group = parent.group;
      else group = resolve(parent);
      c.visiting = false;
      return (c.decided = group);
    };
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      const group = resolve(c);
      if (group === null) {
        tracker.ignore(c.pid, c.stat.startTicks);
        continue;
      }
      const t = tracker.track(c.pid, c.stat.startTicks, c.startTimeMs, group, c.stat.comm);
      this.grouper.join(t, cycle);
      await readMetrics(t, c.stat, c.status);
      await slicer.maybeYield();
    }

    for (const gone of tracker.sweep()) this.grouper.leave(gone);
    this.grouper.removeEmptyGroups();
    await slicer.maybeYield();

    // netstat: each tracked process's TCP/UDP sockets, at most --process.netstat-max per process
    const withSockets: TrackedProc[] = [];
    for (const t of tracker.all()) if (t.sample && t.sample.socketInodes.length > 0) withSockets.push(t);
    const cap = this.config.netstatMaxPerProcess;
    const { sockets, found } = await resolveSockets(
      this.fs,
      withSockets.map((t) => ({ pid: t.pid, inodes: t.sample!.socketInodes })),
      cap,
    );
    const perProc = new Map<TrackedProc, SocketLabels[]>();
    withSockets.forEach((t, i) => {
      const kept = sockets[i]!;
      this.errors.droppedSockets += found[i]! - kept.length;
      perProc.set(t, kept.map(socketLabels));
    });

    await slicer.maybeYield();
    this.errors.partialErrors += partial;
    this.errors.procReadErrors += procRead;
    const views: GroupView[] = [];
    for (const v of this.grouper.eachView((uid) => this.users.name(uid), (p) => perProc.get(p) ?? [], this.now())) {
      views.push(v);
      await slicer.maybeYield();
    }
    sortViews(views);
    await slicer.maybeYield();
    const families = await buildFamiliesSliced(views, { ...this.errors }, this.familyOptions(), this.interner, slicer);
    // published together: the producer's cache key moves only once the new families are in place
    this.last = families; // views are not kept: a sample's garbage dies young
    this.version++;
    this.report = {
      pids: pids.length,
      tracked: tracker.size,
      groups: views.length,
      partial,
      procReadErrors: procRead,
      wallMs: this.now() - started,
    };
  }

  private build(views: readonly GroupView[]): FamilyData[] {
    this.version++;
    return buildFamilies(views, { ...this.errors }, this.familyOptions(), this.interner);
  }

  private familyOptions(): FamilyOptions {
    return { threads: this.config.threads, gatherSmaps: this.config.gatherSmaps, startedMs: this.startedMs, expectedGroups: this.expectedGroups };
  }
}

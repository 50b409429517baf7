/**
 * Groups: what process-exporter calls a "namegroup". A group's counters are
 * the totals of every process that was ever a member: members that exited
 * leave their last totals in the group's history, so the counters never go
 * backwards while the group exists. Gauges (memory, fds, threads, states)
 * are sums over the members alive now.
 *
 * Per-thread-name counters work the same way one level down: a thread that
 * exits leaves its totals under its name, for as long as some live thread of
 * the group carries that name (process-exporter drops a thread name's
 * history when the name disappears; so do we, which keeps memory bounded
 * when applications number their threads).
 */
import type { Counts, StateCounts } from './source';
import { emptyStates } from './source';
import { addCounts, zeroCounts, type RetiredThread, type TrackedProc } from './tracker';
import type { SocketLabels } from './netstat';

export interface GroupState {
  readonly name: string;
  /** Start of the counters' cumulative interval (ms): the oldest first member's start. */
  startMs: number;
  readonly createdCycle: number;
  /** Sum of the final totals of members that left. */
  readonly history: Counts;
  /** Per thread name: totals of threads that exited. */
  readonly threadHistory: Map<string, Counts>;
  /** Per thread name: start of its series (ms). */
  readonly threadStart: Map<string, number>;
  readonly members: Set<TrackedProc>;
}

export interface ThreadGroupView {
  name: string;
  count: number;
  counts: Counts;
  startMs: number;
}

export interface GroupView {
  name: string;
  startMs: number;
  numProcs: number;
  counts: Counts;
  residentBytes: number;
  virtualBytes: number;
  swapBytes: number;
  /** undefined when no member's smaps_rollup was readable (or --gather-smaps is off). */
  pssBytes: number | undefined;
  swapPssBytes: number | undefined;
  /** undefined when no member's fd table was readable. */
  openFds: number | undefined;
  worstFdRatio: number | undefined;
  /** Oldest member's start, whole seconds since the epoch; undefined for an empty group. */
  oldestStartSeconds: number | undefined;
  numThreads: number;
  states: StateCounts;
  /** Read-only: a one-member group hands out its member's own map. */
  wchans: ReadonlyMap<string, number>;
  /** Thread names of members with 2+ threads (with --threads); empty otherwise. */
  threads: ThreadGroupView[];
  /** pid of the oldest member; undefined for an empty group. */
  pid: number | undefined;
  /** Read-only: one set per user name is shared by the groups of that one user. */
  usernames: ReadonlySet<string>;
  /** netstat series: `protocol|local|remote` -> labels and state. */
  sockets: ReadonlyMap<string, SocketLabels>;
}

/** The views of groups without sockets or wait channels share these: a cycle allocates no empty map per group. */
const NO_SOCKETS: ReadonlyMap<string, SocketLabels> = new Map();
const NO_USERS: ReadonlySet<string> = new Set();
const NO_WCHANS: ReadonlyMap<string, number> = new Map();

export class Grouper {
  private readonly groups = new Map<string, GroupState>();
  /** `{name}` for each user name seen: most groups have one user, and their views share its set. */
  private readonly oneUser = new Map<string, ReadonlySet<string>>();

  constructor(private removeEmpty: boolean) {}

  setRemoveEmpty(remove: boolean): void {
    this.removeEmpty = remove;
  }

  get size(): number {
    return this.groups.size;
  }

  has(name: string): boolean {
    return this.groups.has(name);
  }

  join(proc: TrackedProc, cycle: number): void {
    let g = this.groups.get(proc.group);
    if (!g) {
      g = {
        name: proc.group,
        startMs: proc.startTimeMs,
        createdCycle: cycle,
        history: zeroCounts(),
        threadHistory: new Map(),
        threadStart: new Map(),
        members: new Set(),
      };
      this.groups.set(proc.group, g);
    } else if (g.createdCycle === cycle) {
      // members found in the cycle that created the group all count from their own start
      g.startMs = Math.min(g.startMs, proc.startTimeMs);
    }
    g.members.add(proc);
  }

  /** A member exited (or moved to another group): its totals stay in the group's history. */
  leave(proc: TrackedProc): void {
    const g = this.groups.get(proc.group);
    if (!g) return;
    g.members.delete(proc);
    if (proc.counts) addCounts(g.history, proc.counts.reported);
    for (const th of proc.threads.values()) this.retireThread({ group: proc.group, name: th.name, counts: th.counts.reported });
    proc.threads.clear();
  }

  retireThread(r: RetiredThread): void {
    const g = this.groups.get(r.group);
    if (!g) return;
    let h = g.threadHistory.get(r.name);
    if (!h) g.threadHistory.set(r.name, (h = zeroCounts()));
    addCounts(h, r.counts);
  }

  /** Drops groups without members when empty groups are not kept. */
  removeEmptyGroups(): string[] {
    const removed: string[] = [];
    if (!this.removeEmpty) return removed;
    for (const [name, g] of this.groups) {
      if (g.members.size === 0) {
        this.groups.delete(name);
        removed.push(name);
      }
    }
    return removed;
  }

  /**
   * This cycle's values of every group. `userName` names an effective uid;
   * `sockets` gives a member's netstat series (already capped per process).
   */
  views(userName: (uid: number) => string, sockets: (p: TrackedProc) => readonly SocketLabels[], nowMs: number): GroupView[] {
    return sortViews([...this.eachView(userName, sockets, nowMs)]);
  }

  /** The same views one group at a time, unsorted (the collector yields to the event loop in between). */
  *eachView(userName: (uid: number) => string, sockets: (p: TrackedProc) => readonly SocketLabels[], nowMs: number): Generator<GroupView, void, undefined> {
    for (const g of this.groups.values()) yield this.view(g, userName, sockets, nowMs);
  }

  private view(g: GroupState, userName: (uid: number) => string, sockets: (p: TrackedProc) => readonly SocketLabels[], nowMs: number): GroupView {
    const counts = { ...g.history };
    let residentBytes = 0;
    let virtualBytes = 0;
    let swapBytes = 0;
    let pssBytes: number | undefined;
    let swapPssBytes: number | undefined;
    let openFds: number | undefined;
    let worstFdRatio: number | undefined;
    let oldest: TrackedProc | undefined;
    let numThreads = 0;
    let numProcs = 0;
    const states = emptyStates();
    // a one-member group (per-pid naming: every group) takes its member's maps as they are;
    // merged ones are built only once a second member brings something
    let wchans: ReadonlyMap<string, number> | undefined;
    let merged: Map<string, number> | undefined;
    let user: string | undefined;
    let usernames: Set<string> | undefined;
    let socketMap: Map<string, SocketLabels> | undefined;
    let threadLive: Map<string, { count: number; counts: Counts }> | undefined;
    for (const p of g.members) {
      const s = p.sample;
      if (!s || !p.counts) continue;
      numProcs++;
      addCounts(counts, p.counts.reported);
      residentBytes += s.residentBytes;
      virtualBytes += s.virtualBytes;
      swapBytes += s.swapBytes;
      if (s.pssBytes !== undefined) pssBytes = (pssBytes ?? 0) + s.pssBytes;
      if (s.swapPssBytes !== undefined) swapPssBytes = (swapPssBytes ?? 0) + s.swapPssBytes;
      if (s.openFds !== undefined) {
        openFds = (openFds ?? 0) + s.openFds;
        if (s.fdLimit !== undefined) {
          const ratio = s.fdLimit === 0 ? (s.openFds > 0 ? 1 : 0) : s.openFds / s.fdLimit;
          worstFdRatio = Math.max(worstFdRatio ?? 0, ratio);
        }
      }
      if (!oldest || p.startTicks < oldest.startTicks || (p.startTicks === oldest.startTicks && p.pid < oldest.pid)) oldest = p;
      numThreads += s.numThreads;
      states.Running += s.states.Running;
      states.Sleeping += s.states.Sleeping;
      states.Waiting += s.states.Waiting;
      states.Zombie += s.states.Zombie;
      states.Other += s.states.Other;
      if (s.wchans.size > 0) {
        if (wchans === undefined) wchans = s.wchans;
        else {
          if (merged === undefined) merged = new Map(wchans);
          for (const [w, n] of s.wchans) merged.set(w, (merged.get(w) ?? 0) + n);
          wchans = merged;
        }
      }
      const name = userName(s.euid);
      if (user === undefined) user = name;
      else if (name !== user) (usernames ??= new Set([user])).add(name);
      for (const l of sockets(p)) {
        const key = `${l.protocol}|${l.local}|${l.remote}`;
        socketMap ??= new Map();
        if (!socketMap.has(key)) socketMap.set(key, l);
      }
      for (const th of p.threads.values()) {
        threadLive ??= new Map();
        let e = threadLive.get(th.name);
        if (!e) threadLive.set(th.name, (e = { count: 0, counts: zeroCounts() }));
        e.count++;
        addCounts(e.counts, th.counts.reported);
      }
    }
    const threads: ThreadGroupView[] = [];
    if (threadLive) {
      for (const [name, e] of threadLive) {
        const h = g.threadHistory.get(name);
        if (h) addCounts(e.counts, h);
        let start = g.threadStart.get(name);
        if (start === undefined) g.threadStart.set(name, (start = nowMs));
        threads.push({ name, count: e.count, counts: e.counts, startMs: start });
      }
      threads.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    // a thread name no live thread carries any more: forget it (bounded memory; its series ends)
    for (const name of g.threadHistory.keys()) if (!threadLive?.has(name)) g.threadHistory.delete(name);
    for (const name of g.threadStart.keys()) if (!threadLive?.has(name)) g.threadStart.delete(name);
    return {
      name: g.name,
      startMs: g.startMs,
      numProcs,
      counts,
      residentBytes,
      virtualBytes,
      swapBytes,
      pssBytes,
      swapPssBytes,
      openFds,
      worstFdRatio,
      oldestStartSeconds: oldest ? Math.floor(oldest.startTimeMs / 1000) : undefined,
      numThreads,
      states,
      wchans: wchans ?? NO_WCHANS,
      threads,
      pid: oldest?.pid,
      usernames: usernames ?? (user === undefined ? NO_USERS : this.userSet(user)),
      sockets: socketMap ?? NO_SOCKETS,
    };
  }

  private userSet(name: string): ReadonlySet<string> {
    let set = this.oneUser.get(name);
    if (!set) this.oneUser.set(name, (set = new Set([name])));
    return set;
  }
}

/** Views in group name order (the order of the exposition). */
export function sortViews(views: GroupView[]): GroupView[] {
  return views.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

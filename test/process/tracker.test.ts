/**
 * Identity, monotonic counters and group accumulation, cycle by cycle. Each
 * table row is one sampling cycle; builders take named fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MonotonicCounts, Tracker, zeroCounts } from '../../src/process/tracker';
import { Grouper } from '../../src/process/grouper';
import { emptyStates, type Counts, type ProcSample, type ThreadSample } from '../../src/process/source';

function counts(over: Partial<Counts> = {}): Counts {
  return { ...zeroCounts(), readBytes: 0, writeBytes: 0, ...over };
}

function sample(pid: number, over: Partial<ProcSample> = {}): ProcSample {
  return {
    pid,
    startTicks: 100,
    comm: 'p',
    ppid: 1,
    euid: 0,
    numThreads: 1,
    counts: counts(),
    residentBytes: 4096,
    virtualBytes: 8192,
    swapBytes: 0,
    pssBytes: 1024,
    swapPssBytes: 0,
    reuseAge: 0,
    openFds: 3,
    fdLimit: 1024,
    states: { ...emptyStates(), Sleeping: 1 },
    stateLetter: 'S',
    wchan: '',
    wchans: new Map(),
    threads: undefined,
    socketInodes: [],
    idleReusable: true,
    partial: false,
    ...over,
  };
}

function thread(tid: number, name: string, over: Partial<Counts> = {}): ThreadSample {
  return { tid, startTicks: 100, name, state: 'S', wchan: '', counts: counts(over) };
}

test('MonotonicCounts: real totals first, then only increases; io unknown keeps the last known value', () => {
  const rows: Array<{ now: Partial<Counts>; want: Partial<Counts>; why: string }> = [
    { now: { userTicks: 500, ctxVoluntary: 40, readBytes: 100 }, want: { userTicks: 500, ctxVoluntary: 40, readBytes: 100 }, why: 'first sight counts everything' },
    { now: { userTicks: 510, ctxVoluntary: 50, readBytes: 150 }, want: { userTicks: 510, ctxVoluntary: 50, readBytes: 150 }, why: 'increases add up' },
    { now: { userTicks: 520, ctxVoluntary: 30, readBytes: 150 }, want: { userTicks: 520, ctxVoluntary: 50, readBytes: 150 }, why: 'a drop (thread exited) is not subtracted' },
    { now: { userTicks: 520, ctxVoluntary: 35, readBytes: undefined }, want: { userTicks: 520, ctxVoluntary: 55, readBytes: 150 }, why: 'growth after a drop counts; unreadable io keeps 150' },
    { now: { userTicks: 530, ctxVoluntary: 35, readBytes: 200 }, want: { userTicks: 530, ctxVoluntary: 55, readBytes: 200 }, why: 'io readable again: +50' },
  ];
  let m: MonotonicCounts | undefined;
  for (const row of rows) {
    const now = counts(row.now);
    if (m) m.update(now);
    else m = new MonotonicCounts(now);
    for (const [k, v] of Object.entries(row.want)) assert.equal(m.reported[k as keyof Counts], v, `${row.why}: ${k}`);
  }
});

test('MonotonicCounts: io never readable stays unknown (no fake zero)', () => {
  const m = new MonotonicCounts(counts({ readBytes: undefined, writeBytes: undefined }));
  m.update(counts({ readBytes: undefined, writeBytes: undefined, userTicks: 5 }));
  assert.equal(m.reported.readBytes, undefined);
  assert.equal(m.reported.writeBytes, undefined);
});

test('groups: counters survive member exits and pid reuse; gauges follow live members; empty groups kept or removed', () => {
  for (const removeEmpty of [false, true]) {
    const tracker = new Tracker();
    const grouper = new Grouper(removeEmpty);
    const cycles: Array<{ procs: Array<{ pid: number; start: number; user: number }>; wantUser: number | undefined; wantProcs: number | undefined; why: string }> = [
      { procs: [{ pid: 10, start: 1, user: 100 }, { pid: 11, start: 1, user: 50 }], wantUser: 150, wantProcs: 2, why: 'two members' },
      { procs: [{ pid: 10, start: 1, user: 120 }], wantUser: 170, wantProcs: 1, why: '11 exited: its 50 stay' },
      { procs: [{ pid: 10, start: 1, user: 120 }, { pid: 11, start: 9, user: 7 }], wantUser: 177, wantProcs: 2, why: 'pid 11 reused by a new process: counted in full' },
      { procs: [], wantUser: removeEmpty ? undefined : 177, wantProcs: removeEmpty ? undefined : 0, why: 'all exited' },
    ];
    for (const c of cycles) {
      tracker.beginCycle();
      for (const p of c.procs) {
        let t = tracker.lookup(p.pid, p.start);
        assert.notEqual(t, 'ignored');
        if (!t) {
          t = tracker.track(p.pid, p.start, p.start * 1000, 'app', 'app');
          grouper.join(t, tracker.currentCycle);
        }
        if (t !== 'ignored') tracker.update(t, sample(p.pid, { startTicks: p.start, counts: counts({ userTicks: p.user }) }));
      }
      for (const gone of tracker.sweep()) grouper.leave(gone);
      grouper.removeEmptyGroups();
      const view = grouper.views(String, () => [], 0).find((v) => v.name === 'app');
      assert.equal(view?.counts.userTicks, c.wantUser, `${c.why} (removeEmpty=${removeEmpty})`);
      assert.equal(view?.numProcs, c.wantProcs, c.why);
      if (view && c.wantProcs === 0) {
        assert.equal(view.residentBytes, 0);
        assert.equal(view.pid, undefined);
        assert.equal(view.oldestStartSeconds, undefined);
      }
    }
  }
});

test('thread names: exited threads stay in their name until no thread carries it', () => {
  const tracker = new Tracker();
  const grouper = new Grouper(false);
  const cycles: Array<{ threads: ThreadSample[] | undefined; want: Record<string, [number, number]>; why: string }> = [
    { threads: [thread(1, 'main', { userTicks: 10 }), thread(2, 'worker', { userTicks: 5 }), thread(3, 'worker', { userTicks: 1 })], want: { main: [1, 10], worker: [2, 6] }, why: 'start' },
    { threads: [thread(1, 'main', { userTicks: 12 }), thread(2, 'worker', { userTicks: 9 })], want: { main: [1, 12], worker: [1, 10] }, why: 'worker 3 exited: its 1 tick stays' },
    { threads: [thread(1, 'main', { userTicks: 12 }), thread(2, 'renamed', { userTicks: 9 })], want: { main: [1, 12], renamed: [1, 9] }, why: 'worker renamed: the name is gone, so is its history' },
    { threads: undefined, want: {}, why: 'single-threaded again: no thread series' },
  ];
  for (const c of cycles) {
    tracker.beginCycle();
    let t = tracker.lookup(1, 100);
    if (!t) {
      t = tracker.track(1, 100, 0, 'g', 'p');
      grouper.join(t, tracker.currentCycle);
    }
    if (t === 'ignored') throw new Error('unexpected');
    for (const r of tracker.update(t, sample(1, { threads: c.threads, numThreads: c.threads?.length ?? 1 }))) grouper.retireThread(r);
    const v = grouper.views(String, () => [], 1000)[0]!;
    const got = Object.fromEntries(v.threads.map((th) => [th.name, [th.count, th.counts.userTicks]]));
    assert.deepEqual(got, c.want, c.why);
  }
});

test('a group created in one cycle starts at its oldest first member; later members do not move it', () => {
  const tracker = new Tracker();
  const grouper = new Grouper(false);
  tracker.beginCycle();
  for (const [pid, startMs] of [[1, 5000], [2, 3000]] as const) grouper.join(tracker.track(pid, pid, startMs, 'g', 'p'), tracker.currentCycle);
  tracker.beginCycle();
  grouper.join(tracker.track(3, 3, 1000, 'g', 'p'), tracker.currentCycle);
  assert.equal(grouper.views(String, () => [], 0)[0]!.startMs, 3000);
});

test('ignored processes are remembered until they exit', () => {
  const tracker = new Tracker();
  tracker.beginCycle();
  assert.equal(tracker.lookup(7, 1), undefined);
  tracker.ignore(7, 1);
  tracker.sweep();
  tracker.beginCycle();
  assert.equal(tracker.lookup(7, 1), 'ignored');
  assert.equal(tracker.lookup(7, 2), undefined, 'same pid, other start time: a new process');
  tracker.sweep();
  tracker.beginCycle();
  tracker.sweep();
  assert.equal(tracker.ignoredCount, 0);
});

test('views: a group merges its members wait channels, users and sockets without touching what the members hold', () => {
  const tracker = new Tracker();
  const grouper = new Grouper(false);
  tracker.beginCycle();
  const members = [
    { pid: 1, group: 'many', euid: 0, wchans: [['do_epoll_wait', 1]] },
    { pid: 2, group: 'many', euid: 33, wchans: [['do_epoll_wait', 2], ['futex_wait_queue', 1]] },
    { pid: 3, group: 'many', euid: 0, wchans: [] },
    { pid: 4, group: 'one', euid: 0, wchans: [['hrtimer_nanosleep', 1]] },
    { pid: 5, group: 'other', euid: 0, wchans: [] },
  ] as const;
  const samples = new Map<number, ProcSample>();
  for (const m of members) {
    const t = tracker.track(m.pid, 100, 0, m.group, 'p');
    grouper.join(t, tracker.currentCycle);
    const s = sample(m.pid, { euid: m.euid, wchans: new Map(m.wchans) });
    samples.set(m.pid, s);
    tracker.update(t, s);
  }
  const socket = { protocol: 'tcp', local: '0.0.0.0:80', remote: '0.0.0.0:0', state: 10 } as const;
  const views = new Map(grouper.views((uid) => (uid === 0 ? 'root' : 'www-data'), (p) => (p.pid === 2 ? [socket] : []), 0).map((v) => [v.name, v]));
  const many = views.get('many')!;
  assert.deepEqual([...many.wchans], [['do_epoll_wait', 3], ['futex_wait_queue', 1]]);
  assert.deepEqual([...many.usernames], ['root', 'www-data']);
  assert.deepEqual([...many.sockets.values()], [socket]);
  // the members' own maps are as they were
  assert.deepEqual([...samples.get(1)!.wchans], [['do_epoll_wait', 1]]);
  assert.deepEqual([...samples.get(2)!.wchans], [['do_epoll_wait', 2], ['futex_wait_queue', 1]]);
  const one = views.get('one')!;
  assert.deepEqual([...one.wchans], [['hrtimer_nanosleep', 1]]);
  assert.deepEqual([...one.usernames], ['root']);
  assert.equal(one.sockets.size, 0);
  assert.equal(views.get('other')!.wchans.size, 0);
  assert.deepEqual([...views.get('other')!.usernames], ['root']);
  // and a one-member group allocates nothing per cycle for them: its member's map, one set per user name
  assert.equal(one.wchans, samples.get(4)!.wchans);
  assert.equal(one.usernames, views.get('other')!.usernames);
});

/**
 * ProcessCollector over the literal /proc slice in test/fixtures/proc-process
 * (its README derives every number used here). Tests that change files
 * between cycles work on a copy in a temp directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ProcFs } from '../../src/procfs/proc-fs';
import { ProcessCollector, type ProcessCollectorConfig } from '../../src/process/collector';
import { SelfStats } from '../../src/self-stats';
import { silentLogger } from '../../src/log';
import { groupNames, groupSeries, toSeries, DEFAULT_PROCESS_CONFIG } from './series';
import { loadNamer, namerFromText } from '../../src/process/namer-loader';
import { readPasswdFile } from '../../src/config/process-names';

const FIXTURE = path.resolve(__dirname, '../../../test/fixtures/proc-process');
const PROC = path.join(FIXTURE, 'proc');
const PASSWD = path.join(FIXTURE, 'etc/passwd');
const GROUPS_YAML = path.join(FIXTURE, 'config/groups.yaml');

const BASE: ProcessCollectorConfig = DEFAULT_PROCESS_CONFIG;

function collector(root: string, over: Partial<ProcessCollectorConfig> = {}, maxReuseAge = 3): ProcessCollector {
  return new ProcessCollector(new ProcFs(root), { ...BASE, ...over }, new SelfStats(), silentLogger, {
    namer: loadNamer({ ...BASE, ...over }).namer,
    readPasswd: () => readPasswdFile(PASSWD),
    maxReuseAge,
  });
}

async function sampled(root: string, over: Partial<ProcessCollectorConfig> = {}): Promise<{ c: ProcessCollector; series: Map<string, number> }> {
  const c = collector(root, over);
  await c.sample();
  return { c, series: toSeries(c.families()) };
}

function copyFixture(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'proc-process-'));
  cpSync(PROC, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

test('per-pid default: one group per userland process; kernel threads, vanished and unreadable pids are not groups', async () => {
  const { series, c } = await sampled(PROC);
  assert.deepEqual(groupNames(series), ['bash_200', 'defunct_400', 'python3_600', 'secretd_500', 'sleep_201', 'webserver_100', 'webserver_700']);
  // 300 lost its files after stat: dropped without an error; no error of any kind in a clean fixture
  assert.equal(series.get('namedprocess_scrape_errors_total'), 0);
  assert.equal(series.get('namedprocess_scrape_procread_errors_total'), 0);
  assert.equal(series.get('namedprocess_scrape_partial_errors_total'), 0);
  assert.equal(series.get('namedprocess_netstat_dropped_sockets_total'), 0);
  assert.deepEqual(c.lastReport()?.pids, 10);
});

test('per-pid default: every family of webserver_100, exact (3 threads, sockets, smaps)', async () => {
  const { series } = await sampled(PROC);
  const want: Record<string, number> = {
    'num_procs': 1,
    'cpu_seconds_total{mode="system"}': 1.3, // 130 ticks
    'cpu_seconds_total{mode="user"}': 2.5, // 250 ticks
    'read_bytes_total': 4096,
    'write_bytes_total': 12288,
    'major_page_faults_total': 20,
    'minor_page_faults_total': 1500,
    // the task sum replaces the main thread's own 40/5: 40+7+3, 5+30+1
    'context_switches_total{ctxswitchtype="voluntary"}': 50,
    'context_switches_total{ctxswitchtype="nonvoluntary"}': 36,
    'memory_bytes{memtype="resident"}': 2560 * 4096,
    'memory_bytes{memtype="virtual"}': 104857600,
    'memory_bytes{memtype="swapped"}': 1024 * 1024,
    'memory_bytes{memtype="proportionalResident"}': 6144 * 1024,
    'memory_bytes{memtype="proportionalSwapped"}': 512 * 1024,
    'open_filedesc': 7,
    'worst_fd_ratio': 7 / 1024,
    'oldest_start_time_seconds': 1_700_000_050, // btime + 5000 ticks
    'num_threads': 3,
    // process S, then every task: S, R, S (the main thread twice, as process-exporter counts)
    'states{state="Running"}': 1,
    'states{state="Sleeping"}': 3,
    'states{state="Waiting"}': 0,
    'states{state="Zombie"}': 0,
    'states{state="Other"}': 0,
    'threads_wchan{wchan="do_epoll_wait"}': 2,
    'threads_wchan{wchan="futex_wait_queue"}': 1,
    'thread_count{threadname="webserver"}': 1,
    'thread_count{threadname="worker"}': 2,
    'thread_cpu_seconds_total{mode="system",threadname="webserver"}': 1,
    'thread_cpu_seconds_total{mode="user",threadname="webserver"}': 2,
    'thread_cpu_seconds_total{mode="system",threadname="worker"}': 0.3,
    'thread_cpu_seconds_total{mode="user",threadname="worker"}': 0.5,
    'thread_io_bytes_total{iomode="read",threadname="webserver"}': 4096,
    'thread_io_bytes_total{iomode="write",threadname="webserver"}': 8192,
    'thread_io_bytes_total{iomode="read",threadname="worker"}': 0,
    'thread_io_bytes_total{iomode="write",threadname="worker"}': 4096,
    'thread_major_page_faults_total{threadname="webserver"}': 15,
    'thread_major_page_faults_total{threadname="worker"}': 5,
    'thread_minor_page_faults_total{threadname="webserver"}': 1000,
    'thread_minor_page_faults_total{threadname="worker"}': 500,
    'thread_context_switches_total{ctxswitchtype="nonvoluntary",threadname="webserver"}': 5,
    'thread_context_switches_total{ctxswitchtype="voluntary",threadname="webserver"}': 40,
    'thread_context_switches_total{ctxswitchtype="nonvoluntary",threadname="worker"}': 31,
    'thread_context_switches_total{ctxswitchtype="voluntary",threadname="worker"}': 10,
    'pid': 100,
    'effective_username{username="www-data"}': 1,
    'netstat{local="0.0.0.0:8080",protocol="tcp",remote="0.0.0.0:0"}': 10, // LISTEN
    'netstat{local="[::1]:8080",protocol="tcp",remote="[::1]:50000"}': 1, // ESTABLISHED
    'netstat{local="127.0.0.1:5353",protocol="udp",remote="0.0.0.0:0"}': 7, // unconnected UDP
  };
  const got = groupSeries(series, 'webserver_100');
  for (const [k, v] of Object.entries(want)) assert.equal(got.get(k), v, k);
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort(), 'no other series');
});

test('per-pid default: zombie, container netns, unknown uid, single-threaded process', async () => {
  const { series } = await sampled(PROC);
  const zombie = groupSeries(series, 'defunct_400');
  // no mm and no fd table: real zeros, not errors; a zombie has no wchan
  assert.equal(zombie.get('memory_bytes{memtype="proportionalResident"}'), 0);
  assert.equal(zombie.get('memory_bytes{memtype="swapped"}'), 0);
  assert.equal(zombie.get('open_filedesc'), 0);
  assert.equal(zombie.get('states{state="Zombie"}'), 1);
  assert.equal(zombie.get('write_bytes_total'), 512);
  assert.equal([...zombie.keys()].filter((k) => k.startsWith('threads_wchan')).length, 0);
  const py = groupSeries(series, 'python3_600');
  // its socket is only in 600/net/tcp (another network namespace)
  assert.equal(py.get('netstat{local="10.0.0.5:443",protocol="tcp",remote="10.0.0.9:40000"}'), 1);
  assert.equal(py.get('effective_username{username="1001"}'), 1, 'no passwd entry: the uid');
  const sleep = groupSeries(series, 'sleep_201');
  assert.equal(sleep.get('cpu_seconds_total{mode="system"}'), 0.01);
  assert.equal(sleep.get('states{state="Sleeping"}'), 1);
  assert.equal(sleep.get('threads_wchan{wchan="hrtimer_nanosleep"}'), 1);
  assert.equal([...sleep.keys()].filter((k) => k.startsWith('thread_')).length, 0, 'thread families only for 2+ threads');
  // 700 shares 100's listen socket: each process reports it
  assert.equal(groupSeries(series, 'webserver_700').get('netstat{local="0.0.0.0:8080",protocol="tcp",remote="0.0.0.0:0"}'), 10);
});

test('config file: first match wins, templates, children join their ancestor, duplicate sockets merged', async () => {
  const { series } = await sampled(PROC, { processConfigPath: GROUPS_YAML });
  // secretd (500) matches nothing and its parent (1) is not in the fixture; kernel threads match nothing
  assert.deepEqual(groupNames(series), ['python3:/app/server.py', 'shell:alice', 'web']);
  const web = groupSeries(series, 'web');
  assert.equal(web.get('num_procs'), 2);
  assert.equal(web.get('cpu_seconds_total{mode="user"}'), 2.8); // 250 + 30 ticks
  assert.equal(web.get('open_filedesc'), 11); // 7 + 4
  assert.equal(web.get('worst_fd_ratio'), 0.5); // 700: 4 of 8
  assert.equal(web.get('num_threads'), 4);
  assert.equal(web.get('states{state="Sleeping"}'), 4); // 100: S + S,R,S; 700: S
  assert.equal(web.get('pid'), 100, 'the oldest member');
  assert.equal(web.get('oldest_start_time_seconds'), 1_700_000_050);
  assert.equal([...web.keys()].filter((k) => k.startsWith('netstat')).length, 3, '0.0.0.0:8080 held by both is one series');
  const shell = groupSeries(series, 'shell:alice');
  assert.equal(shell.get('num_procs'), 3, 'bash 200 + its children sleep 201 and zombie 400');
  assert.equal(shell.get('cpu_seconds_total{mode="system"}'), 0.14); // 8 + 1 + 5 ticks
  assert.equal(shell.get('states{state="Zombie"}'), 1);
  assert.equal(groupSeries(series, 'python3:/app/server.py').get('num_procs'), 1);
});

test('--procnames, with and without --children', async () => {
  const withChildren = (await sampled(PROC, { procnames: ['bash', 'webserver'] })).series;
  assert.deepEqual(groupNames(withChildren), ['bash', 'webserver']);
  assert.equal(groupSeries(withChildren, 'bash').get('num_procs'), 3);
  assert.equal(groupSeries(withChildren, 'webserver').get('num_procs'), 2);
  const alone = (await sampled(PROC, { procnames: ['bash', 'webserver'], children: false })).series;
  assert.equal(groupSeries(alone, 'bash').get('num_procs'), 1);
});

test('--threads=false and --gather-smaps=false: those files are not read at all, and their series are gone', async () => {
  const root = copyFixture();
  try {
    // booby-trap the optional sources: reading a directory fails (EISDIR), which would count a partial error
    for (const rel of ['100/task/101/stat', '100/smaps_rollup', '200/smaps_rollup']) {
      rmSync(path.join(root, rel));
      mkdirSync(path.join(root, rel));
    }
    const off = await sampled(root, { threads: false, gatherSmaps: false });
    assert.equal(off.series.get('namedprocess_scrape_partial_errors_total'), 0, 'nothing optional was read');
    const web = groupSeries(off.series, 'webserver_100');
    assert.equal([...web.keys()].filter((k) => k.startsWith('thread_')).length, 0);
    assert.equal(web.get('memory_bytes{memtype="proportionalResident"}'), undefined);
    assert.equal(web.get('states{state="Sleeping"}'), 1, 'without task data the process state counts once');
    assert.equal(web.get('context_switches_total{ctxswitchtype="voluntary"}'), 40, 'main thread only (status)');
    assert.equal(web.get('threads_wchan{wchan="do_epoll_wait"}'), 1);
    const on = await sampled(root);
    // 100: task 101 unreadable and smaps unreadable (one partial error for the process); 200: smaps
    assert.equal(on.series.get('namedprocess_scrape_partial_errors_total'), 2);
    const web2 = groupSeries(on.series, 'webserver_100');
    assert.equal(web2.get('memory_bytes{memtype="proportionalResident"}'), undefined, 'unreadable: no series, not 0');
    assert.equal(web2.get('thread_count{threadname="worker"}'), 1, 'the readable worker thread');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a malformed stat is a procread error; the cycle goes on', async () => {
  const root = copyFixture();
  try {
    mkdirSync(path.join(root, '800'));
    writeFileSync(path.join(root, '800/stat'), 'garbage\n');
    const c = collector(root);
    await c.sample();
    await c.sample();
    const series = toSeries(c.families());
    assert.equal(series.get('namedprocess_scrape_procread_errors_total'), 2, 'one per cycle');
    assert.equal(groupNames(series).length, 7);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('across cycles: exits, pid reuse and growth; counters never decrease; per-pid groups are swept, config groups kept', async () => {
  const root = copyFixture();
  const bump = (rel: string, field: number, by: number): void => {
    const file = path.join(root, rel);
    const text = readFileSync(file, 'utf8');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).trimEnd().split(' ');
    rest[field - 3] = String(Number(rest[field - 3]) + by);
    writeFileSync(file, `${text.slice(0, open)}${text.slice(open, close + 1)} ${rest.join(' ')}\n`);
  };
  try {
    const perPid = collector(root);
    const config = collector(root, { processConfigPath: GROUPS_YAML });
    const history: Array<Map<string, number>> = [];
    const step = async (): Promise<[Map<string, number>, Map<string, number>]> => {
      await perPid.sample();
      await config.sample();
      const a = toSeries(perPid.families());
      const b = toSeries(config.families());
      history.push(a, b);
      return [a, b];
    };
    await step();
    // cycle 2: 100 burns 1 s of user time, 201 exits, 200 runs (one voluntary switch) and reads 1000 bytes
    bump('100/stat', 14, 100);
    writeFileSync(path.join(root, '200/status'), readFileSync(path.join(root, '200/status'), 'utf8').replace('voluntary_ctxt_switches:\t100', 'voluntary_ctxt_switches:\t101'));
    rmSync(path.join(root, '201'), { recursive: true });
    writeFileSync(path.join(root, '200/io'), readFileSync(path.join(root, '200/io'), 'utf8').replace('read_bytes: 1048576', 'read_bytes: 1049576'));
    let [pp, cfg] = await step();
    assert.equal(groupSeries(pp, 'webserver_100').get('cpu_seconds_total{mode="user"}'), 3.5);
    assert.equal(groupSeries(pp, 'sleep_201').size, 0, 'per-pid group of an exited process is removed');
    const shell = groupSeries(cfg, 'shell:alice');
    assert.equal(shell.get('num_procs'), 2);
    assert.equal(shell.get('cpu_seconds_total{mode="system"}'), 0.14, "201's 0.01 s stay in the group");
    assert.equal(shell.get('read_bytes_total'), 1049576);
    // cycle 3: pid 201 is reused by a new sleep (another start time), 100 exits
    cpSync(path.join(PROC, '201'), path.join(root, '201'), { recursive: true, verbatimSymlinks: true });
    bump('201/stat', 22, 500);
    rmSync(path.join(root, '100'), { recursive: true });
    [pp, cfg] = await step();
    assert.equal(groupSeries(pp, 'sleep_201').get('oldest_start_time_seconds'), 1_700_000_205, 'the new process');
    assert.equal(groupSeries(cfg, 'shell:alice').get('cpu_seconds_total{mode="system"}'), 0.15, 'the new child counted in full');
    const web = groupSeries(cfg, 'web');
    assert.equal(web.get('num_procs'), 1);
    assert.equal(web.get('cpu_seconds_total{mode="user"}'), 3.8, "100's 3.5 s stay after it exits");
    // cycle 4: everyone in "web" exits: the configured group stays with num_procs 0 and its counters
    rmSync(path.join(root, '700'), { recursive: true });
    [pp, cfg] = await step();
    const empty = groupSeries(cfg, 'web');
    assert.equal(empty.get('num_procs'), 0);
    assert.equal(empty.get('cpu_seconds_total{mode="user"}'), 3.8);
    assert.equal(empty.get('memory_bytes{memtype="resident"}'), 0);
    assert.equal(empty.get('open_filedesc'), 0);
    assert.equal(empty.get('pid'), undefined);
    assert.equal(empty.get('oldest_start_time_seconds'), undefined);
    // counters of a series never go down from one cycle to the next (same collector)
    for (let i = 2; i < history.length; i++) {
      for (const [k, v] of history[i]!) {
        if (!/_total(\{|$)/.test(k)) continue;
        const before = history[i - 2]!.get(k);
        if (before !== undefined) assert.ok(v >= before, `${k}: ${before} -> ${v}`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('--remove-empty-groups drops a configured group once its last member exits', async () => {
  const root = copyFixture();
  try {
    const c = collector(root, { processConfigPath: GROUPS_YAML, removeEmptyGroups: true });
    await c.sample();
    rmSync(path.join(root, '600'), { recursive: true });
    await c.sample();
    assert.deepEqual(groupNames(toSeries(c.families())), ['shell:alice', 'web']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('netstat is capped per process and the rest counted as dropped', async () => {
  const { series } = await sampled(PROC, { netstatMaxPerProcess: 1 });
  // 100 has 3 TCP/UDP sockets: 2 dropped; 600 and 700 have one each
  assert.equal(series.get('namedprocess_netstat_dropped_sockets_total'), 2);
  assert.equal([...groupSeries(series, 'webserver_100').keys()].filter((k) => k.startsWith('netstat')).length, 1);
});

test('families are built once per sample: a scrape gets the same arrays without touching /proc', async () => {
  const root = copyFixture();
  try {
    const c = collector(root);
    await c.sample();
    const first = c.families();
    rmSync(root, { recursive: true, force: true });
    assert.equal(c.families(), first);
    await assert.rejects(c.sample(), /cannot list processes/);
    assert.equal(toSeries(c.families()).get('namedprocess_scrape_errors_total'), 1);
    assert.equal(groupNames(toSeries(c.families())).length, 7, 'the last good sample stays');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a process that has not run since the last sample is not re-read: io, fds, wchan reused; Pss and fd limit re-read every 4th cycle', async () => {
  const root = copyFixture();
  const edit = (rel: string, from: string, to: string): void => {
    const file = path.join(root, rel);
    writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));
  };
  try {
    const c = collector(root, {}, 3);
    const secretd = async (): Promise<Map<string, number>> => {
      await c.sample();
      return groupSeries(toSeries(c.families()), 'secretd_500');
    };
    await secretd();
    // files change but the process did not run (same ticks, faults, switches): impossible for io, so not looked at
    edit('500/io', 'write_bytes: 4096', 'write_bytes: 9999');
    edit('500/smaps_rollup', 'Pss:                4096 kB', 'Pss:                8192 kB');
    let s = await secretd();
    assert.equal(s.get('write_bytes_total'), 4096);
    assert.equal(s.get('memory_bytes{memtype="proportionalResident"}'), 4096 * 1024);
    await secretd();
    await secretd();
    s = await secretd(); // 4th cycle since the read: Pss is read again
    assert.equal(s.get('memory_bytes{memtype="proportionalResident"}'), 8192 * 1024);
    assert.equal(s.get('write_bytes_total'), 4096);
    // it runs (one more voluntary switch): everything is read again
    edit('500/status', 'voluntary_ctxt_switches:\t60', 'voluntary_ctxt_switches:\t61');
    s = await secretd();
    assert.equal(s.get('write_bytes_total'), 9999);
    assert.equal(s.get('context_switches_total{ctxswitchtype="voluntary"}'), 61);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a thread that has not run since the last sample keeps its io and wait channel; one that ran is read again', async () => {
  const root = copyFixture();
  const edit = (rel: string, from: string, to: string): void => {
    const file = path.join(root, rel);
    const text = readFileSync(file, 'utf8');
    assert.ok(text.includes(from), `${rel} has ${from}`);
    writeFileSync(file, text.replace(from, to));
  };
  try {
    const c = collector(root);
    const web = async (): Promise<Map<string, number>> => {
      await c.sample();
      return groupSeries(toSeries(c.families()), 'webserver_100');
    };
    const WRITE = 'thread_io_bytes_total{iomode="write",threadname="worker"}';
    const first = await web();
    assert.equal(first.get(WRITE), 4096); // 101 wrote 4096, 102 nothing
    // worker 102 sleeps on (same ticks, faults and switches): its io cannot have moved, so it is not read
    edit('100/task/102/io', 'write_bytes: 0', 'write_bytes: 5555');
    edit('100/task/102/wchan', 'futex_wait_queue', 'do_nanosleep');
    let s = await web();
    assert.equal(s.get(WRITE), 4096);
    assert.equal(s.get('threads_wchan{wchan="futex_wait_queue"}'), 1);
    // it runs (one more voluntary switch): read again
    edit('100/task/102/status', 'voluntary_ctxt_switches:\t3', 'voluntary_ctxt_switches:\t4');
    s = await web();
    assert.equal(s.get(WRITE), 4096 + 5555);
    assert.equal(s.get('threads_wchan{wchan="do_nanosleep"}'), 1);
    assert.equal(s.get('threads_wchan{wchan="futex_wait_queue"}'), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cached families: a new version after each sample, with the same attribute objects for unchanged series', async () => {
  const c = collector(PROC);
  await c.sample();
  const cached = c.cachedFamilies();
  const v1 = cached[0]!.version();
  const before = cached.map((f) => f.points());
  await c.sample();
  assert.notEqual(cached[0]!.version(), v1, 'the producer rebuilds after a sample');
  const after = cached.map((f) => f.points());
  assert.equal(after.length, before.length);
  for (let i = 0; i < after.length; i++) {
    assert.equal(after[i]!.length, before[i]!.length, cached[i]!.spec.name);
    // same series, same values, same attribute objects: the producer keeps the MetricData and its text
    after[i]!.forEach((p, j) => {
      assert.equal(p.attributes, before[i]![j]!.attributes);
      assert.equal(p.value, before[i]![j]!.value);
    });
  }
});

test('setNaming (reload): processes are named again; moved ones leave their totals behind, unmatched ones are dropped', async () => {
  const c = collector(PROC, { processConfigPath: GROUPS_YAML });
  await c.sample();
  const reloaded = namerFromText('process_names:\n  - name: "www"\n    comm: [webserver]\n  - name: "{{.ExeBase}}:{{.Matches.script}}"\n    cmdline: [\'^python3 (?P<script>\\S+)\']\n', false);
  c.setNaming(reloaded.namer);
  await c.sample();
  const series = toSeries(c.families());
  // "web" and "shell:alice" keep their history with no members (configured groups are kept); bash and its children now match nothing
  assert.deepEqual(groupNames(series), ['python3:/app/server.py', 'shell:alice', 'web', 'www']);
  const www = groupSeries(series, 'www');
  assert.equal(www.get('num_procs'), 2);
  assert.equal(www.get('cpu_seconds_total{mode="user"}'), 2.8, 'moved processes count their real totals in the new group');
  const web = groupSeries(series, 'web');
  assert.equal(web.get('num_procs'), 0);
  assert.equal(web.get('cpu_seconds_total{mode="user"}'), 2.8, 'the old group keeps what it counted');
  assert.equal(groupSeries(series, 'python3:/app/server.py').get('num_procs'), 1, 'an unchanged name keeps its members');
  assert.equal(groupSeries(series, 'shell:alice').get('num_procs'), 0);
});

test('a kernel without smaps_rollup (before 4.14): Pss and SwapPss summed from <pid>/smaps, not a false 0', async () => {
  const dir = copyFixture();
  try {
    rmSync(path.join(dir, '100', 'smaps_rollup'));
    cpSync(path.join(FIXTURE, 'smaps-pre-4.14', '100', 'smaps'), path.join(dir, '100', 'smaps'));
    const { series } = await sampled(dir);
    const web = groupSeries(series, 'webserver_100');
    assert.equal(web.get('memory_bytes{memtype="proportionalResident"}'), 6144 * 1024);
    assert.equal(web.get('memory_bytes{memtype="proportionalSwapped"}'), 512 * 1024);
    // the zombie has neither file: no memory, 0
    assert.equal(groupSeries(series, 'defunct_400').get('memory_bytes{memtype="proportionalResident"}'), 0);
    assert.equal(series.get('namedprocess_scrape_partial_errors_total'), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process with thousands of fds is read a slice of links at a time: the event loop gets turns in between', async () => {
  const root = copyFixture();
  try {
    const EXTRA = 5000;
    for (let fd = 7; fd < 7 + EXTRA; fd++) symlinkSync('/dev/null', path.join(root, '100', 'fd', String(fd)));
    /** Counts the fd links read. */
    class CountingFs extends ProcFs {
      links = 0;
      override readLinkSync(rel: string): string {
        this.links++;
        return super.readLinkSync(rel);
      }
    }
    const fs = new CountingFs(root);
    const c = new ProcessCollector(fs, BASE, new SelfStats(), silentLogger, {
      namer: loadNamer(BASE).namer,
      readPasswd: () => readPasswdFile(PASSWD),
      sliceMs: 0, // a turn of the event loop at every check
    });
    // the most links read between two turns of the event loop
    let longest = 0;
    let atLastTurn = 0;
    let running = true;
    const tick = (): void => {
      longest = Math.max(longest, fs.links - atLastTurn);
      atLastTurn = fs.links;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await c.sample();
    running = false;
    longest = Math.max(longest, fs.links - atLastTurn);
    assert.ok(fs.links >= 7 + EXTRA, `${fs.links} links read`);
    assert.ok(longest <= 128, `${longest} links read in one go`);
    const web = groupSeries(toSeries(c.families()), 'webserver_100');
    assert.equal(web.get('open_filedesc'), 7 + EXTRA);
    // the sockets among the first fds are still found
    assert.equal(web.get('netstat{local="0.0.0.0:8080",protocol="tcp",remote="0.0.0.0:0"}'), 10);
    assert.equal(web.get('netstat{local="[::1]:8080",protocol="tcp",remote="[::1]:50000"}'), 1);
    assert.equal(web.get('netstat{local="127.0.0.1:5353",protocol="udp",remote="0.0.0.0:0"}'), 7);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The collector over the live /proc with children doing known work: a CPU
 * burn, fsync'd file writes, worker threads under a process title, and
 * loopback sockets. Values must be plausible for that work, and counters
 * must not go backwards, across cycles and across a restart of the
 * collector (a new instance counts each process from its real totals).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ProcFs } from '../../src/procfs/proc-fs';
import { ProcessCollector, type ProcessCollectorConfig } from '../../src/process/collector';
import { loadNamer } from '../../src/process/namer-loader';
import { readPasswdFile } from '../../src/config/process-names';
import { SelfStats } from '../../src/self-stats';
import { silentLogger } from '../../src/log';
import { groupSeries, toSeries, DEFAULT_PROCESS_CONFIG } from './series';

const CONFIG: ProcessCollectorConfig = DEFAULT_PROCESS_CONFIG;

const children: ChildProcess[] = [];
const workDir = mkdtempSync(path.join(tmpdir(), 'live-proc-'));
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

/** Starts `node -e code`; resolves with the child and the first stdout line once it prints one. */
function start(code: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ child, line: buf.slice(0, nl) });
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

const BURN_MS = 700;
const WRITE_BYTES = 4 << 20;

async function sample(c: ProcessCollector): Promise<Map<string, number>> {
  await c.sample();
  return toSeries(c.families());
}

test('live /proc: CPU burn, file writes, threads and sockets show up with plausible values', async () => {
  // burn CPU time, not wall time: on a loaded host a busy loop gets less CPU than the wall clock shows
  const burner = await start(`
    const spent = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    while (spent() < ${BURN_MS}) {}
    console.log('ready');
    setInterval(() => {}, 1000);`);
  const writer = await start(`
    const fs = require('fs');
    const fd = fs.openSync(${JSON.stringify(path.join(workDir, 'out.bin'))}, 'w');
    const chunk = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < ${WRITE_BYTES >> 20}; i++) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    console.log('ready');
    setInterval(() => {}, 1000);`);
  const threaded = await start(`
    const { Worker } = require('worker_threads');
    for (let i = 0; i < 3; i++) new Worker('setInterval(() => {}, 1000)', { eval: true });
    // threads inherit the comm of the thread that creates them: name the main thread last
    setTimeout(() => { process.title = 'ohr-threads'; console.log('ready'); }, 300);
    setInterval(() => {}, 1000);`);
  const sockets = await start(`
    const net = require('net'), dgram = require('dgram');
    const server = net.createServer((s) => { s.on('error', () => {}); }).listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1', () => {
        const udp = dgram.createSocket('udp4');
        udp.bind(0, '127.0.0.1', () => console.log(JSON.stringify({ tcp: server.address().port, client: client.localPort, udp: udp.address().port })));
      });
    });
    setInterval(() => {}, 1000);`);

  const c = new ProcessCollector(new ProcFs('/proc'), CONFIG, new SelfStats(), silentLogger, { namer: loadNamer(CONFIG).namer, readPasswd: () => readPasswdFile() });
  const first = await sample(c);
  const second = await sample(c);

  const burn = groupSeries(second, `node_${burner.child.pid}`);
  const cpu = (burn.get('cpu_seconds_total{mode="user"}') ?? 0) + (burn.get('cpu_seconds_total{mode="system"}') ?? 0);
  assert.ok(cpu >= (BURN_MS / 1000) * 0.9 && cpu < 5, `burner cpu ${cpu}s for ${BURN_MS} ms of CPU burnt`);
  assert.equal(burn.get('num_procs'), 1);
  assert.equal(burn.get('pid'), burner.child.pid);
  assert.equal(burn.get('effective_username{username="root"}') ?? burn.get(`effective_username{username="${process.getuid?.()}"}`), 1);
  assert.ok((burn.get('open_filedesc') ?? 0) >= 3, 'stdio at least');
  assert.ok((burn.get('memory_bytes{memtype="resident"}') ?? 0) > 10 << 20, 'a node process is over 10 MiB resident');
  assert.ok((burn.get('memory_bytes{memtype="proportionalResident"}') ?? 0) > 0);
  const startSeconds = burn.get('oldest_start_time_seconds') ?? 0;
  assert.ok(Math.abs(startSeconds - Date.now() / 1000) < 120, `start time ${startSeconds} is recent`);

  const written = groupSeries(second, `node_${writer.child.pid}`).get('write_bytes_total') ?? 0;
  assert.ok(written >= WRITE_BYTES, `write_bytes_total ${written} >= ${WRITE_BYTES}`);

  const th = groupSeries(second, `ohr-threads_${threaded.child.pid}`);
  assert.equal(th.get('thread_count{threadname="ohr-threads"}'), 1, 'the main thread carries the process title');
  const numThreads = th.get('num_threads') ?? 0;
  assert.ok(numThreads >= 4, `num_threads ${numThreads}`);
  const named = [...th.entries()].filter(([k]) => k.startsWith('thread_count')).reduce((a, [, v]) => a + v, 0);
  assert.equal(named, numThreads, 'every thread is under some thread name');
  const states = ['Running', 'Sleeping', 'Waiting', 'Zombie', 'Other'].reduce((a, s) => a + (th.get(`states{state="${s}"}`) ?? 0), 0);
  assert.equal(states, numThreads + 1, 'process-exporter counts the process state and every task (the main thread twice)');

  const ports = JSON.parse(sockets.line) as { tcp: number; client: number; udp: number };
  const sock = groupSeries(second, `node_${sockets.child.pid}`);
  assert.equal(sock.get(`netstat{local="127.0.0.1:${ports.tcp}",protocol="tcp",remote="0.0.0.0:0"}`), 10, 'LISTEN');
  assert.equal(sock.get(`netstat{local="127.0.0.1:${ports.client}",protocol="tcp",remote="127.0.0.1:${ports.tcp}"}`), 1, 'client ESTABLISHED');
  assert.equal(sock.get(`netstat{local="127.0.0.1:${ports.tcp}",protocol="tcp",remote="127.0.0.1:${ports.client}"}`), 1, 'accepted ESTABLISHED');
  assert.equal(sock.get(`netstat{local="127.0.0.1:${ports.udp}",protocol="udp",remote="0.0.0.0:0"}`), 7, 'unconnected UDP');

  // counters never go backwards between cycles, nor across a restart (a new collector starts from real totals)
  const restarted = await sample(new ProcessCollector(new ProcFs('/proc'), CONFIG, new SelfStats(), silentLogger, { namer: loadNamer(CONFIG).namer, readPasswd: () => readPasswdFile() }));
  for (const pid of [burner.child.pid, writer.child.pid, sockets.child.pid]) {
    const g = `node_${pid}`;
    for (const [k, v] of groupSeries(second, g)) {
      if (!k.includes('_total')) continue;
      const before = groupSeries(first, g).get(k);
      if (before !== undefined) assert.ok(v >= before, `${g} ${k}: ${before} -> ${v} between cycles`);
      const afterRestart = groupSeries(restarted, g).get(k);
      assert.ok(afterRestart !== undefined && afterRestart >= v, `${g} ${k}: ${v} -> ${afterRestart} across a restart`);
    }
  }
  assert.equal(second.get('namedprocess_scrape_procread_errors_total'), 0);
});

test('live /proc: a child that exits is swept and its per-pid group removed', async () => {
  const short = await start(`console.log('ready'); setInterval(() => {}, 1000);`);
  const c = new ProcessCollector(new ProcFs('/proc'), CONFIG, new SelfStats(), silentLogger, { namer: loadNamer(CONFIG).namer, readPasswd: () => readPasswdFile() });
  const before = await sample(c);
  assert.equal(groupSeries(before, `node_${short.child.pid}`).get('num_procs'), 1);
  const exited = new Promise((r) => short.child.once('exit', r));
  short.child.kill('SIGTERM');
  await exited;
  const afterExit = await sample(c);
  assert.equal(groupSeries(afterExit, `node_${short.child.pid}`).size, 0);
});

/**
 * `npm run soak -- --minutes N` (or `node dist/bench/soak.js --minutes N`):
 * the daemon as a child process (node dist/src/main.js, short intervals)
 * under everything at once, for N minutes, loopback only:
 *
 * - process churn: a shell starting dozens of short-lived processes a second,
 *   and a couple of short-lived TCP listeners a second (ports come and go);
 * - 3,000 probed ports: one child listening on 3,000 loopback TCP ports;
 * - scrapes from 50 concurrent clients (keep-alive, each about once a
 *   second, half of them asking for gzip, 10% of them on /, /api/status,
 *   /healthz or a filtered /metrics);
 * - OTLP to a loopback receiver that fails a third of the time (503, 400,
 *   or a hang, in turn).
 *
 * Every 10 s it reads the daemon's own /metrics (process_resident_memory_bytes,
 * nodejs_heap_used_bytes, process_open_fds, nodejs_eventloop_delay_p99_seconds)
 * and checks them against /proc/<pid>; every second it reads the daemon's VmRSS
 * from /proc/<pid>/status for the RSS targets. At the end it prints the figures and
 * PASS/FAIL per target, and exits 1 on any FAIL:
 *   zero crashes, zero unhandled rejections, zero failed scrapes, the RSS
 *   median of the last quarter of the 1 s RSS samples after warm-up at most 100 MiB
 *   and its growth under 5% (issue 11; growth: that median against the median
 *   of the first quarter after warm-up), fd count flat (the floor of the 10 s samples: a
 *   TCP sweep holds up to 64 probe sockets at a time), /metrics p99 under 100 ms in every
 *   30 s window after warm-up, a clean SIGTERM shutdown.
 *
 * The daemon runs with the V8 flags and the environment of every shipped launcher
 * (daemonNodeFlags(), DAEMON_ENV).
 * `--gate-safety`: only crashes, rejections, failed scrapes, fd leaks and the
 * shutdown decide the exit status; every verdict is still printed.
 *
 * As root it runs in a pid and network namespace of its own (bench/isolate.ts), so
 * the daemon sees the soak's processes and sockets and not the rest of the host's;
 * `--no-isolate` runs it on the host as it is.
 *
 * Options: --minutes N (2), --ports N (3000), --clients N (50),
 * --churn N (processes a second, 40), --warmup-seconds N (min(60, 25% of the run));
 * anything after a bare `--` is passed to the daemon (e.g. `-- --no-collector.namedprocess`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { cpus } from 'node:os';
import { startListener, killAndWait, type Child } from '../test/helpers/processes';
import { DAEMON_ENV, daemonNodeFlags } from '../test/helpers/daemon-flags';
import { runIsolated, settingOf } from './isolate';
import { atMost, below, targetLine, type Target } from './targets';

const MAIN = path.resolve(__dirname, '../src/main.js');

/** Arguments after a bare `--` go to the daemon as extra flags (they win over the soak's own). */
const DASH = process.argv.indexOf('--', 2);
const DAEMON_EXTRA = DASH >= 0 ? process.argv.slice(DASH + 1) : [];

function arg(name: string, def: number): number {
  const argv = DASH >= 0 ? process.argv.slice(2, DASH) : process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return Number(argv[i + 1]);
    if (a.startsWith(`--${name}=`)) return Number(a.slice(name.length + 3));
  }
  return def;
}

const MINUTES = arg('minutes', 2);
const PORTS = arg('ports', 3000);
const CLIENTS = arg('clients', 50);
const CHURN = arg('churn', 40);
const DURATION_MS = MINUTES * 60_000;
const WARMUP_MS = arg('warmup-seconds', Math.min(60, (DURATION_MS / 1000) * 0.25)) * 1000;
const SAMPLE_MS = 10_000;
/**
 * RSS for the RSS targets is read from /proc every second. The heap between two
 * collections moves RSS by about 10 MiB within a few seconds, so a quarter of a
 * 2-minute soak's 10 s samples (three of them) gives a median that lands wherever
 * those three fell on that swing; about 20 samples a quarter measure the level.
 */
const RSS_SAMPLE_MS = 1_000;
const WINDOW_MS = 30_000;
/** Issue 11's bounds on the daemon under churn. */
const RSS_LAST_QUARTER_MIB = 100;
const RSS_GROWTH_PCT = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;
const mib = (b: number): number => round(b / 2 ** 20, 1);

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const median = (xs: number[]): number => quantile(xs, 0.5);

// ------------------------------------------------------------ OTLP receiver

type Behaviour = 'ok' | '503' | '400' | 'hang';
/** ok, ok, then one of 503/400/hang in turn: a third fails. */
const CYCLE: Behaviour[] = ['ok', 'ok', '503', 'ok', 'ok', '400', 'ok', 'ok', 'hang'];

class FlakyReceiver {
  readonly counts: Record<Behaviour, number> = { ok: 0, '503': 0, '400': 0, hang: 0 };
  lastOkAt = 0;
  private n = 0;
  private readonly server = http.createServer((req, res) => {
    const b = CYCLE[this.n++ % CYCLE.length]!;
    this.counts[b]++;
    req.on('data', () => undefined);
    req.on('end', () => {
      if (b === 'hang') {
        // never answer; drop the socket after a while so the receiver does not pile up fds
        setTimeout(() => res.destroy(), 20_000).unref();
        return;
      }
      if (b === 'ok') this.lastOkAt = Date.now();
      const status = b === 'ok' ? 200 : Number(b);
      res.writeHead(status, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/metrics`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

// ------------------------------------------------------------ process churn

/**
 * One shell that keeps starting processes: CHURN short-lived ones a second
 * (sleep 0-0.4 s), and two short-lived TCP listeners a second (perl, up to
 * 3 s), so the daemon sees pids and ports come and go all the time.
 */
function startChurn(): ChildProcess {
  const perBatch = Math.max(1, Math.round(CHURN / 3));
  const listener = `perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(Listen=>5,LocalAddr=>"127.0.0.1",LocalPort=>0,ReuseAddr=>1) or exit 1; sleep 1+int(rand(3))'`;
  const script = `
    trap 'kill 0' TERM
    i=0
    while :; do
      for j in $(seq ${perBatch}); do sleep 0.$((RANDOM % 5)) & done
      if [ $((i % 2)) -eq 0 ]; then ${listener} & fi
      i=$((i+1))
      sleep 0.25
      wait -n 2>/dev/null || true
    done`;
  return spawn('bash', ['-c', script], { stdio: 'ignore', detached: true });
}

// ------------------------------------------------------------ the daemon

interface DaemonChild {
  proc: ChildProcess;
  port: number;
  stderrTail: string[];
  unhandled: number;
  errorLines: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startDaemon(otlpEndpoint: string): Promise<DaemonChild> {
  const flags = [
    '--web.listen-address=127.0.0.1:0',
    '--web.max-requests=100',
    '--port.status-interval=5s',
    '--port.label-interval=30s',
    '--process.alive-interval=5s',
    '--port.http-status-interval=10s',
    '--port.check-timeout=1s',
    '--process.sample-interval=5s',
    `--otlp.endpoint=${otlpEndpoint}`,
    '--otlp.interval=2000',
    '--otlp.timeout=1500',
    '--log.level=info',
    ...DAEMON_EXTRA,
  ];
  // Node cannot raise its own RLIMIT_NOFILE: the shell raises the soft limit to the hard one first.
  const quoted = [process.execPath, ...daemonNodeFlags(), MAIN, ...flags].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const proc = spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...DAEMON_ENV, OTEL_SERVICE_NAME: 'ohr-soak' },
  });
  const d: DaemonChild = {
    proc,
    port: 0,
    stderrTail: [],
    unhandled: 0,
    errorLines: 0,
    exit: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let partial = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (/unhandled rejection/i.test(line)) d.unhandled++;
      if (/level=error/.test(line)) d.errorLines++;
      if (!d.port) {
        const m = /msg=serving .*address=[^ ]*:(\d+)/.exec(line);
        if (m) d.port = Number(m[1]);
      }
      d.stderrTail.push(line);
      if (d.stderrTail.length > 200) d.stderrTail.shift();
    }
  });
  const deadline = Date.now() + 30_000;
  while (!d.port) {
    if (proc.exitCode !== null) throw new Error(`daemon exited at start:\n${d.stderrTail.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`daemon not serving after 30 s:\n${d.stderrTail.join('\n')}`);
    await sleep(100);
  }
  return d;
}

// ------------------------------------------------------------ scraping

interface Scrape {
  at: number;
  ms: number;
  ok: boolean;
  path: string;
}

function getOnce(agent: http.Agent, port: number, urlPath: string, gzip = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

const OTHER_PATHS = ['/', '/api/status', '/healthz', '/metrics?collect[]=ports', '/metrics?exclude[]=self'];

async function client(id: number, port: number, until: () => boolean, out: Scrape[], errors: string[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // half the clients ask for gzip, as Prometheus, vmagent and Alloy do; the other half do not
  const gzip = id % 2 === 1;
  await sleep((id * 1000) / CLIENTS); // spread the clients over the second
  while (!until()) {
    const p = Math.random() < 0.1 ? OTHER_PATHS[Math.floor(Math.random() * OTHER_PATHS.length)]! : '/metrics';
    const t0 = process.hrtime.bigint();
    let ok = false;
    try {
      const r = await getOnce(agent, port, p, gzip);
      ok = r.status === 200;
      if (!ok && errors.length < 20) errors.push(`${p}: HTTP ${r.status} ${r.body.slice(0, 100)}`);
    } catch (err) {
      if (errors.length < 20) errors.push(`${p}: ${err instanceof Error ? err.message : String(err)}`);
    }
    out.push({ at: Date.now(), ms: Number(process.hrtime.bigint() - t0) / 1e6, ok, path: p });
    await sleep(800 + Math.random() * 400);
  }
  agent.destroy();
}

// ------------------------------------------------------------ samples

interface Sample {
  at: number;
  rss: number;
  heap: number;
  fds: number;
  loopP99: number;
  cpu: number;
  /** Ground truth from /proc/<pid>. */
  procRss: number;
  procFds: number;
  ports: number;
  /** Last duration of each background stage, seconds. */
  stages: Record<string, number>;
  pageBytes: number;
}

function metric(body: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

let fullPageBytes = 0;

/** The daemon's VmRSS from /proc/<pid>/status in bytes; NaN once it has exited. */
function procRssBytes(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  } catch {
    return NaN;
  }
}

async function sample(port: number, pid: number): Promise<Sample | undefined> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    fullPageBytes = (await getOnce(agent, port, '/metrics')).body.length;
    const { status, body } = await getOnce(agent, port, '/metrics?exclude[]=namedprocess');
    if (status !== 200) return undefined;
    const procRss = procRssBytes(pid);
    let procFds = NaN;
    try {
      procFds = readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // exited
    }
    return {
      at: Date.now(),
      rss: metric(body, 'process_resident_memory_bytes'),
      heap: metric(body, 'nodejs_heap_used_bytes'),
      fds: metric(body, 'process_open_fds'),
      loopP99: metric(body, 'nodejs_eventloop_delay_p99_seconds'),
      cpu: metric(body, 'process_cpu_seconds_total'),
      procRss,
      procFds,
      ports: metric(body, 'otel_host_receiver_ports\\{protocol="tcp"\\}'),
      stages: Object.fromEntries(
        [...body.matchAll(/^otel_host_receiver_stage_duration_seconds\{stage="([^"]+)"\} (\S+)/gm)].map((m) => [m[1]!, Number(m[2])]),
      ),
      pageBytes: fullPageBytes,
    };
  } catch {
    return undefined;
  } finally {
    agent.destroy();
  }
}

// ------------------------------------------------------------ main

async function main(): Promise<number> {
  const started = Date.now();
  process.stdout.write(
    `soak: ${MINUTES} min, ${PORTS} ports, ${CLIENTS} clients, ~${CHURN} processes/s, warm-up ${WARMUP_MS / 1000} s; node ${process.version}; ` +
      `RLIMIT_NOFILE here ${readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/)?.[1] ?? '?'}; in ${settingOf(process.argv)}\n`,
  );
  const forks = (): number => Number(/^processes (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? NaN);
  const forks0 = forks();
  const receiver = new FlakyReceiver();
  const endpoint = await receiver.start();
  let ports: Child | undefined;
  let churn: ChildProcess | undefined;
  let daemon: DaemonChild | undefined;
  const results: Array<{ target: string; value: string; pass: boolean; safety?: boolean }> = [];
  const issueTargets: Target[] = [];
  let rssTimer: NodeJS.Timeout | undefined;
  try {
    ports = await startListener(`many:${PORTS}`, '127.0.0.1', 0, 'ohr-soak-ports');
    daemon = await startDaemon(endpoint);
    const pid = daemon.proc.pid!;
    process.stdout.write(`daemon pid ${pid} serving on 127.0.0.1:${daemon.port}; OTLP to ${endpoint}\n`);
    churn = startChurn();

    let crashed: string | undefined;
    let stopping = false;
    void daemon.exit.then(({ code, signal }) => {
      if (!stopping) crashed = `daemon exited during the soak (code ${code}, signal ${signal})`;
    });
    const end = Date.now() + DURATION_MS;
    const done = (): boolean => Date.now() >= end || crashed !== undefined;

    const scrapes: Scrape[] = [];
    const errors: string[] = [];
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i, daemon!.port, done, scrapes, errors));
    const samples: Sample[] = [];
    const rssSamples: Array<{ at: number; rss: number }> = [];
    rssTimer = setInterval(() => {
      const rss = procRssBytes(pid);
      if (Number.isFinite(rss)) rssSamples.push({ at: Date.now(), rss });
    }, RSS_SAMPLE_MS);
    const first = await sample(daemon.port, pid);
    if (first) samples.push(first);
    let nextSample = Date.now() + SAMPLE_MS;
    while (!done()) {
      await sleep(Math.max(0, Math.min(nextSample, end) - Date.now()));
      if (done() && Date.now() < nextSample) break;
      nextSample += SAMPLE_MS;
      const s = await sample(daemon.port, pid);
      if (!s) continue;
      samples.push(s);
      const recent = scrapes.filter((x) => x.at > s.at - SAMPLE_MS && x.path === '/metrics').map((x) => x.ms);
      process.stdout.write(
        `${String(Math.round((s.at - started) / 1000)).padStart(5)} s  ports ${s.ports}  rss ${mib(s.rss)} MiB  heap ${mib(s.heap)} MiB  fds ${s.fds}  ` +
          `loop p99 ${round(s.loopP99 * 1000)} ms  scrape p99 ${round(quantile(recent, 0.99))} ms (${recent.length})  ` +
          `otlp ok/503/400/hang ${receiver.counts.ok}/${receiver.counts['503']}/${receiver.counts['400']}/${receiver.counts.hang}\n`,
      );
    }
    clearInterval(rssTimer);
    await Promise.all(clients);

    // ---- shutdown
    stopping = true;
    let shutdown = 'not attempted (crashed)';
    let cleanExit = false;
    if (!crashed) {
      const t0 = Date.now();
      daemon.proc.kill('SIGTERM');
      const r = await Promise.race([daemon.exit, sleep(15_000).then(() => undefined)]);
      cleanExit = r !== undefined && r.code === 0;
      shutdown = r === undefined ? 'still running 15 s after SIGTERM' : `exit code ${r.code} after ${Date.now() - t0} ms`;
    }

    // ---- figures
    const warmEnd = started + WARMUP_MS;
    const after = samples.filter((s) => s.at >= warmEnd);
    // RSS and heap saw-tooth with garbage collection (about 10 MiB here), so compare the
    // first and last quarter of the 1 s RSS samples after warm-up (VmRSS of the daemon).
    // Growth after warm-up (issue 11's target) is the median of the last quarter against
    // the median of the first quarter; each quarter's lowest sample is printed beside it,
    // since a leak lifts the floor as well as the median.
    const rssAfter = rssSamples.filter((s) => s.at >= warmEnd).map((s) => s.rss);
    const rssQuarter = Math.max(3, Math.floor(rssAfter.length / 4));
    const rssFirst = rssAfter.slice(0, rssQuarter);
    const rssLast = rssAfter.slice(-rssQuarter);
    const rssWarm = median(rssFirst);
    const rssEnd = median(rssLast);
    const rssGrowth = (rssEnd - rssWarm) / rssWarm;
    // the 10 s samples (the daemon's own figures), for the fd and heap lines
    const quarter = Math.max(3, Math.floor(after.length / 4));
    const firstAfter = after.slice(0, quarter);
    const lastAfter = after.slice(-quarter);
    // fds swing by up to --port.check-concurrency while a TCP sweep runs, so compare floors: a leak lifts the floor
    const fdsWarm = Math.min(...firstAfter.map((s) => s.fds));
    const fdsEnd = Math.min(...lastAfter.map((s) => s.fds));
    const fdsMax = Math.max(...after.map((s) => s.fds));
    const fdTolerance = Math.max(10, fdsWarm * 0.1);
    const metricsScrapes = scrapes.filter((s) => s.path === '/metrics');
    const windows: Array<{ from: number; p99: number; n: number }> = [];
    for (let t = started; t < started + DURATION_MS; t += WINDOW_MS) {
      const w = metricsScrapes.filter((s) => s.at >= t && s.at < t + WINDOW_MS).map((s) => s.ms);
      if (w.length > 0) windows.push({ from: (t - started) / 1000, p99: quantile(w, 0.99), n: w.length });
    }
    const windowsAfter = windows.filter((w) => started + w.from * 1000 >= warmEnd);
    const worstP99 = Math.max(...windowsAfter.map((w) => w.p99));
    const failed = scrapes.filter((s) => !s.ok).length;
    const startS = samples[0];
    const endS = samples[samples.length - 1];
    const cpuRate = startS && endS && endS.at > startS.at ? (endS.cpu - startS.cpu) / ((endS.at - startS.at) / 1000) : NaN;

    process.stdout.write('\n--- figures\n');
    const line = (k: string, v: string | number): void => void process.stdout.write(`${k.padEnd(34)} ${v}\n`);
    line('duration', `${round((Date.now() - started) / 60_000, 2)} min`);
    if (startS) line('start: rss / heap / fds', `${mib(startS.rss)} MiB / ${mib(startS.heap)} MiB / ${startS.fds}`);
    line('after warm-up: rss median / fds floor', `${mib(rssWarm)} MiB / ${fdsWarm}`);
    if (endS) line('end: rss / heap / fds', `${mib(endS.rss)} MiB / ${mib(endS.heap)} MiB / ${endS.fds}`);
    line('end: rss / fds from /proc/<pid>', endS ? `${mib(endS.procRss)} MiB / ${endS.procFds}` : '?');
    line('max heap after warm-up', `${mib(Math.max(...after.map((s) => s.heap)))} MiB`);
    line('heap floor: first / last quarter', `${mib(Math.min(...firstAfter.map((s) => s.heap)))} / ${mib(Math.min(...lastAfter.map((s) => s.heap)))} MiB`);
    line('rss median: first / last quarter', `${mib(rssWarm)} / ${mib(rssEnd)} MiB (${rssQuarter} samples each, 1 s apart)`);
    line('rss lowest: first / last quarter', rssAfter.length > 0 ? `${mib(Math.min(...rssFirst))} / ${mib(Math.min(...rssLast))} MiB` : '?');
    line('max fds after warm-up', fdsMax);
    line('event-loop delay p99 (max sample)', `${round(Math.max(...after.map((s) => s.loopP99)) * 1000)} ms`);
    line('host load average (1/5/15 min)', readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') + ` on ${cpus().length} CPUs`);
    line('host process churn', `${round((forks() - forks0) / ((Date.now() - started) / 1000))} new processes/s`);
    line('daemon CPU', `${round(cpuRate * 100)} % of a core`);
    line('scrapes (all paths) / failed', `${scrapes.length} / ${failed}`);
    line('/metrics scrapes: median / p99 / max', `${round(median(metricsScrapes.map((s) => s.ms)))} / ${round(quantile(metricsScrapes.map((s) => s.ms), 0.99))} / ${round(Math.max(...metricsScrapes.map((s) => s.ms)))} ms`);
    line('/metrics p99 per 30 s window', windows.map((w) => `${w.from}s:${round(w.p99)}`).join(' '));
    line('OTLP requests ok/503/400/hang', `${receiver.counts.ok}/${receiver.counts['503']}/${receiver.counts['400']}/${receiver.counts.hang}`);
    line('OTLP last success', receiver.lastOkAt ? `${round((Date.now() - receiver.lastOkAt) / 1000)} s before the end` : 'never');
    line('daemon level=error log lines', daemon.errorLines);
    line('/metrics page size', `${round(fullPageBytes / 1024)} KiB`);
    const stageMax: Record<string, number> = {};
    for (const s of after) for (const [k, v] of Object.entries(s.stages)) stageMax[k] = Math.max(stageMax[k] ?? 0, v);
    line('stage durations (max sample, ms)', Object.entries(stageMax).map(([k, v]) => `${k}=${round(v * 1000)}`).join(' '));
    line('shutdown', shutdown);
    if (errors.length > 0) process.stdout.write(`first scrape errors:\n  ${errors.join('\n  ')}\n`);

    results.push({ target: 'crashes == 0', value: crashed ?? '0', pass: crashed === undefined , safety: true });
    results.push({ target: 'unhandled rejections == 0', value: String(daemon.unhandled), pass: daemon.unhandled === 0 , safety: true });
    results.push({ target: 'failed scrapes == 0', value: String(failed), pass: failed === 0 , safety: true });
    const lastQuarter = atMost('soak RSS last-quarter median', rssAfter.length >= 6 ? rssEnd / 2 ** 20 : NaN, RSS_LAST_QUARTER_MIB, ' MiB', 1);
    const growth = below('soak RSS growth after warm-up', rssAfter.length >= 6 ? rssGrowth * 100 : NaN, RSS_GROWTH_PCT, '%', 1);
    growth.measured += ` (${mib(rssWarm)} -> ${mib(rssEnd)} MiB, first vs last quarter medians of 1 s samples after warm-up)`;
    issueTargets.push(lastQuarter, growth);
    results.push({ target: `RSS last-quarter median <= ${RSS_LAST_QUARTER_MIB} MiB`, value: lastQuarter.measured, pass: lastQuarter.pass });
    results.push({ target: `RSS growth after warm-up < ${RSS_GROWTH_PCT}%`, value: growth.measured, pass: growth.pass });
    results.push({ target: `fd floor flat (end <= warm + ${Math.round(fdTolerance)})`, value: `${fdsWarm} -> ${fdsEnd} (max ${fdsMax})`, pass: after.length >= 2 && fdsEnd <= fdsWarm + fdTolerance , safety: true });
    results.push({ target: '/metrics p99 < 100 ms, every window after warm-up', value: `worst ${round(worstP99)} ms over ${windowsAfter.length} windows`, pass: windowsAfter.length > 0 && worstP99 < 100 });
    results.push({ target: 'clean shutdown on SIGTERM', value: shutdown, pass: cleanExit , safety: true });
    if (crashed || daemon.unhandled > 0) process.stdout.write(`daemon stderr (last lines):\n${daemon.stderrTail.slice(-30).join('\n')}\n`);
  } finally {
    clearInterval(rssTimer);
    if (churn?.pid) {
      try {
        process.kill(-churn.pid, 'SIGTERM'); // the churn shell's own process group
      } catch {
        // gone
      }
    }
    if (daemon) await killAndWait(daemon.proc, 'SIGKILL');
    if (ports) await ports.kill();
    await receiver.stop();
  }
  process.stdout.write('\n--- targets\n');
  for (const r of results) process.stdout.write(`${r.pass ? 'PASS' : 'FAIL'}  ${r.target.padEnd(50)} ${r.value}\n`);
  for (const t of issueTargets) process.stdout.write(`${targetLine(t)}\n`);
  // --gate safety: only crashes, rejections, failed scrapes, fd leaks and shutdown decide the exit code
  // (CI on a shared 2-core machine); latency and RSS are still printed with their verdicts.
  const gateSafety = process.argv.includes('--gate-safety');
  const ok = results.length > 0 && results.filter((r) => !gateSafety || r.safety).every((r) => r.pass);
  process.stdout.write(ok ? `soak: PASS${gateSafety ? ' (safety targets gate)' : ''}\n` : 'soak: FAIL\n');
  return ok ? 0 : 1;
}

const isolated = runIsolated(__filename, process.argv.slice(2));
if (isolated !== undefined) process.exit(isolated);
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * `npm run bench`: the figures the issues name targets for, measured on this
 * host in one run. Loopback only; every child it starts is killed at the end.
 *
 * Ports (issue 2):
 * - discovery time for the host, in-process, against `ss -ltnup` (wall time
 *   of the command) on the same host, with 3,000 extra listeners present;
 *   target: at most 1.5x ss.
 * - TCP probe sweep time for 3,000 loopback ports.
 * - /metrics latency (median, p99) of a daemon child probing those 3,000
 *   ports every second; target: p99 under 20 ms.
 * Processes (issue 3): bench/process.ts, when present.
 * Network namespaces (issue 8): bench/netns.ts, as root.
 *
 * Prints a table and writes bench-results.json beside the working directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ProcFs } from '../src/procfs/proc-fs';
import { discoverPorts } from '../src/discovery/listeners';
import { ExclusionList } from '../src/discovery/exclusion';
import { PortPool } from '../src/discovery/port-pool';
import { PortMonitor } from '../src/probes/port-monitor';
import { LocalAddresses } from '../src/probes/local-addresses';
import { SelfStats } from '../src/self-stats';
import { startListener, killAndWait } from '../test/helpers/processes';
import { get } from '../test/helpers/http';
import { waitFor } from '../test/helpers/wait';

const PORTS = 3000;
/** Probe period of the daemon under test: short enough that 3 sweeps fall in the 30 s of scraping. */
const PROBE_INTERVAL = '10s';
const MAIN = path.resolve(__dirname, '../src/main.js');

type Results = Record<string, number | string>;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function stats(ms: number[]): { median: number; p99: number; max: number; n: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1]!, n: s.length };
}

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function benchPorts(): Promise<Results> {
  const r: Results = {};
  const many = await startListener(`many:${PORTS}`, '127.0.0.1', 0, 'ohr-bench-many');
  try {
    const fs = new ProcFs('/proc');
    const exclusion = new ExclusionList();
    // warm-up, then 15 runs each
    await discoverPorts(fs, exclusion);
    const ours: number[] = [];
    for (let i = 0; i < 15; i++) ours.push(await timeIt(() => discoverPorts(fs, exclusion)));
    const ss: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = process.hrtime.bigint();
      const out = spawnSync('ss', ['-ltnup'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (out.status !== 0) throw new Error(`ss failed: ${out.stderr}`);
      ss.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const found = (await discoverPorts(fs, exclusion)).ports.length;
    const o = stats(ours);
    const s = stats(ss);
    r['discovery.ports_found'] = found;
    // /proc/net/tcp lists every socket (TIME_WAIT included) while ss filters LISTEN in the kernel:
    // the more sockets the host has, the more we read that ss does not
    let tcpLines = -1; // the header is not a socket
    for await (const text of fs.readTextSlices('net/tcp')) for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) tcpLines++;
    r['discovery.tcp_table_lines'] = tcpLines;
    r['discovery.host_pids'] = (await fs.listPids()).length;
    r['discovery.ours_median_ms'] = round(o.median);
    r['discovery.ss_ltnup_median_ms'] = round(s.median);
    r['discovery.ratio_vs_ss'] = round(o.median / s.median);
    r['discovery.target'] = '<= 1.5x ss';

    // one TCP sweep over the 3,000 ports, as the daemon runs it
    const pool = new PortPool();
    const monitor = new PortMonitor(
      fs,
      pool,
      exclusion,
      new LocalAddresses(),
      // interval 0: no pacing, the sweep runs as fast as it can (the raw cost of 3,000 probes)
      { portStatusIntervalMs: 0, portCheckTimeoutMs: 1000, maxParallelIpChecks: 8, portCheckConcurrency: 64, httpDetectionConcurrency: 10, enableHttpDetection: true },
      new SelfStats(),
    );
    await monitor.rebuild();
    const sweeps: number[] = [];
    for (let i = 0; i < 3; i++) sweeps.push(await timeIt(() => monitor.tcpSweep()));
    const alive = pool.ports().filter((p) => p.tcp?.alive === 1).length;
    r['tcp_sweep.ports'] = pool.ports().filter((p) => p.protocol === 'tcp').length;
    r['tcp_sweep.alive'] = alive;
    r['tcp_sweep.unpaced_median_ms'] = round(stats(sweeps).median);
    const h = await timeIt(() => monitor.httpSweep());
    r['http_detection_sweep_ms'] = round(h);

    // a daemon child probing the 3,000 ports every 10 s (each sweep paced over 2.5 s) while we scrape for 30 s
    const daemon = spawn(
      process.execPath,
      [MAIN, '--web.listen-address=127.0.0.1:0', `--port.status-interval=${PROBE_INTERVAL}`, `--port.http-status-interval=${PROBE_INTERVAL}`, '--no-collector.namedprocess'],
      { env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    try {
      const port = await waitFor('daemon serving', () => /address=[^ ]*:(\d+)/.exec(log)?.[1]);
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitFor('all ports probed', async () => {
        const body = (await get(url)).body;
        return (body.match(/^node_tcp_port_alive\{process_name="ohr-bench-many"/gm)?.length ?? 0) >= PORTS ? true : undefined;
      }, 60_000, 500);
      const lat: number[] = [];
      const until = Date.now() + 30_000;
      let bytes = 0;
      while (Date.now() < until) {
        lat.push(await timeIt(async () => (bytes = (await get(url)).body.length)));
      }
      const l = stats(lat);
      r['metrics.scrapes'] = l.n;
      r['metrics.page_bytes'] = bytes;
      r['metrics.median_ms'] = round(l.median);
      r['metrics.p99_ms'] = round(l.p99);
      r['metrics.max_ms'] = round(l.max);
      r['metrics.target'] = 'p99 < 20 ms with 3,000 ports and probes running';
      const page = (await get(url)).body;
      const sweep = /^otel_host_receiver_stage_duration_seconds\{stage="tcp_probe"\} (\S+)/m.exec(page);
      if (sweep) r['daemon.tcp_sweep_paced_ms'] = round(Number(sweep[1]) * 1000);
      r['daemon.probe_interval'] = PROBE_INTERVAL;
      const m = /^process_resident_memory_bytes (\S+)/m.exec((await get(url)).body);
      if (m) r['daemon.rss_mib'] = round(Number(m[1]) / 2 ** 20, 1);
    } finally {
      await killAndWait(daemon, 'SIGTERM');
    }
  } finally {
    await many.kill();
  }
  return r;
}

async function main(): Promise<void> {
  const all: Results = { host_cpus: (await import('node:os')).cpus().length, node: process.version };
  Object.assign(all, await benchPorts());
  const processBench = path.join(__dirname, 'process.js');
  if (existsSync(processBench)) {
    const mod = (await import(processBench)) as { benchProcess?: () => Promise<Results> };
    if (mod.benchProcess) Object.assign(all, await mod.benchProcess());
  }
  const netnsBench = path.join(__dirname, 'netns.js');
  if (existsSync(netnsBench)) {
    const mod = (await import(netnsBench)) as { benchNetns?: () => Promise<Results> };
    if (mod.benchNetns) Object.assign(all, await mod.benchNetns());
  }
  const width = Math.max(...Object.keys(all).map((k) => k.length));
  for (const [k, v] of Object.entries(all)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
  writeFileSync('bench-results.json', JSON.stringify(all, null, 2) + '\n');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

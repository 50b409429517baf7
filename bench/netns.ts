/**
 * Bench for the ports of other network namespaces (issue 8): 50 namespaces
 * built here (`ip netns`, each with a veth to the host and a 198.19.<i>.0/30
 * link, addresses from 198.18.0.0/15 only), 20 TCP listeners in each, on
 * random ports bound to 0.0.0.0. Measures:
 * - a full discovery (PortMonitor.rebuild: namespaces, four tables per
 *   namespace, fd scan, addresses, probe targets): wall and CPU time;
 * - the between-rebuild pass (addNewListeners with nothing new);
 * - /metrics latency of a daemon child probing the 1,000 namespace ports
 *   (connects to the namespaces' own addresses) every 10 s, started with the
 *   launchers' V8 flags and environment and scraped from a client process of
 *   its own (bench/scrape-client.ts).
 * Needs root and iproute2; returns a "skipped" figure otherwise. Every
 * namespace and child is removed at the end, also on failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ProcFs } from '../src/procfs/proc-fs';
import { ExclusionList } from '../src/discovery/exclusion';
import { PortPool } from '../src/discovery/port-pool';
import { PortMonitor } from '../src/probes/port-monitor';
import { LocalAddresses } from '../src/probes/local-addresses';
import { SelfStats } from '../src/self-stats';
import { startListener, type Child } from '../test/helpers/processes';
import { spawnDaemon } from '../test/helpers/hardening';
import { get } from '../test/helpers/http';
import { waitFor } from '../test/helpers/wait';
import { DAEMON_ENV, daemonNodeFlags } from '../test/helpers/daemon-flags';
import { scrapeInChild } from './scrape-client';

const NAMESPACES = 50;
const PER_NS = 20;
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));

type Results = Record<string, number | string>;

function ip(...args: string[]): void {
  const r = spawnSync(IP!, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

/** Wall and CPU (user+system) milliseconds of `fn`. */
async function measure(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  await fn();
  const d = process.cpuUsage(c);
  return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: (d.user + d.system) / 1000 };
}

function median(xs: number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

export async function benchNetns(): Promise<Results> {
  if (process.getuid?.() !== 0 || !IP) return { 'netns.skipped': 'needs root and ip (iproute2)' };
  const tag = `ohrb${randomBytes(2).toString('hex')}`;
  const names: string[] = [];
  const children: Child[] = [];
  const r: Results = {};
  try {
    for (let i = 0; i < NAMESPACES; i++) {
      const name = `ohr-b-${tag}-${i}`;
      ip('netns', 'add', name);
      names.push(name);
      ip('-n', name, 'link', 'set', 'lo', 'up');
      ip('link', 'add', `${tag}h${i}`, 'type', 'veth', 'peer', 'name', `${tag}n${i}`);
      ip('link', 'set', `${tag}n${i}`, 'netns', name);
      ip('addr', 'add', `198.19.${i}.1/30`, 'dev', `${tag}h${i}`);
      ip('link', 'set', `${tag}h${i}`, 'up');
      ip('-n', name, 'addr', 'add', `198.19.${i}.2/30`, 'dev', `${tag}n${i}`);
      ip('-n', name, 'link', 'set', `${tag}n${i}`, 'up');
    }
    for (const name of names) children.push(await startListener(`many:${PER_NS}`, '0.0.0.0', 0, 'ohr-bench-ns', { netns: name }));

    const fs = new ProcFs('/proc');
    const pool = new PortPool();
    const monitor = new PortMonitor(
      fs,
      pool,
      new ExclusionList(),
      new LocalAddresses(),
      { portStatusIntervalMs: 0, portCheckTimeoutMs: 1000, maxParallelIpChecks: 8, portCheckConcurrency: 64, httpDetectionConcurrency: 10, enableHttpDetection: false },
      new SelfStats(),
    );
    await monitor.rebuild(); // warm-up
    const full: Array<{ wall: number; cpu: number }> = [];
    for (let i = 0; i < 10; i++) full.push(await measure(() => monitor.rebuild()));
    const cheap: Array<{ wall: number; cpu: number }> = [];
    for (let i = 0; i < 20; i++) cheap.push(await measure(() => monitor.addNewListeners()));
    const nsPorts = pool.ports().filter((p) => p.processName === 'ohr-bench-ns');
    r['netns.namespaces'] = NAMESPACES;
    r['netns.ports_found'] = nsPorts.length;
    r['netns.host_pids'] = (await fs.listPids()).length;
    r['netns.full_discovery_wall_median_ms'] = round(median(full.map((x) => x.wall)));
    r['netns.full_discovery_cpu_median_ms'] = round(median(full.map((x) => x.cpu)));
    r['netns.cheap_pass_wall_median_ms'] = round(median(cheap.map((x) => x.wall)));
    r['netns.cheap_pass_cpu_median_ms'] = round(median(cheap.map((x) => x.cpu)));
    const sweep = await measure(() => monitor.tcpSweep());
    r['netns.tcp_sweep_unpaced_ms'] = round(sweep.wall);
    r['netns.tcp_alive_via_namespace_address'] = nsPorts.filter((p) => p.tcp?.alive === 1 && p.check === 'connect').length;

    const daemon = await spawnDaemon(['--port.status-interval=10s'], { nodeFlags: daemonNodeFlags(), env: DAEMON_ENV });
    try {
      const url = `http://127.0.0.1:${daemon.port}/metrics`;
      await waitFor('namespace ports probed', async () => {
        const body = (await get(url)).body;
        return (body.match(/^node_tcp_port_alive\{process_name="ohr-bench-ns".* 1$/gm)?.length ?? 0) >= NAMESPACES * PER_NS ? true : undefined;
      }, 90_000, 500);
      // 20 s of back-to-back scrapes without gzip, from a client process of its own
      const { lat } = await scrapeInChild(url, false, 20_000, 0);
      const s = [...lat].sort((a, b) => a - b);
      r['netns.metrics_scrapes'] = s.length;
      r['netns.metrics_median_ms'] = round(quantile(s, 0.5));
      r['netns.metrics_p99_ms'] = round(quantile(s, 0.99));
      r['netns.metrics_target'] = 'p99 < 20 ms while probes run';
    } finally {
      await daemon.stop();
    }
  } finally {
    for (const c of children) await c.kill().catch(() => undefined);
    // deleting a namespace removes its veth pair
    for (const name of names) spawnSync(IP, ['netns', 'del', name]);
  }
  return r;
}

if (require.main === module) {
  benchNetns().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) process.stdout.write(`${k}  ${v}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * The memory and CPU cost of one OTLP/HTTP protobuf export at 1,000 process
 * groups and 3,000 ports, before and after our encoder:
 *
 * - sdk:     the previous path: PushTimeProducer copies every point to stamp
 *            the push time, the SDK's proto exporter
 *            (@opentelemetry/exporter-metrics-otlp-proto) serializes;
 * - ours:    PushTimeProducer marks the scope, ProtobufMetricExporter encodes
 *            with OtlpProtobufEncoder (default settings: no attribute cache);
 * - cache:   the same with the encoder's attribute cache on.
 *
 * Each variant runs in its own Node process (fresh heap) holding an
 * in-process daemon with default settings but one: its process_names file
 * keeps the default naming (`<comm>_<pid>`, one group per process) for the
 * 1,000 `sleep` copies started here only, so other work on the host does not
 * change the figures (3,000 loopback listeners are started too; the port
 * families cover every listener of the host). Once the daemon's first cycle
 * is done its stages are stopped, so only the exports run. Each export (collect + encode + HTTP POST to a loopback sink
 * in this process) is measured: V8 heap bytes allocated (v8.GCProfiler: what
 * each GC freed plus the growth), CPU time, and the process's peak RSS over
 * all exports (VmHWM, reset through /proc/self/clear_refs before the first)
 * against its RSS before them. The first export runs cold (V8 has not
 * optimized the loops yet: unoptimized code boxes every double it computes);
 * "steady" is the median from the fifth export on, what a long-running
 * daemon pays once a minute.
 *
 * `node --expose-gc dist/bench/otlp-export.js [exports]` (default 12).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GCProfiler } from 'node:v8';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { loadConfig } from '../src/config/options';
import { Daemon } from '../src/daemon';
import { silentLogger } from '../src/log';
import { PushTimeProducer } from '../src/metrics/producer';
import { ProtobufMetricExporter } from '../src/export/otlp';
import { OtlpProtobufEncoder } from '../src/export/otlp-protobuf';
import { startListener } from '../test/helpers/processes';
import { which } from '../test/helpers/pipelines';

const PROCESSES = 1000;
const PORTS = 3000;
/** Exports before the steady-state figures start. */
const COLD = 4;
const VARIANTS = ['sdk', 'ours', 'cache'] as const;
type Variant = (typeof VARIANTS)[number];

const MiB = 1024 * 1024;
const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function status(key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc');
  g();
  g();
}

interface ChildResult {
  variant: Variant;
  points: number;
  bodyBytes: number;
  allocatedMiB: number[];
  cpuMs: number[];
  rssBeforeMiB: number;
  rssPeakMiB: number;
  heapBaseMiB: number;
  heapRetainedMiB: number;
}

/** The comm of the sleeping processes (a copy of sleep under this name); at most 15 characters. */
const COMM = 'ohrbench-sleep';

async function child(variant: Variant, url: string, exports: number, namesFile: string): Promise<ChildResult> {
  const r = loadConfig(['--web.listen-address=127.0.0.1:0', '--metrics.exporter=prometheus', '--storage.path=', `--config.path=${namesFile}`], {});
  if (r.kind !== 'config') throw new Error('config');
  const daemon = new Daemon(r.config, silentLogger);
  await daemon.start();
  await daemon.ready;
  await daemon.stop(0);

  let exporter: PushMetricExporter;
  let producer: PushTimeProducer;
  if (variant === 'sdk') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
    exporter = new OTLPMetricExporter({ url });
    producer = new PushTimeProducer(daemon.producer, Date.now, 'copy');
  } else {
    exporter = new ProtobufMetricExporter({ url }, new OtlpProtobufEncoder({ cacheAttributes: variant === 'cache' }));
    producer = new PushTimeProducer(daemon.producer, Date.now, 'mark');
  }
  let points = 0;
  const once = async (): Promise<void> => {
    const { resourceMetrics } = await producer.collect();
    points = count(resourceMetrics);
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(resourceMetrics, resolve));
    if (result.code !== 0) throw new Error(`export failed: ${result.error?.message}`);
  };

  gc();
  const heapBase = process.memoryUsage().heapUsed;
  const rssBefore = status('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  const allocated: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < exports; i++) {
    gc();
    const start = process.memoryUsage().heapUsed;
    const profiler = new GCProfiler();
    profiler.start();
    const c0 = process.cpuUsage();
    await once();
    const c = process.cpuUsage(c0);
    const end = process.memoryUsage().heapUsed;
    const stats = profiler.stop()?.statistics ?? [];
    let freed = 0;
    for (const s of stats) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    allocated.push((freed + end - start) / MiB);
    cpu.push((c.user + c.system) / 1000);
  }
  const rssPeak = status('VmHWM');
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  await exporter.shutdown();
  const bodyBytes = variant === 'sdk' ? NaN : new OtlpProtobufEncoder().encode((await producer.collect()).resourceMetrics).length;
  return {
    variant,
    points,
    bodyBytes,
    allocatedMiB: allocated,
    cpuMs: cpu,
    rssBeforeMiB: rssBefore / MiB,
    rssPeakMiB: rssPeak / MiB,
    heapBaseMiB: heapBase / MiB,
    // what the exports leave behind after a GC (the attribute cache, when on)
    heapRetainedMiB: (heapAfter - heapBase) / MiB,
  };
}

function count(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

async function runChild(variant: Variant, url: string, exports: number, namesFile: string): Promise<ChildResult> {
  const proc = spawn(process.execPath, ['--expose-gc', __filename, 'child', variant, url, String(exports), namesFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  if (code !== 0) throw new Error(`${variant} child exited ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

export async function benchOtlpExport(exports = 12): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ohr-bench-otlp-'));
  const sleep = path.join(dir, COMM);
  const sleepBin = which('sleep');
  if (!sleepBin) throw new Error('sleep not found on PATH');
  copyFileSync(sleepBin, sleep);
  const namesFile = path.join(dir, 'process_names.yml');
  writeFileSync(namesFile, `process_names:\n  - name: "{{.Comm}}_{{.PID}}"\n    comm: [${COMM}]\n`);
  const sleeps: ChildProcess[] = [];
  for (let i = 0; i < PROCESSES; i++) sleeps.push(spawn(sleep, ['3600'], { stdio: 'ignore' }));
  const many = await startListener(`many:${PORTS}`, '127.0.0.1', 0, 'ohr-bench-otlp');
  let bodies = 0;
  let bodyBytes = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (b: Buffer) => (bodyBytes += b.length));
    req.on('end', () => {
      bodies++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/metrics`;
  const results: Record<string, number | string> = {};
  try {
    for (const variant of VARIANTS) {
      const r = await runChild(variant, url, exports, namesFile);
      const p = `otlp_${variant}`;
      results[`${p}_points`] = r.points;
      if (!Number.isNaN(r.bodyBytes)) results.otlp_body_bytes = r.bodyBytes;
      results[`${p}_cold_allocated_mib`] = round(r.allocatedMiB[0]!, 2);
      results[`${p}_cold_cpu_ms`] = round(r.cpuMs[0]!);
      results[`${p}_steady_allocated_mib_median`] = round(median(r.allocatedMiB.slice(COLD)), 2);
      results[`${p}_steady_cpu_ms_median`] = round(median(r.cpuMs.slice(COLD)));
      results[`${p}_rss_before_mib`] = round(r.rssBeforeMiB);
      results[`${p}_rss_peak_mib`] = round(r.rssPeakMiB);
      results[`${p}_rss_peak_over_before_mib`] = round(r.rssPeakMiB - r.rssBeforeMiB);
      results[`${p}_heap_base_mib`] = round(r.heapBaseMiB);
      results[`${p}_heap_retained_mib`] = round(r.heapRetainedMiB, 2);
    }
    results.otlp_sink_requests = bodies;
    results.otlp_sink_mib = round(bodyBytes / MiB);
  } finally {
    sink.close();
    await many.kill();
    for (const s of sleeps) s.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (require.main === module) {
  if (process.argv[2] === 'child') {
    child(process.argv[3] as Variant, process.argv[4]!, Number(process.argv[5]), process.argv[6]!)
      .then((r) => {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  } else {
    benchOtlpExport(Number(process.argv[2] ?? 12))
      .then((r) => {
        for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(44)} ${v}`);
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  }
}

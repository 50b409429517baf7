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
 * in-process daemon with default settings (1,000 `sleep` processes, one group
 * each by the default naming, and 3,000 loopback listeners started here);
 * once its first cycle is done the daemon's stages are stopped, so only the
 * exports run. Each export (collect + encode + HTTP POST to a loopback sink
 * in this process) is measured: V8 heap bytes allocated (v8.GCProfiler: what
 * each GC freed plus the growth), the largest heap seen, CPU time, and the
 * process's peak RSS over all exports (VmHWM, reset through
 * /proc/self/clear_refs after warm-up) against its RSS before them.
 *
 * `node --expose-gc dist/bench/otlp-export.js [exports]` (default 10).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

const PROCESSES = 1000;
const PORTS = 3000;
const WARMUP = 3;
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
  heapPeakOverBaseMiB: number[];
  cpuMs: number[];
  rssBeforeMiB: number;
  rssPeakMiB: number;
  heapBaseMiB: number;
  heapRetainedMiB: number;
}

async function child(variant: Variant, url: string, exports: number): Promise<ChildResult> {
  const r = loadConfig(['--web.listen-address=127.0.0.1:0', '--metrics.exporter=prometheus', '--storage.path='], {});
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
  const heapFresh = process.memoryUsage().heapUsed;
  for (let i = 0; i < WARMUP; i++) await once();
  gc();
  const heapBase = process.memoryUsage().heapUsed;
  const rssBefore = status('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  const allocated: number[] = [];
  const heapPeak: number[] = [];
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
    let peak = end;
    for (const s of stats) {
      freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
      peak = Math.max(peak, s.beforeGC.heapStatistics.usedHeapSize);
    }
    allocated.push((freed + end - start) / MiB);
    heapPeak.push((peak - start) / MiB);
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
    heapPeakOverBaseMiB: heapPeak,
    cpuMs: cpu,
    rssBeforeMiB: rssBefore / MiB,
    rssPeakMiB: rssPeak / MiB,
    heapBaseMiB: heapBase / MiB,
    // what the exports leave behind after a GC (the attribute cache, when on)
    heapRetainedMiB: (heapAfter - heapFresh) / MiB,
  };
}

function count(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

async function runChild(variant: Variant, url: string, exports: number): Promise<ChildResult> {
  const proc = spawn(process.execPath, ['--expose-gc', __filename, 'child', variant, url, String(exports)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  if (code !== 0) throw new Error(`${variant} child exited ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

export async function benchOtlpExport(exports = 10): Promise<Record<string, number | string>> {
  const sleeps: ChildProcess[] = [];
  for (let i = 0; i < PROCESSES; i++) sleeps.push(spawn('sleep', ['3600'], { stdio: 'ignore' }));
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
      const r = await runChild(variant, url, exports);
      const p = `otlp_${variant}`;
      results[`${p}_points`] = r.points;
      if (!Number.isNaN(r.bodyBytes)) results.otlp_body_bytes = r.bodyBytes;
      results[`${p}_allocated_mib_median`] = round(median(r.allocatedMiB), 2);
      results[`${p}_heap_peak_over_base_mib_median`] = round(median(r.heapPeakOverBaseMiB), 2);
      results[`${p}_cpu_ms_median`] = round(median(r.cpuMs));
      results[`${p}_cpu_ms_max`] = round(Math.max(...r.cpuMs));
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
  }
  return results;
}

if (require.main === module) {
  if (process.argv[2] === 'child') {
    child(process.argv[3] as Variant, process.argv[4]!, Number(process.argv[5]))
      .then((r) => {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  } else {
    benchOtlpExport(Number(process.argv[2] ?? 10))
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

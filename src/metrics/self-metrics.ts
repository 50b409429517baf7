/**
 * The daemon's own metrics, as ordinary observable instruments on the shared
 * MeterProvider: small fixed cardinality, never stale, so the SDK's
 * instrument path fits them (see producer.ts for why the contract families
 * do not use it). Callbacks only read SelfStats and process counters.
 */
import type { Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcFs } from '../procfs/proc-fs';
import type { PortPool } from '../discovery/port-pool';
import type { SelfStats } from '../self-stats';
import { VERSION } from '../version';

export const SELF_PREFIXES = ['otel_host_receiver_', 'process_', 'nodejs_'] as const;

export function registerSelfMetrics(meter: Meter, stats: SelfStats, pool: PortPool, selfFs: ProcFs, otlpEnabled = true): () => void {
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const resetWindow = setInterval(() => loopDelay.reset(), 60_000).unref();

  meter
    .createObservableGauge('otel_host_receiver_build_info', { description: 'A metric with a constant 1 labeled by version and Node.js version.' })
    .addCallback((r) => r.observe(1, { version: VERSION, nodejs_version: process.version }));

  const stageDuration = meter.createObservableGauge('otel_host_receiver_stage_duration_seconds', {
    description: 'Duration of the last run of each background stage in seconds.',
    unit: 's',
  });
  const stageSuccess = meter.createObservableGauge('otel_host_receiver_stage_success', {
    description: 'Whether the last run of each background stage succeeded (1) or failed (0).',
  });
  const stageLast = meter.createObservableGauge('otel_host_receiver_stage_last_run_timestamp_seconds', {
    description: 'Unix time of the last run of each background stage.',
    unit: 's',
  });
  const stageRuns = meter.createObservableCounter('otel_host_receiver_stage_runs_total', { description: 'Runs of each background stage.' });
  const stageFailures = meter.createObservableCounter('otel_host_receiver_stage_failures_total', { description: 'Failed runs of each background stage.' });
  meter.addBatchObservableCallback(
    (r) => {
      for (const [stage, s] of stats.stages) {
        r.observe(stageDuration, s.durationSeconds, { stage });
        r.observe(stageSuccess, s.success, { stage });
        r.observe(stageLast, s.lastRunSeconds, { stage });
        r.observe(stageRuns, s.runs, { stage });
        r.observe(stageFailures, s.failures, { stage });
      }
    },
    [stageDuration, stageSuccess, stageLast, stageRuns, stageFailures],
  );

  meter
    .createObservableCounter('otel_host_receiver_probes_total', { description: 'Probes run, by kind (tcp, http, udp, process) and result.' })
    .addCallback((r) => {
      for (const [key, n] of stats.probeResults) {
        const [kind, result] = key.split('\0');
        r.observe(n, { kind: kind!, result: result! });
      }
    });

  // only when OTLP push is on: an "up" of 1 for an export that does not run would mislead
  if (otlpEnabled) {
    meter
      .createObservableCounter('otel_host_receiver_otlp_exports_total', { description: 'OTLP exports attempted, by result.' })
      .addCallback((r) => {
        r.observe(stats.otlp.exports - stats.otlp.failures, { result: 'success' });
        r.observe(stats.otlp.failures, { result: 'failure' });
      });
    meter
      .createObservableGauge('otel_host_receiver_otlp_up', { description: 'Whether the last OTLP export succeeded (1) or failed (0).' })
      .addCallback((r) => r.observe(stats.otlp.up));
  }

  meter
    .createObservableGauge('otel_host_receiver_ports', { description: 'Ports in the port<->process pool, by protocol.' })
    .addCallback((r) => {
      const { tcp, udp } = pool.counts();
      r.observe(tcp, { protocol: 'tcp' });
      r.observe(udp, { protocol: 'udp' });
    });
  meter
    .createObservableGauge('otel_host_receiver_excluded_ports', { description: 'Listening ports skipped because their process is excluded.' })
    .addCallback((r) => r.observe(pool.excluded().length));
  meter
    .createObservableGauge('otel_host_receiver_unowned_sockets', {
      description: 'Listening sockets whose owning process could not be read at the last discovery (permissions, hidepid, kernel sockets).',
    })
    .addCallback((r) => r.observe(stats.discovery.unowned));
  meter
    .createObservableGauge('otel_host_receiver_unreadable_processes', {
      description: 'Processes whose fd table was unreadable at the last discovery (EACCES: run as root or with CAP_SYS_PTRACE).',
    })
    .addCallback((r) => r.observe(stats.discovery.deniedPids));

  // process_* of the daemon itself, as every Prometheus client library exposes them.
  meter
    .createObservableCounter('process_cpu_seconds_total', { description: 'Total user and system CPU time spent in seconds.', unit: 's' })
    .addCallback((r) => {
      const u = process.cpuUsage();
      r.observe((u.user + u.system) / 1e6);
    });
  meter
    .createObservableGauge('process_resident_memory_bytes', { description: 'Resident memory size in bytes.', unit: 'By' })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter
    .createObservableGauge('process_start_time_seconds', { description: 'Start time of the process since unix epoch in seconds.', unit: 's' })
    .addCallback((r) => r.observe(Math.floor(stats.startedAt / 1000)));
  meter
    .createObservableGauge('process_open_fds', { description: 'Number of open file descriptors.' })
    .addCallback((r) => {
      try {
        r.observe(selfFs.listDirSync('self/fd').length);
      } catch {
        // not on Linux or /proc not mounted: no value rather than a wrong one
      }
    });
  // one process.memoryUsage() per collection for the four (it walks the heap spaces)
  const heapUsed = meter.createObservableGauge('nodejs_heap_used_bytes', { description: 'V8 heap in use in bytes.', unit: 'By' });
  const heapTotal = meter.createObservableGauge('nodejs_heap_total_bytes', { description: 'V8 heap reserved (committed) in bytes.', unit: 'By' });
  const external = meter.createObservableGauge('nodejs_external_memory_bytes', {
    description: 'Memory outside the V8 heap held by JavaScript objects (Buffers, array buffers) in bytes.',
    unit: 'By',
  });
  const arrayBuffers = meter.createObservableGauge('nodejs_array_buffers_bytes', { description: 'Memory of ArrayBuffers and Buffers in bytes (part of external).', unit: 'By' });
  meter.addBatchObservableCallback(
    (r) => {
      const m = process.memoryUsage();
      r.observe(heapUsed, m.heapUsed);
      r.observe(heapTotal, m.heapTotal);
      r.observe(external, m.external);
      r.observe(arrayBuffers, m.arrayBuffers);
    },
    [heapUsed, heapTotal, external, arrayBuffers],
  );
  meter
    .createObservableGauge('nodejs_eventloop_delay_p99_seconds', { description: 'Event loop delay p99 in seconds, over a window reset every minute.', unit: 's' })
    .addCallback((r) => {
      r.observe(loopDelay.percentile(99) / 1e9);
    });
  return () => {
    clearInterval(resetWindow);
    loopDelay.disable();
  };
}

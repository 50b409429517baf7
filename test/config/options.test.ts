import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, OPTIONS, renderHelp, type Config } from '../../src/config/options';
import { formatDuration, parseDuration } from '../../src/config/duration';

function load(argv: string[], env: Record<string, string> = {}): Config {
  const r = loadConfig(argv, env);
  assert.equal(r.kind, 'config');
  return (r as { config: Config }).config;
}

function rejects(argv: string[], env: Record<string, string>, key: string): void {
  assert.throws(() => loadConfig(argv, env), (err: unknown) => err instanceof ConfigError && err.key === key, `expected ConfigError naming ${key}`);
}

test('durations: units, sequences, and bare numbers refused', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('8h'), 28_800_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('60'), undefined);
  assert.equal(parseDuration('1x'), undefined);
  assert.equal(parseDuration(''), undefined);
  assert.equal(formatDuration(28_800_000), '8h');
  assert.equal(formatDuration(1500), '1500ms');
});

test('defaults are the documented ones and follow the OpenTelemetry spec', () => {
  const c = load([]);
  assert.equal(c.listenAddress, ':9464');
  assert.equal(c.telemetryPath, '/metrics');
  assert.equal(c.procfs, '/proc');
  assert.equal(c.portStatusIntervalMs, 60_000);
  assert.equal(c.httpStatusIntervalMs, 60_000);
  assert.equal(c.udpStatusIntervalMs, 60_000);
  assert.equal(c.processAliveIntervalMs, 60_000);
  assert.equal(c.portLabelIntervalMs, 8 * 3_600_000);
  assert.equal(c.portCheckTimeoutMs, 1000);
  assert.equal(c.maxParallelIpChecks, 8);
  assert.equal(c.httpDetectionConcurrency, 10);
  assert.equal(c.enableHttpDetection, true);
  assert.deepEqual(c.exporters, ['prometheus', 'otlp']);
  assert.equal(c.otlpProtocol, 'http/protobuf');
  assert.equal(c.otlpEndpoint, 'http://localhost:4318/v1/metrics');
  assert.equal(c.exportIntervalMs, 60_000);
});

test('HTTP and UDP intervals follow PORT_STATUS_INTERVAL unless set', () => {
  const c = load([], { PORT_STATUS_INTERVAL: '30s', PORT_UDP_STATUS_INTERVAL: '2m' });
  assert.equal(c.httpStatusIntervalMs, 30_000);
  assert.equal(c.udpStatusIntervalMs, 120_000);
});

test('flags win over env; both flag spellings and boolean forms work', () => {
  assert.equal(load(['--path.procfs=/x'], { PROC_PREFIX: '/host/proc' }).procfs, '/x');
  assert.equal(load([], { PROC_PREFIX: '/host/proc' }).procfs, '/host/proc');
  assert.equal(load(['--web.listen-address', '127.0.0.1:9999']).listenAddress, '127.0.0.1:9999');
  assert.equal(load(['--no-threads']).threads, false);
  assert.equal(load(['-threads=false']).threads, false);
  assert.equal(load(['--gather-smaps']).gatherSmaps, true);
  assert.deepEqual(load([], { EXCLUDED_PROCESS_NAMES: 'nginx, redis,,customapp' }).excludedProcessNames, ['nginx', 'redis', 'customapp']);
});

test('OTLP endpoint, headers and exporters as the OpenTelemetry spec reads them', () => {
  assert.equal(load([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/base/' }).otlpEndpoint, 'http://127.0.0.1:4318/base/v1/metrics');
  assert.equal(
    load([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:1', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://b:2/custom' }).otlpEndpoint,
    'http://b:2/custom',
  );
  assert.deepEqual(
    load([], { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc,x-tenant=team%20a', OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-api-key=specific' }).otlpHeaders,
    { 'x-api-key': 'specific', 'x-tenant': 'team a' },
  );
  assert.deepEqual(load([], { OTEL_METRICS_EXPORTER: 'none' }).exporters, []);
  assert.deepEqual(load([], { OTEL_METRICS_EXPORTER: 'otlp' }).exporters, ['otlp']);
  assert.equal(load([], { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlpProtocol, 'http/json');
  assert.deepEqual(load([], { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=lab,site=a%20b' }).resourceAttributes, {
    'deployment.environment.name': 'lab',
    site: 'a b',
  });
});

test('every bad value names its key', () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [[], { PORT_STATUS_INTERVAL: 'abc' }, 'PORT_STATUS_INTERVAL'],
    [[], { PORT_CHECK_TIMEOUT: '5' }, 'PORT_CHECK_TIMEOUT'],
    [[], { PORT_LABEL_INTERVAL: '0s' }, 'PORT_LABEL_INTERVAL'],
    [[], { MAX_PARALLEL_IP_CHECKS: '-1' }, 'MAX_PARALLEL_IP_CHECKS'],
    [[], { HTTP_DETECTION_CONCURRENCY: 'ten' }, 'HTTP_DETECTION_CONCURRENCY'],
    [[], { ENABLE_HTTP_DETECTION: 'maybe' }, 'ENABLE_HTTP_DETECTION'],
    [[], { OTEL_METRICS_EXPORTER: 'zipkin' }, 'OTEL_METRICS_EXPORTER'],
    [[], { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
    [[], { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [[], { OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, 'OTEL_EXPORTER_OTLP_COMPRESSION'],
    [[], { OTEL_METRIC_EXPORT_INTERVAL: '1m' }, 'OTEL_METRIC_EXPORT_INTERVAL'],
    [['--web.listen-address=nonsense'], {}, '--web.listen-address'],
    [['--web.telemetry-path=metrics'], {}, '--web.telemetry-path'],
    [['--no-such-flag'], {}, '--no-such-flag'],
    [['--web.listen-address'], {}, '--web.listen-address'],
    [['stray'], {}, 'stray'],
  ];
  for (const [argv, env, key] of cases) rejects(argv, env, key);
});

test('--help lists every option with its env var and default', () => {
  const help = renderHelp('test');
  for (const o of OPTIONS) {
    if (o.flag) assert.ok(help.includes(`--${o.flag}`), o.flag);
    if (o.env) assert.ok(help.includes(`$${o.env}`), o.env);
  }
  assert.ok(help.includes('default: 8h'));
  assert.equal(loadConfig(['--help'], {}).kind, 'help');
  assert.equal(loadConfig(['--version'], {}).kind, 'version');
});

/**
 * Our OTLP protobuf encoder against the SDK's own proto exporter
 * (@opentelemetry/exporter-metrics-otlp-proto, the exporter it replaces): the
 * same ResourceMetrics goes through both over real HTTP to a loopback sink,
 * and both bodies are decoded by an independent decoder (protobufjs with the
 * OTLP schema) and compared field by field. Data: a real collection of an
 * in-process daemon, SDK instruments of every point type, and edge cases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  MetricReader,
  type CollectionResult,
  type MetricData,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter as SdkProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { decodeExportResponse, OtlpProtobufEncoder } from '../../src/export/otlp-protobuf';
import { describeExportError, HealthTrackingExporter, ProtobufMetricExporter } from '../../src/export/otlp';
import { PushTimeProducer, type CacheMetricProducer, type PushTimedScopeMetrics } from '../../src/metrics/producer';
import { SelfStats } from '../../src/self-stats';
import { silentLogger } from '../../src/log';
import { decodeMetricsRequest, encodeMetricsResponse } from '../helpers/otlp-proto';
import { listenerAndDaemon } from '../helpers/hardening';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback OTLP/HTTP sink that keeps every request body (gunzipped) and answers as told. */
class RawSink {
  readonly received: Received[] = [];
  answer: { status: number; type: string; body: Uint8Array | string } = { status: 200, type: 'application/x-protobuf', body: Buffer.alloc(0) };
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      this.received.push({ headers: req.headers, body });
      res.writeHead(this.answer.status, { 'content-type': this.answer.type });
      res.end(this.answer.body);
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/metrics`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function exportOnce(exporter: PushMetricExporter, metrics: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(metrics, resolve));
}

/** A reader the test collects from by hand. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const sink = new RawSink();
before(() => sink.start());
after(() => sink.stop());

/** What the SDK's proto exporter sends for `metrics`, as it arrived. */
async function sdkBody(metrics: ResourceMetrics): Promise<Buffer> {
  const exporter = new SdkProtoExporter({ url: sink.url });
  const result = await exportOnce(exporter, metrics);
  assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
  await exporter.shutdown();
  return sink.received.at(-1)!.body;
}

/** What our exporter sends for `metrics`, as it arrived. */
async function ourBody(metrics: ResourceMetrics, encoder = new OtlpProtobufEncoder()): Promise<Buffer> {
  const exporter = new ProtobufMetricExporter({ url: sink.url }, encoder);
  const result = await exportOnce(exporter, metrics);
  assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
  await exporter.shutdown();
  return sink.received.at(-1)!.body;
}

function pointCount(metrics: ResourceMetrics): number {
  return metrics.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((k, m) => k + m.dataPoints.length, 0), 0);
}

/** Both bodies decoded by protobufjs; equal field by field (defaults filled in on both sides). */
function assertSameRequest(ours: Uint8Array, sdk: Uint8Array): Record<string, unknown> {
  const a = decodeMetricsRequest(ours);
  assert.deepStrictEqual(a, decodeMetricsRequest(sdk));
  return a;
}

/** A producer stand-in that returns one fixed collection (so two views see the very same data). */
function frozen(result: CollectionResult): CacheMetricProducer {
  return { collect: async () => result } as unknown as CacheMetricProducer;
}

describe('a real collection of an in-process daemon', () => {
  const s = listenerAndDaemon('ohr-otlp-proto', ['--collector.namedprocess', '--port.status-interval=1h']);

  test('every family, SDK self-metrics included: the same request as the SDK exporter sends', async () => {
    const { resourceMetrics } = await s.daemon.telemetry.prometheus!.collect();
    assert.ok(resourceMetrics.scopeMetrics.length >= 2, 'self-metrics scope and the producer scope');
    const points = pointCount(resourceMetrics);
    assert.ok(points > 200, `only ${points} points`);
    const sdk = await sdkBody(resourceMetrics);
    const decoded = assertSameRequest(await ourBody(resourceMetrics), sdk);
    assertSameRequest(await ourBody(resourceMetrics, new OtlpProtobufEncoder({ cacheAttributes: true })), sdk);
    const names = JSON.stringify(decoded);
    for (const family of ['node_tcp_port_alive', 'namedprocess_namegroup_cpu_seconds_total', 'otel_host_receiver_build_info']) {
      assert.ok(names.includes(`"${family}"`), `${family} is in the request`);
    }
  });

  test('push time written by the encoder (mark) = the SDK exporter on stamped copies (copy), and nothing is copied', async () => {
    const base = await s.daemon.producer.collect();
    const clock = (): number => 1_800_000_123_456;
    const copy = (await new PushTimeProducer(frozen(base), clock, 'copy').collect()).resourceMetrics;
    const mark = (await new PushTimeProducer(frozen(base), clock, 'mark').collect()).resourceMetrics;
    const scope = mark.scopeMetrics[0] as PushTimedScopeMetrics;
    assert.deepEqual(scope.pushTime, [1_800_000_123, 456_000_000]);
    assert.equal(scope.metrics, base.resourceMetrics.scopeMetrics[0]!.metrics, 'the cached metrics array itself, no copy');
    assert.notEqual(copy.scopeMetrics[0]!.metrics[0], base.resourceMetrics.scopeMetrics[0]!.metrics[0]);
    const decoded = assertSameRequest(await ourBody(mark), await sdkBody(copy));
    const json = JSON.stringify(decoded);
    assert.ok(json.includes('"timeUnixNano":"1800000123456000000"'));
    assert.ok(!/"timeUnixNano":"(?!1800000123456000000")/.test(json), 'every point carries the push time');
    // the unstamped view sends each point's own time instead: the mark is what changes it
    assert.ok(!JSON.stringify(decodeMetricsRequest(new OtlpProtobufEncoder().encode(base.resourceMetrics))).includes('1800000123456000000'));
  });
});

describe('SDK instruments of every point type', () => {
  test('gauge, counters (double and int), up-down counter, histogram, exponential histogram', async () => {
    const reader = new ManualReader();
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'proto-test', 'a.int': 3, 'a.float': 1.5, 'a.bool': true, 'a.list': ['x', 'y'] }),
      readers: [reader],
      views: [{ instrumentName: 'exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    const meter = provider.getMeter('scope-name', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.25.0' });
    meter.createCounter('c_total', { description: 'a counter', unit: 's' }).add(5, { k: 'v', é: 'ü😀' });
    meter.createCounter('i_total', { valueType: ValueType.INT }).add(7, { n: -3, big: 2 ** 60, f: 0.25, t: false });
    meter.createUpDownCounter('updown', { valueType: ValueType.INT }).add(-12);
    const h = meter.createHistogram('h', { unit: 'ms' });
    h.record(3, { a: 'b' });
    h.record(300);
    h.record(0);
    const exp = meter.createHistogram('exp');
    for (const v of [3, 0.001, 0, 1e6, 42]) exp.record(v);
    meter.createObservableGauge('g').addCallback((o) => {
      o.observe(-1.25, { z: '' });
      o.observe(2 ** 40);
    });
    const { resourceMetrics } = await reader.collect();
    const types = new Set(resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.dataPointType)));
    assert.deepEqual([...types].sort(), [DataPointType.HISTOGRAM, DataPointType.EXPONENTIAL_HISTOGRAM, DataPointType.GAUGE, DataPointType.SUM].sort());
    const decoded = assertSameRequest(await ourBody(resourceMetrics), await sdkBody(resourceMetrics));
    const json = JSON.stringify(decoded);
    assert.ok(json.includes('"exponentialHistogram"') && json.includes('"histogram"') && json.includes('"asInt":"-12"'));
    await provider.shutdown();
  });
});

const T0: HrTime = [1_700_000_000, 999_999_999];
const T1: HrTime = [1_700_000_060, 5];

function gauge(name: string, points: Array<{ attributes: Attributes; value: number }>, valueType = ValueType.DOUBLE): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit: '', valueType },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points.map((p) => ({ ...p, startTime: T1, endTime: T1 })),
  };
}

function counter(name: string, points: Array<{ attributes: Attributes; value: number; startTime: HrTime }>, valueType = ValueType.DOUBLE): MetricData {
  return {
    descriptor: { name, description: '', unit: 'By', valueType },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: points.map((p) => ({ ...p, endTime: T1 })),
  };
}

function request(metrics: MetricData[], resource: Attributes = { 'service.name': 'edge' }): ResourceMetrics {
  return { resource: resourceFromAttributes(resource, { schemaUrl: 'https://example.test/schema' }), scopeMetrics: [{ scope: { name: 'edge', version: '0.1.0' }, metrics }] };
}

const BIG = 'x'.repeat(64 * 1024);
const BIG_WIDE = 'ж😀'.repeat(16 * 1024);

describe('edge cases, each against the SDK exporter', () => {
  const edge = request([
    gauge('empty_attributes', [
      { attributes: {}, value: 1 },
      { attributes: {}, value: 0 },
    ]),
    gauge('unicode', [
      { attributes: { groupname: 'żółć', other: '日本語' }, value: 2 },
      { attributes: { groupname: '😀 astral', combining: 'e\u0301', nul: 'a\u0000b', empty: '' }, value: 3 },
      { attributes: { lone: 'x\ud800y' }, value: 4 },
      { attributes: { 'ключ': 'значение' }, value: 5 },
    ]),
    gauge('doubles', [
      { attributes: { v: 'nan' }, value: NaN },
      { attributes: { v: 'inf' }, value: Infinity },
      { attributes: { v: '-inf' }, value: -Infinity },
      { attributes: { v: '-0' }, value: -0 },
      { attributes: { v: 'tiny' }, value: 5e-324 },
      { attributes: { v: 'max' }, value: Number.MAX_VALUE },
    ]),
    gauge(
      'ints',
      [
        { attributes: { v: 'neg' }, value: -5 },
        { attributes: { v: 'max-safe' }, value: Number.MAX_SAFE_INTEGER },
        { attributes: { v: 'min-safe' }, value: Number.MIN_SAFE_INTEGER },
        { attributes: { v: 'zero' }, value: 0 },
        { attributes: { v: '2^40' }, value: 2 ** 40 },
      ],
      ValueType.INT,
    ),
    counter('own_start_total', [
      { attributes: { groupname: 'a' }, value: 12.5, startTime: [100, 5] },
      { attributes: { groupname: 'b' }, value: 0, startTime: T0 },
    ]),
    counter('int_total', [{ attributes: { groupname: 'a' }, value: 2 ** 50, startTime: T0 }], ValueType.INT),
    {
      descriptor: { name: 'delta_updown', description: '', unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.DELTA,
      dataPointType: DataPointType.SUM,
      isMonotonic: false,
      dataPoints: [{ attributes: { a: 'b' }, value: -3.5, startTime: T0, endTime: T1 }],
    },
    gauge('big_label', [
      { attributes: { cmdline: BIG }, value: 1 },
      { attributes: { cmdline: BIG_WIDE, other: 'o' }, value: 2 },
    ]),
  ]);

  test('empty attributes, unicode, doubles, ints, own start times, delta, 64 KiB label values: same request', async () => {
    const sdk = await sdkBody(edge);
    assertSameRequest(await ourBody(edge, new OtlpProtobufEncoder({ cacheAttributes: true })), sdk);
    const decoded = assertSameRequest(await ourBody(edge), sdk);
    const json = JSON.stringify(decoded);
    assert.ok(json.includes('"stringValue":"😀 astral"'));
    assert.ok(json.includes(`"stringValue":"${BIG}"`), 'the 64 KiB value arrives whole');
    assert.ok(json.includes('"asInt":"9007199254740991"') && json.includes('"asInt":"-9007199254740991"'));
  });

  test('times are exact to the nanosecond, counters keep their own start', () => {
    const decoded = decodeMetricsRequest(new OtlpProtobufEncoder().encode(edge)) as {
      resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string; sum?: { dataPoints: Array<{ startTimeUnixNano: string; timeUnixNano: string }> } }> }> }>;
    };
    const own = decoded.resourceMetrics[0]!.scopeMetrics[0]!.metrics.find((m) => m.name === 'own_start_total')!.sum!.dataPoints;
    const ns = (t: HrTime): string => String(BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]));
    assert.equal(own[0]!.startTimeUnixNano, ns([100, 5]));
    assert.equal(own[1]!.startTimeUnixNano, ns(T0));
    assert.equal(own[1]!.startTimeUnixNano, '1700000000999999999');
    assert.equal(own[0]!.timeUnixNano, ns(T1));
  });

  test('far timestamps: the year 2100 and the last second fixed64 nanoseconds can hold', () => {
    for (const t of [[4_102_444_800, 1], [18_446_744_073, 709_551_615]] as HrTime[]) {
      const decoded = JSON.stringify(decodeMetricsRequest(new OtlpProtobufEncoder().encode(request([counter('t_total', [{ attributes: {}, value: 1, startTime: t }])]))));
      assert.ok(decoded.includes(`"startTimeUnixNano":"${BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])}"`), decoded);
    }
  });

  test('the attribute cache: same bytes as without it, on every export, and a new attributes object is encoded anew', () => {
    const cached = new OtlpProtobufEncoder({ cacheAttributes: true });
    const first = Buffer.from(cached.encode(edge));
    assert.ok(Buffer.from(cached.encode(edge)).equals(first), 'second export from the cache');
    assert.ok(Buffer.from(new OtlpProtobufEncoder().encode(edge)).equals(first), 'the default (no cache) writes the same bytes');
    const changed = request([gauge('g', [{ attributes: { groupname: 'a' }, value: 1 }])]);
    const beforeChange = JSON.stringify(decodeMetricsRequest(cached.encode(changed)));
    (changed.scopeMetrics[0]!.metrics[0]!.dataPoints[0] as { attributes: Attributes }).attributes = { groupname: 'b' };
    const afterChange = JSON.stringify(decodeMetricsRequest(cached.encode(changed)));
    assert.ok(beforeChange.includes('"stringValue":"a"') && afterChange.includes('"stringValue":"b"') && !afterChange.includes('"stringValue":"a"'));
  });

  test('an attribute value the encoder does not write fails the export loudly, naming it; the daemon counts and shows it', async () => {
    const bad = request([gauge('g', [{ attributes: { fine: 'x', nested: { a: 1 } as unknown as string }, value: 1 }])]);
    assert.throws(() => new OtlpProtobufEncoder().encode(bad), /attribute "nested" has a value of a type this encoder does not write/);
    const stats = new SelfStats();
    const exporter = new HealthTrackingExporter(new ProtobufMetricExporter({ url: sink.url }), stats, silentLogger, sink.url);
    const received = sink.received.length;
    const result = await exportOnce(exporter, bad);
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.equal(stats.otlp.failures, 1);
    assert.match(stats.otlp.lastError ?? '', /attribute "nested"/);
    assert.equal(sink.received.length, received, 'nothing was sent');
    await exporter.shutdown();
  });
});

describe('the HTTP path around the encoder (the SDK delegate)', () => {
  const metrics = request([gauge('g', [{ attributes: { groupname: 'a' }, value: 1 }])]);

  test('protobuf content type, gzip, configured headers; the body is the encoder output', async () => {
    const exporter = new ProtobufMetricExporter({ url: sink.url, compression: CompressionAlgorithm.GZIP, headers: { 'x-tenant': 't1' } });
    assert.equal((await exportOnce(exporter, metrics)).code, ExportResultCode.SUCCESS);
    const got = sink.received.at(-1)!;
    assert.equal(got.headers['content-type'], 'application/x-protobuf');
    assert.equal(got.headers['content-encoding'], 'gzip');
    assert.equal(got.headers['x-tenant'], 't1');
    assert.ok(got.body.equals(Buffer.from(new OtlpProtobufEncoder().encode(metrics))));
    await exporter.shutdown();
  });

  test('a refusing receiver: the error keeps its status and body (describeExportError reads them)', async (t) => {
    sink.answer = { status: 400, type: 'text/plain', body: 'bad payload: no such thing' };
    t.after(() => {
      sink.answer = { status: 200, type: 'application/x-protobuf', body: Buffer.alloc(0) };
    });
    const exporter = new ProtobufMetricExporter({ url: sink.url });
    const result = await exportOnce(exporter, metrics);
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.equal(describeExportError(result.error), 'HTTP 400 bad payload: no such thing');
    await exporter.shutdown();
  });

  test('a retryable status until the timeout: the SDK retries and reports it as retryable', async (t) => {
    sink.answer = { status: 503, type: 'text/plain', body: 'busy' };
    t.after(() => {
      sink.answer = { status: 200, type: 'application/x-protobuf', body: Buffer.alloc(0) };
    });
    const exporter = new ProtobufMetricExporter({ url: sink.url, timeoutMillis: 1500 });
    const sent = sink.received.length;
    const result = await exportOnce(exporter, metrics);
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.equal(describeExportError(result.error), 'retryable HTTP status (429, 502, 503 or 504) until the export timeout');
    assert.ok(sink.received.length - sent >= 2, 'retried');
    await exporter.shutdown();
  });

  test('the response: partial success is read, unknown fields skipped, a malformed body throws', () => {
    assert.deepEqual(decodeExportResponse(new Uint8Array(0)), {});
    assert.deepEqual(decodeExportResponse(encodeMetricsResponse({ partialSuccess: { rejectedDataPoints: 3, errorMessage: 'too old ✗' } })), {
      partialSuccess: { rejectedDataPoints: 3, errorMessage: 'too old ✗' },
    });
    // an unknown varint field (9) and an unknown length-delimited one (10) before the known one
    const withUnknown = Buffer.concat([Buffer.from([0x48, 0x96, 0x01, 0x52, 0x02, 0x61, 0x62]), Buffer.from(encodeMetricsResponse({ partialSuccess: { rejectedDataPoints: 1 } }))]);
    assert.deepEqual(decodeExportResponse(withUnknown), { partialSuccess: { rejectedDataPoints: 1 } });
    assert.throws(() => decodeExportResponse(Buffer.from([0x0a, 0x05, 0x08])), /runs past the end/);
    assert.throws(() => decodeExportResponse(Buffer.from([0x08, 0xff])), /truncated varint/);
  });
});

test('neither protocol loads the SDK proto exporter package', () => {
  const script = `
    const { loadConfig } = require('./dist/src/config/options');
    const { createOtlpExporter } = require('./dist/src/export/otlp');
    const loaded = (name) => Object.keys(require.cache).some((k) => k.includes('/node_modules/@opentelemetry/' + name + '/'));
    const r = loadConfig(['--otlp.protocol=' + process.argv[1]], {});
    createOtlpExporter(r.config);
    const out = { proto: loaded('exporter-metrics-otlp-proto') };
    // the check itself sees a loaded package
    require('@opentelemetry/exporter-metrics-otlp-proto');
    out.detects = loaded('exporter-metrics-otlp-proto');
    console.log(JSON.stringify(out));
  `;
  const root = path.resolve(__dirname, '../../..');
  for (const protocol of ['http/protobuf', 'http/json']) {
    const r = spawnSync(process.execPath, ['-e', script, protocol], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { proto: false, detects: true }, protocol);
  }
});

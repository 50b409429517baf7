/**
 * A real OTLP/HTTP metrics receiver on loopback for tests. It decodes what
 * arrives with the OTLP schema: protobuf through protobufjs and a schema
 * written from opentelemetry-proto's field numbers (metrics/v1,
 * common/v1, resource/v1, collector/metrics/v1), JSON through JSON.parse.
 * Both are flattened into the same rows so assertions do not care which
 * encoding was used.
 *
 * `behaviour` lets a test make it fail (503, 400, hang) to exercise the
 * exporter's error handling.
 */
import * as http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

const OTLP_METRICS_PROTO = `
syntax = "proto3";
package otlp;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const RequestType = protobuf.parse(OTLP_METRICS_PROTO, { keepCase: false }).root.lookupType('otlp.ExportMetricsServiceRequest');

/** One data point, flattened. */
export interface Row {
  metric: string;
  unit: string;
  description: string;
  kind: 'gauge' | 'sum' | 'histogram';
  temporality?: number;
  monotonic?: boolean;
  attributes: Record<string, string>;
  value: number;
  startTimeUnixNano: string;
  timeUnixNano: string;
  scope: string;
}

export interface ReceivedExport {
  encoding: 'protobuf' | 'json';
  headers: http.IncomingHttpHeaders;
  resource: Record<string, string>;
  rows: Row[];
  at: number;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number };
type KV = { key: string; value?: AnyValue };

function attrs(list: KV[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = String(v.stringValue ?? v.boolValue ?? v.intValue ?? v.doubleValue ?? '');
  }
  return out;
}

/** Flattens the object form of an ExportMetricsServiceRequest (from protobuf toObject or JSON). */
export function flatten(req: Record<string, unknown>): { resource: Record<string, string>; rows: Row[] } {
  const rows: Row[] = [];
  let resource: Record<string, string> = {};
  for (const rm of (req.resourceMetrics as Array<Record<string, unknown>>) ?? []) {
    resource = attrs((rm.resource as { attributes?: KV[] } | undefined)?.attributes);
    for (const sm of (rm.scopeMetrics as Array<Record<string, unknown>>) ?? []) {
      const scope = (sm.scope as { name?: string } | undefined)?.name ?? '';
      for (const m of (sm.metrics as Array<Record<string, unknown>>) ?? []) {
        const base = { metric: String(m.name), unit: String(m.unit ?? ''), description: String(m.description ?? ''), scope };
        const push = (kind: Row['kind'], dp: Record<string, unknown>, extra: Partial<Row>): void => {
          rows.push({
            ...base,
            kind,
            ...extra,
            attributes: attrs(dp.attributes as KV[]),
            value: Number(dp.asDouble ?? dp.asInt ?? dp.sum ?? 0),
            startTimeUnixNano: String(dp.startTimeUnixNano ?? ''),
            timeUnixNano: String(dp.timeUnixNano ?? ''),
          });
        };
        const gauge = m.gauge as { dataPoints?: Array<Record<string, unknown>> } | undefined;
        const sum = m.sum as { dataPoints?: Array<Record<string, unknown>>; aggregationTemporality?: number; isMonotonic?: boolean } | undefined;
        const hist = m.histogram as { dataPoints?: Array<Record<string, unknown>>; aggregationTemporality?: number } | undefined;
        for (const dp of gauge?.dataPoints ?? []) push('gauge', dp, {});
        for (const dp of sum?.dataPoints ?? []) push('sum', dp, { temporality: sum?.aggregationTemporality, monotonic: sum?.isMonotonic ?? false });
        for (const dp of hist?.dataPoints ?? []) push('histogram', dp, { temporality: hist?.aggregationTemporality });
      }
    }
  }
  return { resource, rows };
}

export function decodeRequest(body: Buffer, contentType: string): { encoding: 'protobuf' | 'json'; resource: Record<string, string>; rows: Row[] } {
  if (contentType.includes('json')) {
    return { encoding: 'json', ...flatten(JSON.parse(body.toString('utf8')) as Record<string, unknown>) };
  }
  const msg = RequestType.decode(body);
  const obj = RequestType.toObject(msg, { longs: String, enums: Number, bytes: String, defaults: false, oneofs: false });
  return { encoding: 'protobuf', ...flatten(obj) };
}

/** How the receiver answers: accept, a fixed failure, hang, or a given status with a given body. */
export type Behaviour = 'ok' | '503' | '400' | 'hang' | { status: number; body: string };

export class OtlpReceiver {
  readonly exports: ReceivedExport[] = [];
  behaviour: Behaviour | (() => Behaviour) = 'ok';
  requests = 0;
  private server: http.Server | undefined;
  private waiters: Array<() => void> = [];
  private readonly hung: http.ServerResponse[] = [];

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      // Only OTLP posts count: every daemon on this host (ours included) sends its HTTP
      // liveness probe, a HEAD /, to every local listener, this receiver among them.
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' });
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        const b = typeof this.behaviour === 'function' ? this.behaviour() : this.behaviour;
        if (b === 'hang') {
          this.hung.push(res);
          return;
        }
        if (typeof b === 'object') {
          res.writeHead(b.status, { 'content-type': 'text/plain' });
          res.end(b.body);
          return;
        }
        if (b === '503' || b === '400') {
          res.writeHead(Number(b), { 'content-type': 'text/plain' });
          res.end('no');
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const decoded = decodeRequest(body, String(req.headers['content-type'] ?? ''));
        this.exports.push({ ...decoded, headers: req.headers, at: Date.now() });
        for (const w of this.waiters.splice(0)) w();
        const json = String(req.headers['content-type'] ?? '').includes('json');
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : Buffer.alloc(0));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/metrics`;
  }

  /** Resolves with the first export received after now that satisfies `pred`. */
  async next(pred: (e: ReceivedExport) => boolean = () => true, timeoutMs = 15_000): Promise<ReceivedExport> {
    const since = this.exports.length;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.exports.slice(since).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching OTLP export within ${timeoutMs} ms (${this.exports.length - since} received)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    for (const r of this.hung.splice(0)) r.destroy();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

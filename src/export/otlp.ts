/**
 * OTLP/HTTP push. The SDK's exporters are silent on failure unless a diag
 * logger is installed, and then they log a stack per interval (facts §3). We
 * wrap the exporter instead: every export result updates SelfStats (counted
 * in `otel_host_receiver_otlp_exports_total{result}`), and the log gets one
 * line per change of state (up -> down, down -> up) with the endpoint redacted
 * and the receiver's status and answer, never the headers (they carry API
 * keys) and never the payload.
 *
 * Memory stays bounded while the collector is down: the periodic reader runs
 * one export at a time, each bounded by OTEL_EXPORTER_OTLP_TIMEOUT, and a
 * failed export is dropped, not queued (cumulative values recover on the next
 * success).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as JsonExporter, OTLPMetricExporterBase, type OTLPMetricExporterOptions } from '@opentelemetry/exporter-metrics-otlp-http';
import { CompressionAlgorithm, type OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import type { Config } from '../config/options';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';
import { redactUrl, redactUrlsIn } from '../config/redact';
import { decodeExportResponse, OtlpProtobufEncoder } from './otlp-protobuf';

/**
 * OTLP/HTTP with protobuf bodies: the SDK's HTTP export path (URL and header
 * handling, OTEL_EXPORTER_OTLP_* settings, gzip, timeout, retries of 429/502/
 * 503/504 and network errors, the OTLPExporterError with `code` and `data`,
 * temporality preference) built the way the SDK builds its own proto exporter
 * (@opentelemetry/exporter-metrics-otlp-proto: OTLPMetricExporterBase over
 * createOtlpHttpExportDelegate, all public exports), with our serializer in
 * place of the SDK's: OtlpProtobufEncoder writes the body without copying
 * points and stamps the push time (PushTimedScopeMetrics) as it writes.
 */
export class ProtobufMetricExporter extends OTLPMetricExporterBase {
  constructor(options: OTLPExporterNodeConfigBase & OTLPMetricExporterOptions, encoder = new OtlpProtobufEncoder()) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(options, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' }),
        { serializeRequest: (metrics: ResourceMetrics) => encoder.encode(metrics), deserializeResponse: decodeExportResponse },
        // the SDK's component type for this exporter (its self-observability metrics, which stay off here)
        'otlp_http_metric_exporter',
        { name: 'metric_data_point', countItems: countDataPoints },
        undefined,
      ),
      options,
    );
  }
}

function countDataPoints(metrics: ResourceMetrics): number {
  let n = 0;
  for (const sm of metrics.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

export function createOtlpExporter(config: Config): PushMetricExporter {
  const options = {
    url: config.otlpEndpoint,
    headers: config.otlpHeaders,
    compression: config.otlpCompression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    timeoutMillis: config.otlpTimeoutMs,
  };
  return config.otlpProtocol === 'http/json' ? new JsonExporter(options) : new ProtobufMetricExporter(options);
}

/**
 * Whether the exporter createOtlpExporter makes for `config` stamps the push
 * time itself (then PushTimeProducer marks instead of copying points).
 */
export function exporterStampsPushTime(config: Config): boolean {
  return config.otlpProtocol !== 'http/json';
}

/** At most this much of a receiver's answer goes into the log and /api/status. */
const BODY_PREFIX = 200;

/**
 * One line saying why an export failed, for the log and /api/status. A
 * receiver that refuses a request says why in its body (VictoriaMetrics:
 * `json encoding isn't supported for opentelemetry format`), so the HTTP
 * status and the first 200 bytes of that body are kept. Never a header value
 * (headers carry API keys), and every URL in the text is redacted (an error
 * naming the endpoint would otherwise print its user info and query).
 * Statuses the exporter retries (429, 502, 503, 504) reach us without their
 * code once the retries are spent: the SDK reports only that the status was
 * retryable.
 */
export function describeExportError(error: unknown): string {
  if (error === undefined || error === null) return 'unknown error';
  const e = error as { message?: unknown; code?: unknown; data?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  let text: string;
  if (typeof e.code === 'number' && e.code >= 100 && e.code <= 599) {
    const body = typeof e.data === 'string' ? e.data.replace(/\s+/g, ' ').trim().slice(0, BODY_PREFIX) : '';
    text = `HTTP ${e.code}${body !== '' ? ` ${body}` : message !== '' ? ` ${message}` : ''}`;
  } else if (message === 'Export failed with retryable status') {
    text = 'retryable HTTP status (429, 502, 503 or 504) until the export timeout';
  } else {
    text = typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
  }
  return redactUrlsIn(text).slice(0, BODY_PREFIX + 64);
}

export class HealthTrackingExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly stats: SelfStats,
    private readonly log: Logger,
    endpoint: string,
  ) {
    this.endpoint = redactUrl(endpoint);
  }

  /** Where data goes, as it may be printed (no user info, no query values). */
  private readonly endpoint: string;

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let reported = false;
    const report = (result: ExportResult): void => {
      if (reported) return;
      reported = true;
      const otlp = this.stats.otlp;
      otlp.exports++;
      if (result.code === ExportResultCode.SUCCESS) {
        if (otlp.up === 0) this.log.info('OTLP export recovered', { endpoint: this.endpoint });
        otlp.up = 1;
        otlp.lastSuccessAt = Date.now();
        otlp.lastError = undefined;
      } else {
        otlp.failures++;
        const message = describeExportError(result.error);
        if (otlp.up === 1) this.log.warn('OTLP export failing; /metrics keeps serving', { endpoint: this.endpoint, err: message });
        otlp.up = 0;
        otlp.lastError = message;
      }
      resultCallback(result);
    };
    try {
      this.inner.export(metrics, report);
    } catch (err) {
      if (reported) throw err;
      // an export that throws before sending (the encoder refusing a value) is a failed
      // export like any other: counted, logged once, shown on /api/status
      report({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType);
  }
}

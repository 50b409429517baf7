/**
 * OTLP/HTTP push. The SDK's exporters are silent on failure unless a diag
 * logger is installed, and then they log a stack per interval (facts §3). We
 * wrap the exporter instead: every export result updates SelfStats (counted
 * in `otel_host_receiver_otlp_exports_total{result}`), and the log gets one
 * line per change of state (up -> down, down -> up), never the headers (they
 * carry API keys) and never the payload.
 *
 * Memory stays bounded while the collector is down: the periodic reader runs
 * one export at a time, each bounded by OTEL_EXPORTER_OTLP_TIMEOUT, and a
 * failed export is dropped, not queued (cumulative values recover on the next
 * success).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { Config } from '../config/options';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';

export function createOtlpExporter(config: Config): PushMetricExporter {
  const options = {
    url: config.otlpEndpoint,
    headers: config.otlpHeaders,
    compression: config.otlpCompression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    timeoutMillis: config.otlpTimeoutMs,
  };
  return config.otlpProtocol === 'http/json' ? new JsonExporter(options) : new ProtoExporter(options);
}

/** Strips anything that could carry a secret from an error message (URLs with userinfo). */
function describe(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  return raw.replace(/\/\/[^/@\s]+@/g, '//***@').slice(0, 200);
}

export class HealthTrackingExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly stats: SelfStats,
    private readonly log: Logger,
    private readonly endpoint: string,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      const otlp = this.stats.otlp;
      otlp.exports++;
      if (result.code === ExportResultCode.SUCCESS) {
        if (otlp.up === 0) this.log.info('OTLP export recovered', { endpoint: this.endpoint });
        otlp.up = 1;
        otlp.lastSuccessAt = Date.now();
        otlp.lastError = undefined;
      } else {
        otlp.failures++;
        const message = describe(result.error);
        if (otlp.up === 1) this.log.warn('OTLP export failing; /metrics keeps serving', { endpoint: this.endpoint, err: message });
        otlp.up = 0;
        otlp.lastError = message;
      }
      resultCallback(result);
    });
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

/**
 * ONE MeterProvider, two readers: the Prometheus exporter (pull; its text is
 * served by our own HTTP server) and a periodic OTLP/HTTP reader (push). Both
 * readers carry the same CacheMetricProducer (the push reader through
 * PushTimeProducer, which stamps each export's time), so both exports see the
 * same contract families from the same caches, plus the SDK's own instruments
 * (self-metrics) registered on `meter`.
 */
import type { Meter } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader, type MetricData, type MetricReader, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { Config } from '../config/options';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';
import type { CacheMetricProducer } from '../metrics/producer';
import { PushTimeProducer, SCOPE } from '../metrics/producer';
import { createOtlpExporter, exporterStampsPushTime, HealthTrackingExporter } from './otlp';
import { Slicer } from '../util/slicer';
import { STAGE_FAMILY_PREFIX, type MetricFilter } from './filter';
import { deflatePiece, deflatePieceSync, gzipMember, type DeflatedPiece } from './gzip-page';
import { familyText } from './family-text';

/** Prometheus text format 0.0.4, what every scraper understands. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What the serializer writes when a page has no metric at all (a comment; dropped when families follow). */
const NO_METRICS = '# no registered metrics';

/**
 * One producer family's Prometheus text and the MetricData it was serialized
 * from; `gzip` is that text deflated, made on the first scrape that asks for
 * gzip (a pending promise while several such scrapes wait for it).
 */
interface CachedFamily {
  readonly data: MetricData;
  readonly bytes: Buffer;
  gzip?: Promise<DeflatedPiece>;
}

/** A page as the pieces it is served from: the per-scrape head (SDK instruments), then cached families. */
interface PageParts {
  head: Buffer;
  families: CachedFamily[];
}

export class Telemetry {
  readonly meterProvider: MeterProvider;
  readonly meter: Meter;
  readonly prometheus: PrometheusExporter | undefined;
  readonly otlp: PeriodicExportingMetricReader | undefined;
  /**
   * No otel_scope_* labels (our series must carry exactly the contract's
   * labels); target_info stays, carrying the resource (service, host) once
   * per scrape, joinable in PromQL.
   */
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  /**
   * Prometheus text of each producer family, by name, with the MetricData it
   * was serialized from (see CachedFamily): a new MetricData replaces the
   * entry, so the cache holds one text (and one deflated text) per family,
   * never an older one.
   */
  private readonly text = new Map<string, CachedFamily>();

  constructor(
    config: Config,
    resource: Resource,
    private readonly producer: CacheMetricProducer,
    stats: SelfStats,
    log: Logger,
  ) {
    const readers: MetricReader[] = [];
    if (config.exporters.includes('prometheus')) {
      this.prometheus = new PrometheusExporter({
        preventServerStart: true,
        withoutScopeInfo: true,
        metricProducers: [producer],
      });
      readers.push(this.prometheus);
    }
    if (config.exporters.includes('otlp')) {
      this.otlp = new PeriodicExportingMetricReader({
        exporter: new HealthTrackingExporter(createOtlpExporter(config), stats, log, config.otlpEndpoint),
        exportIntervalMillis: config.exportIntervalMs,
        exportTimeoutMillis: Math.min(config.otlpTimeoutMs, config.exportIntervalMs),
        // same caches, but every point carries this export's time (see PushTimeProducer); our
        // protobuf encoder writes that time itself, so its producer marks scopes instead of
        // copying points. No maxExportBatchSize: the SDK's batch splitter rebuilds the
        // ScopeMetrics and would drop that mark.
        metricProducers: [new PushTimeProducer(producer, undefined, exporterStampsPushTime(config) ? 'mark' : 'copy')],
      });
      readers.push(this.otlp);
    }
    this.meterProvider = new MeterProvider({ resource, readers });
    this.meter = this.meterProvider.getMeter(SCOPE.name);
  }

  /**
   * Collects through the Prometheus reader and renders the text exposition,
   * optionally filtered by family, as a list of buffers to write in order.
   * The SDK's own instruments (self-metrics, a few dozen series) are
   * serialized on every scrape; each producer family is serialized once per
   * published version and its bytes reused, so a scrape of a 600 KB page
   * allocates a few KB.
   */
  async scrapeChunks(filter?: MetricFilter): Promise<Buffer[]> {
    const { head, families } = await this.pageParts(filter);
    return [head, ...families.map((f) => f.bytes)];
  }

  /**
   * The same page as one gzip member (see gzip-page.ts): each family is
   * deflated once per published version, in the libuv thread pool, and a
   * scrape deflates only the few KB of its head.
   */
  async scrapeGzip(filter?: MetricFilter): Promise<Buffer[]> {
    const { head, families } = await this.pageParts(filter);
    const pieces = await Promise.all(
      families.map((f) =>
        (f.gzip ??= deflatePiece(f.bytes).catch((err: unknown) => {
          f.gzip = undefined; // not kept: the next scrape tries again
          throw err;
        })),
      ),
    );
    return gzipMember([deflatePieceSync(head), ...pieces]);
  }

  private async pageParts(filter?: MetricFilter): Promise<PageParts> {
    const reader = this.prometheus;
    if (!reader) throw new Error('the prometheus exporter is disabled (OTEL_METRICS_EXPORTER)');
    const { resourceMetrics } = await reader.collect();
    const keep = (m: MetricData): boolean => !filter || filter(m.descriptor.name);
    const sdkScopes: ScopeMetrics[] = [];
    const families: CachedFamily[] = [];
    const slicer = new Slicer();
    for (const sm of resourceMetrics.scopeMetrics) {
      const sdkMetrics: MetricData[] = [];
      for (const m of sm.metrics) {
        if (!keep(m)) {
          // a filtered scrape keeps the stage series of the collectors it selects (see MetricFilter)
          const stageOk = filter?.stage;
          if (stageOk && m.descriptor.name.startsWith(STAGE_FAMILY_PREFIX)) {
            const dataPoints = (m.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown> }>).filter((dp) => stageOk(String(dp.attributes.stage)));
            if (dataPoints.length > 0) sdkMetrics.push({ ...m, dataPoints } as MetricData);
          }
          continue;
        }
        if (!this.producer.owns(m)) {
          sdkMetrics.push(m);
          continue;
        }
        let cached = this.text.get(m.descriptor.name);
        if (cached?.data !== m) {
          await slicer.maybeYield();
          cached = { data: m, bytes: familyText(m) };
          this.text.set(m.descriptor.name, cached);
        }
        families.push(cached);
      }
      if (sdkMetrics.length > 0) sdkScopes.push({ scope: sm.scope, metrics: sdkMetrics });
    }
    let head = this.serializer.serialize({ resource: resourceMetrics.resource, scopeMetrics: sdkScopes });
    if (head.endsWith(NO_METRICS)) head = head.slice(0, -NO_METRICS.length);
    return { head: Buffer.from(head), families };
  }

  /**
   * Renders the families a new sample changed, so that the next scrape only
   * joins cached bytes. Nothing else is built: joining the page here (2.5 MB
   * of text at 1,000 processes, then a string of it) was garbage made every
   * sample, and RSS until the next full GC.
   */
  async prerender(): Promise<void> {
    await this.pageParts();
  }

  /** The exposition as one string (--once, tests). */
  async scrape(filter?: MetricFilter): Promise<string> {
    return Buffer.concat(await this.scrapeChunks(filter)).toString('utf8');
  }

  /** Flushes OTLP (bounded) and shuts every reader down. Never rejects. */
  async shutdown(timeoutMs: number): Promise<void> {
    const bounded = Promise.race([
      this.meterProvider.shutdown({ timeoutMillis: timeoutMs }).catch(() => undefined),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 100).unref()),
    ]);
    await bounded;
  }
}


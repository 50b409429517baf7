/**
 * The MetricProducer attached to both readers (Prometheus and OTLP).
 *
 * Why a producer and not observable instruments for the contract families:
 * the SDK (2.12, measured in ../shared/reference/otel-js-sdk-facts.md §2, §2b)
 * keeps every attribute set it ever saw under cumulative temporality, so a port
 * that left the pool would keep its last value forever in both exports, and it
 * caps each instrument at 2000 series per reader, sending the rest to an
 * `otel_metric_overflow` series; 1000 process groups x 5 memtypes already
 * exceed that. Our contract needs the opposite on both counts: exactly the
 * cached series, no more, no fewer. A producer builds MetricData from the
 * caches on every collection, so both readers see the same data, stale series
 * vanish at once and there is no cap. Self-metrics (fixed, small cardinality,
 * never stale) stay ordinary observable instruments on the same MeterProvider.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import type { FamilySpec } from './contract';

export interface Point {
  attributes: Record<string, string>;
  value: number;
  /** Start of the cumulative interval for counters; defaults to the producer's start time. */
  startTime?: HrTime;
}

export interface FamilyData {
  spec: FamilySpec;
  points: Point[];
}

/** Anything that can turn a cache into families. Must be cheap and synchronous: it runs on every scrape and export. */
export type FamilySource = () => FamilyData[];

export const SCOPE = { name: 'otel-host-receiver' } as const;

function toHrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** Cuts a label value taken from the host to `max` characters (a hostile cmdline must not blow up memory). */
export function capLabel(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max);
}

export function toMetricData(family: FamilyData, now: HrTime, defaultStart: HrTime, labelMax: number): MetricData {
  const { spec } = family;
  const dataPoints = family.points.map((p) => {
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.attributes)) attributes[k] = capLabel(v, labelMax);
    return {
      attributes,
      startTime: spec.type === 'counter' ? (p.startTime ?? defaultStart) : now,
      endTime: now,
      value: p.value,
    };
  });
  const descriptor = { name: spec.name, description: spec.help, unit: spec.unit, valueType: ValueType.DOUBLE };
  if (spec.type === 'counter') {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }
  return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
}

export class CacheMetricProducer implements MetricProducer {
  private readonly startTime: HrTime;
  private readonly sources: FamilySource[];

  constructor(
    sources: readonly FamilySource[],
    private readonly resource: Resource,
    private readonly labelMax: number,
    startedAtMs = Date.now(),
  ) {
    this.startTime = toHrTime(startedAtMs);
    this.sources = [...sources];
  }

  addSource(source: FamilySource): void {
    this.sources.push(source);
  }

  /** The families as plain data (for the status page, --once, tests). */
  families(): FamilyData[] {
    return this.sources.flatMap((s) => s()).filter((f) => f.points.length > 0);
  }

  async collect(): Promise<CollectionResult> {
    const now = toHrTime(Date.now());
    const errors: unknown[] = [];
    const metrics: MetricData[] = [];
    for (const source of this.sources) {
      try {
        for (const f of source()) if (f.points.length > 0) metrics.push(toMetricData(f, now, this.startTime, this.labelMax));
      } catch (err) {
        // One broken source must not take the others down: the scrape still answers.
        errors.push(err);
      }
    }
    return { resourceMetrics: { resource: this.resource, scopeMetrics: [{ scope: SCOPE, metrics }] }, errors };
  }
}

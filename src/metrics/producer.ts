/**
 * The MetricProducer attached to both readers (Prometheus and OTLP).
 *
 * Why a producer and not observable instruments for the contract families:
 * the SDK (2.12, measured with small experiments on Node 20; see also
 * open-telemetry/opentelemetry-js issues on cumulative stale series and the
 * aggregation cardinality limit)
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
  type DataPoint,
  type MetricCollectOptions,
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import type { FamilySpec } from './contract';
import { Slicer } from '../util/slicer';

export interface Point {
  attributes: Record<string, string>;
  value: number;
  /** Start of the cumulative interval for counters; defaults to the producer's start time. */
  startTime?: HrTime;
  /** Set by `dataPoint`: the point is already in the SDK's data point shape and is used as is. */
  endTime?: HrTime;
}

/**
 * The time of a point whose time is the export's: the Prometheus text carries
 * no time, and a push stamps every point with its collection's time
 * (PushTimeProducer). A gauge's start is that time too.
 */
export const EXPORT_TIME: HrTime = Object.freeze([0, 0]) as unknown as HrTime;

/**
 * A point in the shape of the SDK's data point, so the MetricData built from
 * it holds this very object rather than a copy: a cache of 30,000 series keeps
 * one object per series, not two. Every point made here has the same keys in
 * the same order (one V8 hidden class). A counter without `startTime` starts
 * at the producer's start.
 */
export function dataPoint(attributes: Record<string, string>, value: number, startTime: HrTime = EXPORT_TIME): Point {
  return { attributes, startTime, endTime: EXPORT_TIME, value };
}

export interface FamilyData {
  spec: FamilySpec;
  points: Point[];
}

/**
 * A family whose data is rebuilt only when its cache says it changed. A
 * scrape every few seconds against probes that finish once a minute then
 * costs a lookup, not a rebuild: the MetricData object is reused, and the
 * Prometheus text serialized from it is cached by object identity
 * (Telemetry.scrape). The text format carries no time, so that is all the
 * scrape path needs. A push carries time: see `PushTimeProducer`.
 */
export interface CachedFamily {
  spec: FamilySpec;
  /** Any value that changes whenever points() would return something different. */
  version(): string | number;
  points(): Point[];
}

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
  const counter = spec.type === 'counter';
  const points = family.points;
  // the points themselves when they are complete data points (see dataPoint); a copy of those that are not
  let dataPoints: Point[] | undefined;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    let attributes = p.attributes;
    for (const k in attributes) {
      if (attributes[k]!.length > labelMax) {
        attributes = { ...attributes };
        for (const j in attributes) attributes[j] = capLabel(attributes[j]!, labelMax);
        break;
      }
    }
    const start = counter ? (p.startTime === undefined || p.startTime === EXPORT_TIME ? defaultStart : p.startTime) : EXPORT_TIME;
    const complete = attributes === p.attributes && p.endTime !== undefined && p.startTime === start;
    if (complete && dataPoints === undefined) continue;
    dataPoints ??= points.slice(0, i);
    dataPoints.push(complete ? p : { attributes, startTime: counter ? start : now, endTime: now, value: p.value });
  }
  // every point is complete here: both times set (see the loop above)
  const dps = (dataPoints ?? points) as DataPoint<number>[];
  const descriptor = { name: spec.name, description: spec.help, unit: spec.unit, valueType: ValueType.DOUBLE };
  if (spec.type === 'counter') {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: dps,
    };
  }
  return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: dps };
}

/** True when `points` has exactly the attribute objects and values of `data`, in order. */
function samePoints(data: MetricData, points: readonly Point[]): boolean {
  const dps = data.dataPoints as ReadonlyArray<{ attributes: unknown; value: unknown }>;
  if (dps.length !== points.length) return false;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (dps[i]!.value !== p.value || dps[i]!.attributes !== p.attributes) return false;
  }
  return true;
}

/**
 * Copies `metrics` with every data point stamped `now`: `endTime` (OTLP's
 * time_unix_nano) is the collection's time, a gauge's start too; a counter
 * keeps its `startTime`, the start of its cumulative series. The copies are
 * shallow (attributes and descriptors are shared) and live only until the
 * export has been serialized.
 */
export function stampTime(metrics: readonly MetricData[], now: HrTime): MetricData[] {
  return metrics.map((m) => {
    const gauge = m.dataPointType === DataPointType.GAUGE;
    const dataPoints = (m.dataPoints as ReadonlyArray<{ startTime: HrTime; endTime: HrTime }>).map((dp) => ({
      ...dp,
      startTime: gauge ? now : dp.startTime,
      endTime: now,
    }));
    return { ...m, dataPoints } as MetricData;
  });
}

/**
 * The producer a push reader (OTLP) carries. It reads the same caches as the
 * scrape path but stamps every point with the time of this collection.
 * Reusing the cached MetricData as is would send the time a family last
 * changed: an unchanged gauge (a port that stays down) would arrive with the
 * same timestamp export after export, which real backends store as one
 * sample or reject as a duplicate, and once it is older than their
 * out-of-bounds window (an hour for Prometheus' remote-write receiver) they
 * reject the whole batch it travels in. So the work stays cached and the time
 * never is.
 */
export class PushTimeProducer implements MetricProducer {
  constructor(
    private readonly inner: CacheMetricProducer,
    private readonly clock: () => number = Date.now,
    /**
     * 'copy': every point is copied by stampTime (any exporter can send the result).
     * 'mark': nothing is copied; each ScopeMetrics carries `pushTime` and the exporter
     * must apply stampTime's rules while it encodes (see PushTimedScopeMetrics).
     */
    private readonly mode: 'copy' | 'mark' = 'copy',
  ) {}

  async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const result = await this.inner.collect(options);
    const now = toHrTime(this.clock());
    const { resource, scopeMetrics } = result.resourceMetrics;
    const stamp =
      this.mode === 'mark'
        ? (sm: ScopeMetrics): PushTimedScopeMetrics => ({ scope: sm.scope, metrics: sm.metrics, pushTime: now })
        : (sm: ScopeMetrics): ScopeMetrics => ({ scope: sm.scope, metrics: stampTime(sm.metrics, now) });
    return { resourceMetrics: { resource, scopeMetrics: scopeMetrics.map(stamp) }, errors: result.errors };
  }
}

/**
 * A ScopeMetrics from PushTimeProducer in 'mark' mode: its points are the
 * cached ones, uncopied, and go out stamped `pushTime` by stampTime's rules
 * (time_unix_nano = pushTime; a gauge's start too; a counter keeps its own).
 * Only an exporter that reads this mark may be given such a producer.
 */
export interface PushTimedScopeMetrics extends ScopeMetrics {
  readonly pushTime: HrTime;
}

export class CacheMetricProducer implements MetricProducer {
  private readonly startTime: HrTime;
  private readonly cached: Array<{ family: CachedFamily; version?: string | number; data?: MetricData }> = [];
  /** Every MetricData this producer made; lets the scrape path tell them from the SDK's own. */
  private readonly made = new WeakSet<MetricData>();

  constructor(
    private readonly resource: Resource,
    private readonly labelMax: number,
    startedAtMs = Date.now(),
  ) {
    this.startTime = toHrTime(startedAtMs);
  }

  addCached(families: readonly CachedFamily[]): void {
    for (const family of families) this.cached.push({ family });
  }

  /** True for MetricData built by this producer (as opposed to the SDK's instruments). */
  owns(metric: MetricData): boolean {
    return this.made.has(metric);
  }

  /** The families as plain data (for the status page, --once, tests). */
  families(): FamilyData[] {
    return this.cached.map((c) => ({ spec: c.family.spec, points: c.family.points() })).filter((f) => f.points.length > 0);
  }

  private build(f: FamilyData, now: HrTime): MetricData {
    const m = toMetricData(f, now, this.startTime, this.labelMax);
    this.made.add(m);
    return m;
  }

  async collect(_options?: MetricCollectOptions): Promise<CollectionResult> {
    const now = toHrTime(Date.now());
    const errors: unknown[] = [];
    const metrics: MetricData[] = [];
    const slicer = new Slicer();
    for (const c of this.cached) {
      try {
        const version = c.family.version();
        if (c.version !== version) {
          await slicer.maybeYield();
          const points = c.family.points();
          // a new version with the same series and values (most alive gauges, most of the time)
          // keeps the old MetricData, and with it the cached Prometheus text
          if (!c.data || !samePoints(c.data, points)) {
            c.data = points.length > 0 ? this.build({ spec: c.family.spec, points }, now) : undefined;
          }
          c.version = version;
        }
        if (c.data) metrics.push(c.data);
      } catch (err) {
        // one broken family must not take the others down: the scrape still answers
        errors.push(err);
      }
    }
    return { resourceMetrics: { resource: this.resource, scopeMetrics: [{ scope: SCOPE, metrics }] }, errors };
  }
}

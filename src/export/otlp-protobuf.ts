/**
 * The OTLP/HTTP protobuf body for one ResourceMetrics, written straight into
 * one buffer of the exact size: an ExportMetricsServiceRequest as defined by
 * opentelemetry-proto (collector/metrics/v1/metrics_service.proto,
 * metrics/v1/metrics.proto, common/v1/common.proto, resource/v1/resource.proto)
 * in the protobuf wire format (https://protobuf.dev/programming-guides/encoding/).
 *
 * Why our own: the push carries ~30,000 points at 1,000 process groups. The
 * SDK's serializer (otlp-transformer 0.223) already writes without an object
 * tree, but it needs every point with its final time, so the push producer
 * had to copy every point to stamp the export's time. Here the time is
 * written while encoding (PushTimedScopeMetrics), and an export allocates the
 * body and next to nothing per point (bench/otlp-export.ts has the figures).
 *
 * Two passes: the first computes the size of every message that holds other
 * messages (request, resource metrics, resource, scope metrics, scope,
 * metric, its gauge/sum/histogram) into `sizes`, in the order the second pass
 * writes them; a data point's size is cheap to recompute and is not stored.
 * Fields are written in field-number order, default-valued optional fields
 * are left out, as the protobuf encoding guide recommends.
 *
 * What it writes: Gauge, Sum (temporality, monotonic), Histogram and
 * ExponentialHistogram (the SDK's four point types; our own families are
 * gauges and counters only, histograms would come from SDK instruments),
 * DOUBLE values as as_double and INT values as as_int, attribute values that
 * are strings, booleans, numbers (integers as int_value, others as
 * double_value) and arrays of those. Any other attribute value (an object, a
 * byte array) throws an Error naming the attribute: the export fails loudly
 * rather than dropping a label.
 *
 * With `cacheAttributes` on, attribute objects are taken as immutable once
 * exported (the SDK and our caches never change one after handing it out).
 */
import { ValueType, type AttributeValue, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { PushTimedScopeMetrics } from '../metrics/producer';

// Wire types (protobuf encoding guide): VARINT, I64, LEN.
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** A field's key: field number and wire type. Every field number used here is below 16, so a key is one byte. */
const key = (field: number, wire: number): number => (field << 3) | wire;

// ExportMetricsServiceRequest
const REQUEST_RESOURCE_METRICS = key(1, LEN);
// ResourceMetrics
const RM_RESOURCE = key(1, LEN);
const RM_SCOPE_METRICS = key(2, LEN);
const RM_SCHEMA_URL = key(3, LEN);
// Resource
const RESOURCE_ATTRIBUTES = 1;
// ScopeMetrics
const SM_SCOPE = key(1, LEN);
const SM_METRICS = key(2, LEN);
const SM_SCHEMA_URL = key(3, LEN);
// InstrumentationScope
const SCOPE_NAME = key(1, LEN);
const SCOPE_VERSION = key(2, LEN);
const SCOPE_ATTRIBUTES = 3;
// Metric
const METRIC_NAME = key(1, LEN);
const METRIC_DESCRIPTION = key(2, LEN);
const METRIC_UNIT = key(3, LEN);
const METRIC_GAUGE = key(5, LEN);
const METRIC_SUM = key(7, LEN);
const METRIC_HISTOGRAM = key(9, LEN);
const METRIC_EXP_HISTOGRAM = key(10, LEN);
// Gauge, Sum, Histogram, ExponentialHistogram
const DATA_POINTS = key(1, LEN);
const AGGREGATION_TEMPORALITY = key(2, VARINT);
const SUM_IS_MONOTONIC = key(3, VARINT);
// NumberDataPoint (and the first fields of the histogram points)
const POINT_START = key(2, I64);
const POINT_TIME = key(3, I64);
const NUMBER_AS_DOUBLE = key(4, I64);
const NUMBER_AS_INT = key(6, I64);
const NUMBER_ATTRIBUTES = 7;
// HistogramDataPoint
const HIST_COUNT = key(4, I64);
const HIST_SUM = key(5, I64);
const HIST_BUCKET_COUNTS = key(6, LEN);
const HIST_EXPLICIT_BOUNDS = key(7, LEN);
const HIST_ATTRIBUTES = 9;
const HIST_MIN = key(11, I64);
const HIST_MAX = key(12, I64);
// ExponentialHistogramDataPoint
const EXP_ATTRIBUTES = 1;
const EXP_COUNT = key(4, I64);
const EXP_SUM = key(5, I64);
const EXP_SCALE = key(6, VARINT);
const EXP_ZERO_COUNT = key(7, I64);
const EXP_POSITIVE = key(8, LEN);
const EXP_NEGATIVE = key(9, LEN);
const EXP_MIN = key(12, I64);
const EXP_MAX = key(13, I64);
// ExponentialHistogramDataPoint.Buckets
const BUCKETS_OFFSET = key(1, VARINT);
const BUCKETS_COUNTS = key(2, LEN);
// KeyValue, AnyValue, ArrayValue
const KV_KEY = key(1, LEN);
const KV_VALUE = key(2, LEN);
const ANY_STRING = key(1, LEN);
const ANY_BOOL = key(2, VARINT);
const ANY_INT = key(3, VARINT);
const ANY_DOUBLE = key(4, I64);
const ANY_ARRAY = key(5, LEN);
const ARRAY_VALUES = key(1, LEN);

/** A fixed64 or double field with its one-byte key. */
const FIXED_FIELD = 9;
const TWO_32 = 0x1_0000_0000;
/** int64's range; integers outside it go out as double_value. */
const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;
/** Attribute lists up to this size are encoded in a reused scratch buffer; larger ones in their own. */
const SCRATCH_MAX = 4096;

/** Bytes of the varint encoding of a non-negative integer (up to 2^53). */
function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  let size = 4;
  for (let rest = Math.floor(n / 0x1000_0000); rest > 0; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** Bytes of a length-delimited field (one-byte key) whose content is `size` bytes. */
function lenField(size: number): number {
  return 1 + varintSize(size) + size;
}

/** A sint32 as its zigzag varint value. */
function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** True when `n` goes out as AnyValue.int_value (an integer int64 can hold). */
function isInt64(n: number): boolean {
  return Number.isInteger(n) && n >= INT64_MIN && n < INT64_LIMIT;
}

/** An int64 as the unsigned 64-bit varint value protobuf writes for it (two's complement for negatives). */
function int64Bits(n: number): bigint {
  return BigInt.asUintN(64, BigInt(n));
}

function bigVarintSize(v: bigint): number {
  let size = 1;
  for (let rest = v >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** Size of an AnyValue message holding `value`; `name` is the attribute, for the error. */
function anyValueSize(value: AttributeValue | null | undefined, name: string): number {
  switch (typeof value) {
    case 'string':
      return lenField(Buffer.byteLength(value, 'utf8'));
    case 'boolean':
      return 2;
    case 'number':
      return isInt64(value) ? 1 + (value >= 0 && value <= Number.MAX_SAFE_INTEGER ? varintSize(value) : bigVarintSize(int64Bits(value))) : FIXED_FIELD;
    case 'undefined':
      // an unset value (possible inside an array): an empty AnyValue
      return 0;
    default:
      if (value === null) return 0;
      if (Array.isArray(value)) {
        let size = 0;
        for (const item of value) size += lenField(anyValueSize(item, name));
        return lenField(size);
      }
      throw new Error(`OTLP protobuf: attribute ${JSON.stringify(name)} has a value of a type this encoder does not write (${Object.prototype.toString.call(value)})`);
  }
}

/** Size of one KeyValue message. */
function keyValueSize(name: string, value: AttributeValue | undefined): number {
  return lenField(Buffer.byteLength(name, 'utf8')) + lenField(anyValueSize(value, name));
}

/** Size of a repeated KeyValue field (keys of one byte) holding `attrs`. */
function attributesSize(attrs: Attributes): number {
  let size = 0;
  for (const name in attrs) {
    if (Object.hasOwn(attrs, name)) size += lenField(keyValueSize(name, attrs[name]));
  }
  return size;
}

export interface OtlpProtobufEncoderOptions {
  /**
   * Keep each data point's encoded attribute list, by attributes object (the
   * caches hand out the same object while a series lives), as a one-byte
   * string for the next exports. Off by default: it saves re-encoding keys and
   * values (~40 % of an export's CPU), but holds ~95 bytes per live series for
   * good (5.5 MiB of heap at 59,000 series, measured by bench/otlp-export.ts),
   * while an export without it allocates next to nothing; the memory target
   * weighs more than tens of milliseconds once a minute.
   */
  cacheAttributes?: boolean;
}

export class OtlpProtobufEncoder {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Sizes of the container messages, in writing order (first pass fills, second pass reads). */
  private readonly sizes: number[] = [];
  private next = 0;
  private scratch: Buffer = Buffer.alloc(0);
  private readonly attrCache: WeakMap<Attributes, string> | undefined;
  /** The push time of the scope being encoded (PushTimedScopeMetrics), split into 32-bit halves; NaN when none. */
  private pushLow = NaN;
  private pushHigh = 0;
  // HrTime split into 32-bit halves by splitTime (no array per call)
  private low = 0;
  private high = 0;

  constructor(options: OtlpProtobufEncoderOptions = {}) {
    this.attrCache = options.cacheAttributes === true ? new WeakMap() : undefined;
  }

  /** The ExportMetricsServiceRequest carrying `metrics`, as protobuf bytes. */
  encode(metrics: ResourceMetrics): Uint8Array {
    this.sizes.length = 0;
    const rmSize = this.planResourceMetrics(metrics);
    const total = lenField(rmSize);
    this.buf = Buffer.allocUnsafe(total);
    this.pos = 0;
    this.next = 0;
    try {
      this.byte(REQUEST_RESOURCE_METRICS);
      this.varint(rmSize);
      this.writeResourceMetrics(metrics);
      // every byte of the unsafe allocation is written, or nothing leaves
      if (this.pos !== total) throw new Error(`OTLP protobuf: wrote ${this.pos} bytes where ${total} were planned`);
      return this.buf;
    } finally {
      this.buf = Buffer.alloc(0);
      this.sizes.length = 0;
      this.pushLow = NaN;
    }
  }

  // ---- first pass: sizes ----

  private reserve(): number {
    this.sizes.push(0);
    return this.sizes.length - 1;
  }

  /** Size of the ResourceMetrics message (the request's only field; not stored). */
  private planResourceMetrics(rm: ResourceMetrics): number {
    const resourceSlot = this.reserve();
    const resourceSize = attributesSize(rm.resource.attributes);
    this.sizes[resourceSlot] = resourceSize;
    let size = lenField(resourceSize);
    for (const sm of rm.scopeMetrics) size += lenField(this.planScopeMetrics(sm));
    const schemaUrl = rm.resource.schemaUrl;
    if (schemaUrl) size += lenField(Buffer.byteLength(schemaUrl, 'utf8'));
    return size;
  }

  private planScopeMetrics(sm: ScopeMetrics): number {
    const slot = this.reserve();
    const scopeSlot = this.reserve();
    const scopeSize = this.scopeSize(sm);
    this.sizes[scopeSlot] = scopeSize;
    let size = lenField(scopeSize);
    for (const m of sm.metrics) size += lenField(this.planMetric(m));
    if (sm.scope.schemaUrl) size += lenField(Buffer.byteLength(sm.scope.schemaUrl, 'utf8'));
    this.sizes[slot] = size;
    return size;
  }

  private scopeSize(sm: ScopeMetrics): number {
    const { name, version } = sm.scope;
    let size = lenField(Buffer.byteLength(name, 'utf8'));
    if (version) size += lenField(Buffer.byteLength(version, 'utf8'));
    const attrs = scopeAttributes(sm);
    if (attrs) size += attributesSize(attrs);
    return size;
  }

  private planMetric(m: MetricData): number {
    const slot = this.reserve();
    const { name, description, unit } = m.descriptor;
    let size = lenField(Buffer.byteLength(name, 'utf8'));
    if (description) size += lenField(Buffer.byteLength(description, 'utf8'));
    if (unit) size += lenField(Buffer.byteLength(unit, 'utf8'));
    const dataSlot = this.reserve();
    let data = 0;
    switch (m.dataPointType) {
      case DataPointType.GAUGE:
        for (const dp of m.dataPoints) data += lenField(this.numberPointSize(dp));
        break;
      case DataPointType.SUM:
        for (const dp of m.dataPoints) data += lenField(this.numberPointSize(dp));
        data += temporalitySize(m.aggregationTemporality) + (m.isMonotonic ? 2 : 0);
        break;
      case DataPointType.HISTOGRAM:
        for (const dp of m.dataPoints) data += lenField(histogramPointSize(dp));
        data += temporalitySize(m.aggregationTemporality);
        break;
      case DataPointType.EXPONENTIAL_HISTOGRAM:
        for (const dp of m.dataPoints) data += lenField(exponentialPointSize(dp));
        data += temporalitySize(m.aggregationTemporality);
        break;
      default:
        throw new Error(`OTLP protobuf: metric ${JSON.stringify(name)} has an unknown data point type ${String((m as { dataPointType: unknown }).dataPointType)}`);
    }
    this.sizes[dataSlot] = data;
    size += lenField(data);
    this.sizes[slot] = size;
    return size;
  }

  private numberPointSize(dp: DataPoint<number>): number {
    return 3 * FIXED_FIELD + this.pointAttributesSize(dp.attributes);
  }

  private pointAttributesSize(attrs: Attributes): number {
    return this.attrCache ? this.encodedAttributes(attrs).length : attributesSize(attrs);
  }

  /** The repeated KeyValue field 7 of a NumberDataPoint holding `attrs`, one byte per char (cached). */
  private encodedAttributes(attrs: Attributes): string {
    const cache = this.attrCache!;
    let bytes = cache.get(attrs);
    if (bytes === undefined) {
      const size = attributesSize(attrs);
      const [buf, pos] = [this.buf, this.pos];
      if (size <= SCRATCH_MAX) {
        if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(SCRATCH_MAX);
        this.buf = this.scratch;
      } else {
        this.buf = Buffer.allocUnsafe(size);
      }
      this.pos = 0;
      try {
        this.writeAttributes(attrs, NUMBER_ATTRIBUTES);
        bytes = this.buf.toString('latin1', 0, size);
      } finally {
        this.buf = buf;
        this.pos = pos;
      }
      cache.set(attrs, bytes);
    }
    return bytes;
  }

  // ---- second pass: bytes ----

  private take(): number {
    return this.sizes[this.next++]!;
  }

  private writeResourceMetrics(rm: ResourceMetrics): void {
    this.byte(RM_RESOURCE);
    this.varint(this.take());
    this.writeAttributes(rm.resource.attributes, RESOURCE_ATTRIBUTES);
    for (const sm of rm.scopeMetrics) {
      this.byte(RM_SCOPE_METRICS);
      this.varint(this.take());
      this.writeScopeMetrics(sm);
    }
    const schemaUrl = rm.resource.schemaUrl;
    if (schemaUrl) this.stringField(RM_SCHEMA_URL, schemaUrl);
  }

  private writeScopeMetrics(sm: ScopeMetrics): void {
    const { name, version, schemaUrl } = sm.scope;
    this.byte(SM_SCOPE);
    this.varint(this.take());
    this.stringField(SCOPE_NAME, name);
    if (version) this.stringField(SCOPE_VERSION, version);
    const attrs = scopeAttributes(sm);
    if (attrs) this.writeAttributes(attrs, SCOPE_ATTRIBUTES);
    const pushTime = (sm as Partial<PushTimedScopeMetrics>).pushTime;
    if (pushTime) {
      this.splitTime(pushTime);
      this.pushLow = this.low;
      this.pushHigh = this.high;
    } else {
      this.pushLow = NaN;
    }
    for (const m of sm.metrics) {
      this.byte(SM_METRICS);
      this.varint(this.take());
      this.writeMetric(m);
    }
    if (schemaUrl) this.stringField(SM_SCHEMA_URL, schemaUrl);
  }

  private writeMetric(m: MetricData): void {
    const { name, description, unit } = m.descriptor;
    this.stringField(METRIC_NAME, name);
    if (description) this.stringField(METRIC_DESCRIPTION, description);
    if (unit) this.stringField(METRIC_UNIT, unit);
    const dataSize = this.take();
    switch (m.dataPointType) {
      case DataPointType.GAUGE:
        this.byte(METRIC_GAUGE);
        this.varint(dataSize);
        this.writeNumberPoints(m.dataPoints, m.descriptor.valueType === ValueType.INT, true);
        break;
      case DataPointType.SUM:
        this.byte(METRIC_SUM);
        this.varint(dataSize);
        this.writeNumberPoints(m.dataPoints, m.descriptor.valueType === ValueType.INT, false);
        this.temporality(m.aggregationTemporality);
        if (m.isMonotonic) {
          this.byte(SUM_IS_MONOTONIC);
          this.byte(1);
        }
        break;
      case DataPointType.HISTOGRAM:
        this.byte(METRIC_HISTOGRAM);
        this.varint(dataSize);
        for (const dp of m.dataPoints) this.writeHistogramPoint(dp);
        this.temporality(m.aggregationTemporality);
        break;
      case DataPointType.EXPONENTIAL_HISTOGRAM:
        this.byte(METRIC_EXP_HISTOGRAM);
        this.varint(dataSize);
        for (const dp of m.dataPoints) this.writeExponentialPoint(dp);
        this.temporality(m.aggregationTemporality);
        break;
    }
  }

  private writeNumberPoints(points: ReadonlyArray<DataPoint<number>>, int: boolean, gauge: boolean): void {
    const cache = this.attrCache !== undefined;
    const pushed = !Number.isNaN(this.pushLow);
    for (const dp of points) {
      const attrs = cache ? this.encodedAttributes(dp.attributes) : undefined;
      const attrSize = attrs !== undefined ? attrs.length : attributesSize(dp.attributes);
      this.byte(DATA_POINTS);
      this.varint(3 * FIXED_FIELD + attrSize);
      // start: a gauge's is the push time too, a counter's is its series start (stampTime's rules)
      this.byte(POINT_START);
      if (pushed && gauge) this.fixed64(this.pushLow, this.pushHigh);
      else this.time(dp.startTime);
      this.byte(POINT_TIME);
      if (pushed) this.fixed64(this.pushLow, this.pushHigh);
      else this.time(dp.endTime);
      if (int) {
        this.byte(NUMBER_AS_INT);
        this.sfixed64(dp.value);
      } else {
        this.byte(NUMBER_AS_DOUBLE);
        this.double(dp.value);
      }
      if (attrs !== undefined) {
        this.pos += this.buf.write(attrs, this.pos, attrs.length, 'latin1');
      } else {
        this.writeAttributes(dp.attributes, NUMBER_ATTRIBUTES);
      }
    }
  }

  /** A histogram point's start and time: its own, or the push time (a histogram keeps its start, like a counter). */
  private pointTimes(dp: DataPoint<unknown>): void {
    this.byte(POINT_START);
    this.time(dp.startTime);
    this.byte(POINT_TIME);
    if (Number.isNaN(this.pushLow)) this.time(dp.endTime);
    else this.fixed64(this.pushLow, this.pushHigh);
  }

  private writeHistogramPoint(dp: DataPoint<Histogram>): void {
    const h = dp.value;
    this.byte(DATA_POINTS);
    this.varint(histogramPointSize(dp));
    this.pointTimes(dp);
    this.byte(HIST_COUNT);
    this.uint64Fixed(h.count);
    if (h.sum !== undefined) {
      this.byte(HIST_SUM);
      this.double(h.sum);
    }
    if (h.buckets.counts.length > 0) {
      this.byte(HIST_BUCKET_COUNTS);
      this.varint(8 * h.buckets.counts.length);
      for (const c of h.buckets.counts) this.uint64Fixed(c);
    }
    if (h.buckets.boundaries.length > 0) {
      this.byte(HIST_EXPLICIT_BOUNDS);
      this.varint(8 * h.buckets.boundaries.length);
      for (const b of h.buckets.boundaries) this.double(b);
    }
    this.writeAttributes(dp.attributes, HIST_ATTRIBUTES);
    if (h.min !== undefined) {
      this.byte(HIST_MIN);
      this.double(h.min);
    }
    if (h.max !== undefined) {
      this.byte(HIST_MAX);
      this.double(h.max);
    }
  }

  private writeExponentialPoint(dp: DataPoint<ExponentialHistogram>): void {
    const h = dp.value;
    this.byte(DATA_POINTS);
    this.varint(exponentialPointSize(dp));
    this.writeAttributes(dp.attributes, EXP_ATTRIBUTES);
    this.pointTimes(dp);
    this.byte(EXP_COUNT);
    this.uint64Fixed(h.count);
    if (h.sum !== undefined) {
      this.byte(EXP_SUM);
      this.double(h.sum);
    }
    if (h.scale !== 0) {
      this.byte(EXP_SCALE);
      this.varint(zigzag32(h.scale));
    }
    this.byte(EXP_ZERO_COUNT);
    this.uint64Fixed(h.zeroCount);
    this.byte(EXP_POSITIVE);
    this.writeBuckets(h.positive);
    this.byte(EXP_NEGATIVE);
    this.writeBuckets(h.negative);
    if (h.min !== undefined) {
      this.byte(EXP_MIN);
      this.double(h.min);
    }
    if (h.max !== undefined) {
      this.byte(EXP_MAX);
      this.double(h.max);
    }
  }

  private writeBuckets(b: ExponentialHistogram['positive']): void {
    this.varint(bucketsSize(b));
    if (b.offset !== 0) {
      this.byte(BUCKETS_OFFSET);
      this.varint(zigzag32(b.offset));
    }
    if (b.bucketCounts.length > 0) {
      this.byte(BUCKETS_COUNTS);
      this.varint(countsVarintSize(b.bucketCounts));
      for (const c of b.bucketCounts) this.varint(c);
    }
  }

  private temporality(t: AggregationTemporality): void {
    const value = protoTemporality(t);
    if (value !== 0) {
      this.byte(AGGREGATION_TEMPORALITY);
      this.byte(value);
    }
  }

  /** A repeated KeyValue field `field` holding `attrs`. */
  private writeAttributes(attrs: Attributes, field: number): void {
    const fieldKey = key(field, LEN);
    for (const name in attrs) {
      if (!Object.hasOwn(attrs, name)) continue;
      const value = attrs[name];
      const nameBytes = Buffer.byteLength(name, 'utf8');
      const valueSize = anyValueSize(value, name);
      this.byte(fieldKey);
      this.varint(lenField(nameBytes) + lenField(valueSize));
      this.byte(KV_KEY);
      this.varint(nameBytes);
      this.utf8(name, nameBytes);
      this.byte(KV_VALUE);
      this.varint(valueSize);
      this.writeAnyValue(value, name);
    }
  }

  private writeAnyValue(value: AttributeValue | null | undefined, name: string): void {
    switch (typeof value) {
      case 'string': {
        const n = Buffer.byteLength(value, 'utf8');
        this.byte(ANY_STRING);
        this.varint(n);
        this.utf8(value, n);
        return;
      }
      case 'boolean':
        this.byte(ANY_BOOL);
        this.byte(value ? 1 : 0);
        return;
      case 'number':
        if (isInt64(value)) {
          this.byte(ANY_INT);
          if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) this.varint(value);
          else this.bigVarint(int64Bits(value));
        } else {
          this.byte(ANY_DOUBLE);
          this.double(value);
        }
        return;
      case 'undefined':
        return;
      default:
        if (value === null) return;
        if (Array.isArray(value)) {
          let size = 0;
          for (const item of value) size += lenField(anyValueSize(item, name));
          this.byte(ANY_ARRAY);
          this.varint(size);
          for (const item of value) {
            this.byte(ARRAY_VALUES);
            this.varint(anyValueSize(item, name));
            this.writeAnyValue(item, name);
          }
          return;
        }
        // anyValueSize has thrown already for anything else
        throw new Error(`OTLP protobuf: attribute ${JSON.stringify(name)} cannot be written`);
    }
  }

  private stringField(fieldKey: number, s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.byte(fieldKey);
    this.varint(n);
    this.utf8(s, n);
  }

  // ---- primitives ----

  private byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** A non-negative integer up to 2^53 as a varint. */
  private varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x8000_0000) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  private bigVarint(v: bigint): void {
    while (v > 0x7fn) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private utf8(s: string, bytes: number): void {
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  private fixed64(low: number, high: number): void {
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  /** A count (a non-negative integer below 2^53) as fixed64. */
  private uint64Fixed(n: number): void {
    this.fixed64(n % TWO_32, Math.floor(n / TWO_32));
  }

  private double(v: number): void {
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  /** An INT instrument's value as sfixed64 (two's complement). */
  private sfixed64(v: number): void {
    if (v >= 0 && Number.isSafeInteger(v)) {
      this.uint64Fixed(v);
      return;
    }
    // negative, fractional, huge or not a number: rare; exact through BigInt, 0 when not finite
    const n = Number.isFinite(v) ? BigInt.asIntN(64, BigInt(Math.trunc(v))) : 0n;
    this.pos = this.buf.writeBigInt64LE(n, this.pos);
  }

  /** HrTime [seconds, nanoseconds] as nanoseconds since the epoch, fixed64. */
  private time(t: HrTime): void {
    this.splitTime(t);
    this.fixed64(this.low, this.high);
  }

  /**
   * Splits t[0] * 1e9 + t[1] into 32-bit halves in this.low / this.high
   * without losing precision: the product passes 2^53 for any date after
   * 1970-04, so seconds are split at 2^16 and every partial product stays
   * below 2^53 for every time fixed64 nanoseconds can hold (until 2554).
   */
  private splitTime(t: HrTime): void {
    const seconds = t[0];
    const secLow = seconds % 0x1_0000;
    const secHigh = (seconds - secLow) / 0x1_0000;
    const nsHigh = secHigh * 1e9; // the nanoseconds above 2^16 seconds, in units of 2^16
    const sum = (nsHigh % 0x1_0000) * 0x1_0000 + secLow * 1e9 + t[1];
    this.low = sum % TWO_32;
    this.high = Math.floor(nsHigh / 0x1_0000) + Math.floor(sum / TWO_32);
  }
}

function scopeAttributes(sm: ScopeMetrics): Attributes | undefined {
  // newer SDKs give a scope attributes (InstrumentationScope.attributes); this one's type has none
  return (sm.scope as { attributes?: Attributes }).attributes;
}

function protoTemporality(t: AggregationTemporality): number {
  // the SDK's enum (DELTA 0, CUMULATIVE 1) against the proto's (UNSPECIFIED 0, DELTA 1, CUMULATIVE 2)
  return t === AggregationTemporality.DELTA ? 1 : t === AggregationTemporality.CUMULATIVE ? 2 : 0;
}

function temporalitySize(t: AggregationTemporality): number {
  return protoTemporality(t) !== 0 ? 2 : 0;
}

function histogramPointSize(dp: DataPoint<Histogram>): number {
  const h = dp.value;
  let size = 3 * FIXED_FIELD; // start, time, count
  if (h.sum !== undefined) size += FIXED_FIELD;
  if (h.buckets.counts.length > 0) size += lenField(8 * h.buckets.counts.length);
  if (h.buckets.boundaries.length > 0) size += lenField(8 * h.buckets.boundaries.length);
  size += attributesSize(dp.attributes);
  if (h.min !== undefined) size += FIXED_FIELD;
  if (h.max !== undefined) size += FIXED_FIELD;
  return size;
}

function exponentialPointSize(dp: DataPoint<ExponentialHistogram>): number {
  const h = dp.value;
  let size = attributesSize(dp.attributes) + 4 * FIXED_FIELD; // start, time, count, zero_count
  if (h.sum !== undefined) size += FIXED_FIELD;
  if (h.scale !== 0) size += 1 + varintSize(zigzag32(h.scale));
  size += lenField(bucketsSize(h.positive)) + lenField(bucketsSize(h.negative));
  if (h.min !== undefined) size += FIXED_FIELD;
  if (h.max !== undefined) size += FIXED_FIELD;
  return size;
}

function bucketsSize(b: ExponentialHistogram['positive']): number {
  let size = 0;
  if (b.offset !== 0) size += 1 + varintSize(zigzag32(b.offset));
  if (b.bucketCounts.length > 0) size += lenField(countsVarintSize(b.bucketCounts));
  return size;
}

function countsVarintSize(counts: readonly number[]): number {
  let size = 0;
  for (const c of counts) size += varintSize(c);
  return size;
}

/** ExportMetricsServiceResponse, as the SDK's response handler reads it (partial success only). */
export interface ExportMetricsResponse {
  partialSuccess?: { rejectedDataPoints?: number; errorMessage?: string };
}

/**
 * Reads an ExportMetricsServiceResponse (partial_success = 1:
 * rejected_data_points = 1 int64, error_message = 2 string); unknown fields
 * are skipped. Throws on a malformed body (the SDK then logs it through its
 * diagnostic logger and still counts the export as delivered).
 */
export function decodeExportResponse(data: Uint8Array): ExportMetricsResponse {
  const out: ExportMetricsResponse = {};
  const reader = new Reader(data, 0, data.length);
  while (!reader.done()) {
    const k = reader.varint();
    if (k === key(1, LEN)) {
      const end = reader.lengthEnd();
      const partial: NonNullable<ExportMetricsResponse['partialSuccess']> = {};
      const inner = new Reader(data, reader.pos, end);
      while (!inner.done()) {
        const ik = inner.varint();
        if (ik === key(1, VARINT)) partial.rejectedDataPoints = inner.varint();
        else if (ik === key(2, LEN)) {
          const stop = inner.lengthEnd();
          partial.errorMessage = Buffer.from(data.buffer, data.byteOffset + inner.pos, stop - inner.pos).toString('utf8');
          inner.pos = stop;
        } else inner.skip(ik & 7);
      }
      out.partialSuccess = partial;
      reader.pos = end;
    } else reader.skip(k & 7);
  }
  return out;
}

class Reader {
  constructor(
    private readonly data: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('OTLP response: truncated varint');
      const b = this.data[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
    }
    throw new Error('OTLP response: varint longer than 10 bytes');
  }

  /** Reads a length and returns where the field ends. */
  lengthEnd(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.end) throw new Error('OTLP response: field runs past the end');
    return end;
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === I64) this.pos += 8;
    else if (wire === LEN) this.pos = this.lengthEnd();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`OTLP response: unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error('OTLP response: field runs past the end');
  }
}

/** The producer emits exactly what the caches hold, and rebuilds only when a family's version moves. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import { CacheMetricProducer, dataPoint, PushTimeProducer, toMetricData, type CachedFamily, type Point } from '../../src/metrics/producer';
import { PORT_FAMILIES } from '../../src/metrics/contract';

function family(state: { version: number; points: Point[] }): CachedFamily {
  return { spec: PORT_FAMILIES.tcpAlive, version: () => state.version, points: () => state.points };
}

const a = { process_name: 'a', exe_path: '/a', port: '1' };
const b = { process_name: 'b', exe_path: '/b', port: '2' };

test('a series dropped from the cache is gone from the next collection (no stale series)', async () => {
  const state = { version: 1, points: [{ attributes: a, value: 1 }, { attributes: b, value: 0 }] };
  const p = new CacheMetricProducer(resourceFromAttributes({}), 512);
  p.addCached([family(state)]);
  const first = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0] as GaugeMetricData;
  assert.equal(first.dataPointType, DataPointType.GAUGE);
  assert.equal(first.dataPoints.length, 2);
  state.points = [{ attributes: a, value: 1 }];
  state.version = 2;
  const second = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0] as GaugeMetricData;
  assert.deepEqual(second.dataPoints.map((d) => d.attributes), [a]);
  state.points = [];
  state.version = 3;
  assert.equal((await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics.length, 0, 'an empty family is not emitted');
});

test('the same MetricData object is reused while the version holds, and when a new version has identical points', async () => {
  const state = { version: 1, points: [{ attributes: a, value: 1 }] };
  const p = new CacheMetricProducer(resourceFromAttributes({}), 512);
  p.addCached([family(state)]);
  const m1 = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0]!;
  const m2 = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0]!;
  assert.equal(m1, m2);
  assert.ok(p.owns(m1));
  state.version = 2;
  state.points = [{ attributes: a, value: 1 }];
  assert.equal((await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0], m1, 'same values: same object');
  state.version = 3;
  state.points = [{ attributes: a, value: 0 }];
  const m3 = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0] as GaugeMetricData;
  assert.notEqual(m3, m1);
  assert.equal(m3.dataPoints[0]!.value, 0);
});

test('label values longer than the cap are cut', async () => {
  const long = { process_name: 'x'.repeat(1000), exe_path: '/e', port: '3' };
  const p = new CacheMetricProducer(resourceFromAttributes({}), 64);
  p.addCached([family({ version: 1, points: [{ attributes: long, value: 1 }] })]);
  const m = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0] as GaugeMetricData;
  assert.equal(String(m.dataPoints[0]!.attributes.process_name).length, 64);
  assert.equal(long.process_name.length, 1000, 'the cache itself is not modified');
});

test('a throwing family is reported as an error and the other families still come out', async () => {
  const p = new CacheMetricProducer(resourceFromAttributes({}), 512);
  const broken: CachedFamily = {
    spec: PORT_FAMILIES.udpAlive,
    version: () => 1,
    points: () => {
      throw new Error('boom');
    },
  };
  p.addCached([broken, family({ version: 1, points: [{ attributes: a, value: 1 }] })]);
  const r = await p.collect();
  assert.equal(r.errors.length, 1);
  assert.equal(r.resourceMetrics.scopeMetrics[0]!.metrics.length, 1);
});

test('the push view stamps every collection with its own time; counters keep their start; the scrape view keeps its objects', async () => {
  const state = { version: 1, points: [{ attributes: a, value: 1 }] };
  const counter: CachedFamily = {
    spec: { ...PORT_FAMILIES.tcpAlive, name: 'x_total', type: 'counter' },
    version: () => 1,
    points: () => [{ attributes: b, value: 5, startTime: [100, 0] }],
  };
  const p = new CacheMetricProducer(resourceFromAttributes({}), 512, 1_000);
  p.addCached([family(state), counter]);
  let clock = 2_000_500;
  const push = new PushTimeProducer(p, () => clock);
  const one = (await push.collect()).resourceMetrics.scopeMetrics[0]!.metrics;
  clock += 2_000;
  const two = (await push.collect()).resourceMetrics.scopeMetrics[0]!.metrics;
  assert.deepEqual(one[0]!.dataPoints[0]!.endTime, [2000, 500_000_000]);
  assert.deepEqual(two[0]!.dataPoints[0]!.endTime, [2002, 500_000_000], 'an unchanged gauge gets the new collection time');
  assert.deepEqual(two[0]!.dataPoints[0]!.startTime, [2002, 500_000_000]);
  assert.deepEqual(two[1]!.dataPoints[0]!.startTime, [100, 0], 'a counter keeps its series start');
  assert.deepEqual(two[1]!.dataPoints[0]!.endTime, [2002, 500_000_000]);
  assert.equal(two[0]!.dataPoints[0]!.attributes, a, 'attributes are shared, not copied');
  // the scrape path still gets the very same cached object (its serialized text is reused)
  const s1 = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0];
  const s2 = (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0];
  assert.equal(s1, s2);
  assert.ok(p.owns(s1!));
});

test('MetricData holds the points made by dataPoint as they are; a point whose label is cut, or a counter without a start, is copied', () => {
  const now: [number, number] = [1_700_000_000, 0];
  const start: [number, number] = [1_600_000_000, 0];
  const points = [dataPoint({ port: '1' }, 1), dataPoint({ port: '2' }, 0)];
  const gauge = toMetricData({ spec: PORT_FAMILIES.tcpAlive, points }, now, start, 100);
  assert.equal(gauge.dataPoints.length, 2);
  assert.ok(gauge.dataPoints.every((dp, i) => dp === points[i]), 'complete gauge points are held, not copied');

  const long = dataPoint({ port: 'x'.repeat(20) }, 1);
  const capped = toMetricData({ spec: PORT_FAMILIES.tcpAlive, points: [points[0]!, long] }, now, start, 5);
  assert.equal(capped.dataPoints[0], points[0]);
  assert.notEqual(capped.dataPoints[1], long);
  assert.equal(capped.dataPoints[1]!.attributes.port, 'xxxxx');

  const counterSpec = { ...PORT_FAMILIES.tcpAlive, type: 'counter' as const };
  const own = dataPoint({ port: '1' }, 3, start);
  const noStart = dataPoint({ port: '2' }, 4);
  const counter = toMetricData({ spec: counterSpec, points: [own, noStart] }, now, start, 100);
  assert.equal(counter.dataPoints[0], own, 'a counter with its own start is held');
  assert.notEqual(counter.dataPoints[1], noStart, 'a counter without a start gets the producer start on a copy');
  assert.deepEqual(counter.dataPoints[1]!.startTime, start);
});

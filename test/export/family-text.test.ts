/**
 * familyText against the SDK's own PrometheusSerializer (the serializer our
 * cached families used before): the same bytes for every producer family of
 * a live daemon's page, and for odd names, labels, values and descriptors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValueType } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { familyText } from '../../src/export/family-text';
import type { Daemon } from '../../src/daemon';
import { startInProcessDaemon } from '../helpers/hardening';
import { startListener, type Child } from '../helpers/processes';

/** The settings Telemetry rendered one family with: no target_info, no scope labels, no timestamps. */
const sdk = new PrometheusSerializer(undefined, false, undefined, true, true);
const resource = resourceFromAttributes({ 'service.name': 'family-text-test' });
const scope = { name: 'otel-host-receiver' };
const oracle = (m: MetricData): string => sdk.serialize({ resource, scopeMetrics: [{ scope, metrics: [m] }] });

type Attrs = Record<string, unknown>;
const T0: [number, number] = [1_700_000_000, 0];

function family(name: string, kind: 'gauge' | 'counter' | 'updown', points: Array<[Attrs, number]>, description = 'a family', unit = ''): MetricData {
  const base = {
    descriptor: { name, description, unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: points.map(([attributes, value]) => ({ startTime: T0, endTime: T0, attributes, value })),
  };
  return (kind === 'gauge' ? { ...base, dataPointType: DataPointType.GAUGE } : { ...base, dataPointType: DataPointType.SUM, isMonotonic: kind === 'counter' }) as MetricData;
}

const ODD_VALUES = [0, -0, 1, -1, 0.1 + 0.2, 1e21, 1e-7, 2 ** 53 + 2, -123456.789, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE];

test('odd values, labels, names and descriptors: the same bytes as the SDK serializer', () => {
  const cases: MetricData[] = [
    family('plain_gauge', 'gauge', ODD_VALUES.map((v, i) => [{ i: String(i) }, v])),
    family('escapes', 'gauge', [
      [{ path: 'C:\\dir\\file', quote: 'say "hi"', nl: 'two\nlines', both: '\\"\n' }, 1],
      [{ utf8: 'naïve café ✓ 🚀', empty: '' }, 2],
      [{ num: 42, bool: true, nil: null, undef: undefined, arr: [1, 'a'] }, 3],
      [{}, 4],
    ]),
    family('label_names', 'gauge', [[{ 'a.b-c': 'x', 'double__under': 'y', '__lead': 'z', 'trail_': 'w', 'UPPER': 'u', '9digit': 'd' }, 1]]),
    family('requests', 'counter', [[{ code: '200' }, 10]]),
    family('already_total', 'counter', [[{}, 1]]),
    family('updown_sum', 'updown', [[{ x: 'y' }, -5]]),
    family('with.dots-and-dashes', 'gauge', [[{}, 1]]),
    family('9lives', 'counter', [[{}, 9]]),
    family('help_escapes', 'gauge', [[{}, 1]], 'back\\slash and\nnewline "quoted"'),
    family('no_help', 'gauge', [[{}, 1]], ''),
    family('lead_space_help', 'gauge', [[{}, 1]], '  leading spaces'),
    family('seconds', 'counter', [[{ mode: 'user' }, 1.5]], 'cpu', 's'),
    family('bytes', 'gauge', [[{}, 1024]], 'memory', 'By'),
    family('odd_unit', 'gauge', [[{}, 1]], 'unit with escapes', 'a\\b\nc'),
    family('empty_family', 'gauge', []),
    family('empty_counter', 'counter', []),
  ];
  for (const m of cases) assert.equal(familyText(m).toString('utf8'), oracle(m), m.descriptor.name);
});

test('a family larger than the scratch buffer, and results that do not share it', () => {
  const points: Array<[Attrs, number]> = [];
  for (let i = 0; i < 5000; i++) points.push([{ groupname: `process-${i}-${'x'.repeat(40)}`, state: 'Sleeping' }, i * 1.25]);
  const big = family('big_family', 'gauge', points);
  const small = family('small_family', 'gauge', [[{ a: 'b' }, 1]]);
  const first = familyText(big);
  assert.ok(first.length > 256 * 1024, `${first.length} bytes`);
  assert.equal(first.toString('utf8'), oracle(big));
  const copy = Buffer.from(first);
  assert.equal(familyText(small).toString('utf8'), oracle(small));
  assert.equal(familyText(big).toString('utf8'), oracle(big));
  assert.ok(first.equals(copy), 'a later family must not overwrite an earlier result');
});

test('a histogram family is refused, not written wrongly', () => {
  const h = { ...family('latency', 'gauge', []), dataPointType: DataPointType.HISTOGRAM } as MetricData;
  assert.throws(() => familyText(h), /latency has data point type/);
});

let child: Child | undefined;
let daemon: Daemon | undefined;

before(async () => {
  child = await startListener('http', '127.0.0.1', 0, 'ohr-family-text');
  ({ daemon } = await startInProcessDaemon(['--collector.namedprocess']));
});

after(async () => {
  await daemon?.stop(0);
  await child?.kill();
});

test('every producer family of a live page: the same bytes as the SDK serializer', async () => {
  const d = daemon!;
  await d.processes!.sample();
  await d.monitor.tcpSweep();
  const { resourceMetrics } = await d.telemetry.prometheus!.collect();
  const names: string[] = [];
  let points = 0;
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      if (!d.producer.owns(m)) continue;
      names.push(m.descriptor.name);
      points += m.dataPoints.length;
      const expected = sdk.serialize({ resource: resourceMetrics.resource, scopeMetrics: [{ scope: sm.scope, metrics: [m] }] });
      assert.equal(familyText(m).toString('utf8'), expected, m.descriptor.name);
    }
  }
  // the page must hold what this test is about: process groups and the listener's port
  assert.ok(names.includes('namedprocess_namegroup_num_procs'), names.join(' '));
  assert.ok(names.includes('node_tcp_port_alive'), names.join(' '));
  assert.ok(names.length >= 20 && points >= 40, `${names.length} families, ${points} points`);
  const page = await d.telemetry.scrape();
  assert.match(page, /^namedprocess_namegroup_num_procs\{groupname="[^"]+"\} [1-9]\d*$/m);
  assert.match(page, new RegExp(`^node_tcp_port_alive\\{[^}]*port="${child!.ports[0]}"[^}]*\\} 1$`, 'm'));
});

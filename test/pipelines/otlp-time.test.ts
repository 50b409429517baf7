/**
 * What a real OTLP backend needs beyond a decodable payload: every export
 * carries its own time. A point that repeats the previous export's
 * time_unix_nano is stored once or rejected as a duplicate, and one older than
 * the backend's window makes it reject the whole batch. Also: a failing
 * receiver's status and answer reach the log and /api/status, and no secret
 * from the endpoint URL or the headers appears anywhere we print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpReceiver, type ReceivedExport, type Row } from '../helpers/otlp-receiver';
import { httpGet, startDaemon, startListener, waitFor } from '../helpers/pipelines';

const key = (r: Row): string => `${r.metric}${JSON.stringify(Object.entries(r.attributes).sort())}`;

test('two consecutive exports: time advances on every point, counters keep their start and never decrease', async (t) => {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  const listener = await startListener({ title: 'ohr-otlp-time' });
  const daemon = await startDaemon({
    args: ['--port.status-interval=1h'],
    env: { OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '700' },
  });
  t.after(async () => {
    await daemon.stop();
    await listener.stop();
    await receiver.stop();
  });
  const hasPort = (e: ReceivedExport): boolean =>
    e.rows.some((r) => r.metric === 'node_tcp_port_alive' && r.attributes.port === String(listener.tcpPort));
  const first = await receiver.next(hasPort, 30_000);
  const second = await receiver.next(() => true, 10_000);
  const third = await receiver.next(() => true, 10_000);

  // the TCP probe interval is an hour, so the port series is built once and must not freeze time
  // the contract families (ports, namedprocess) come from the cache producer; self-metrics are the SDK's own
  const contract = (r: Row): boolean => r.metric.startsWith('node_') || r.metric.startsWith('namedprocess_');
  const timesOf = (e: ReceivedExport): Set<string> => new Set(e.rows.filter(contract).map((r) => r.timeUnixNano));
  for (const [a, b] of [
    [first, second],
    [second, third],
  ] as const) {
    const before = new Map(a.rows.map((r) => [key(r), r]));
    let compared = 0;
    let counters = 0;
    for (const r of b.rows) {
      const p = before.get(key(r));
      if (!p) continue;
      compared++;
      assert.ok(BigInt(r.timeUnixNano) > BigInt(p.timeUnixNano), `${key(r)}: time ${r.timeUnixNano} did not advance past ${p.timeUnixNano}`);
      if (r.kind === 'sum') {
        counters++;
        assert.equal(r.temporality, 2, `${r.metric} is cumulative`);
        assert.equal(r.monotonic, true, `${r.metric} is monotonic`);
        assert.equal(r.startTimeUnixNano, p.startTimeUnixNano, `${key(r)}: start time moved`);
        assert.ok(BigInt(r.startTimeUnixNano) <= BigInt(r.timeUnixNano), `${key(r)}: starts after its time`);
        assert.ok(r.value >= p.value, `${key(r)}: counter went from ${p.value} to ${r.value}`);
      }
    }
    assert.ok(compared > 50, `only ${compared} series in common between two exports`);
    assert.ok(counters > 10, `only ${counters} counter series compared`);
  }
  // every point of one export carries that export's time: one timestamp per export for the contract families
  assert.ok(second.rows.filter(contract).length > 50);
  assert.equal(timesOf(second).size, 1, `export carried several times: ${[...timesOf(second)].join(', ')}`);
  const port = second.rows.find((r) => r.metric === 'node_tcp_port_alive' && r.attributes.port === String(listener.tcpPort));
  assert.ok(port, 'the listener series is in the second export');
  assert.equal(port.value, 1);

  // every family says what it is; unit words in names match the OTLP unit
  const seen = new Set<string>();
  for (const r of [...first.rows, ...second.rows]) {
    if (seen.has(r.metric)) continue;
    seen.add(r.metric);
    assert.notEqual(r.description, '', `${r.metric} has no description`);
    if (/_seconds(_total)?$/.test(r.metric)) assert.equal(r.unit, 's', `${r.metric} unit`);
    if (/_bytes(_total)?$/.test(r.metric)) assert.equal(r.unit, 'By', `${r.metric} unit`);
  }
});

test('a refusing receiver: its status and answer are logged and shown, never a credential', async (t) => {
  const receiver = new OtlpReceiver();
  receiver.behaviour = { status: 400, body: "json encoding isn't supported for opentelemetry format. Use protobuf encoding" };
  const base = await receiver.start();
  const u = new URL(base);
  const endpoint = `http://ohruser:s3cr3tpass@${u.host}${u.pathname}?api_key=K3YVALUE&tenant=t1`;
  const daemon = await startDaemon({
    env: {
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20H34DERSECRET',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    },
  });
  t.after(async () => {
    await daemon.stop();
    await receiver.stop();
  });
  const status = await waitFor('OTLP failure in /api/status', async () => {
    const r = await httpGet(`${daemon.baseUrl}/api/status`);
    const s = JSON.parse(r.body) as { otlp: { up: number; lastError?: string; endpoint?: string } };
    return s.otlp.lastError !== undefined ? s : undefined;
  });
  assert.match(status.otlp.lastError!, /^HTTP 400 json encoding isn't supported/);
  assert.equal(status.otlp.endpoint, `http://***@${u.host}${u.pathname}?api_key=***&tenant=***`);
  assert.ok(receiver.requests > 0);
  const page = (await httpGet(`${daemon.baseUrl}/`)).body;
  const api = (await httpGet(`${daemon.baseUrl}/api/status`)).body;
  await waitFor('the failing log line', () => (daemon.output(400).includes('OTLP export failing') ? true : undefined), 10_000);
  const log = daemon.output(400);
  assert.match(log, /OTLP export failing.*HTTP 400 json encoding/);
  for (const [where, text] of [
    ['log', log],
    ['status page', page],
    ['/api/status', api],
  ] as const) {
    for (const secret of ['ohruser', 's3cr3tpass', 'K3YVALUE', 'H34DERSECRET', 'Bearer']) {
      assert.ok(!text.includes(secret), `${where} shows ${secret}`);
    }
  }
});

/**
 * The daemon against real processes on real loopback sockets, with both
 * exports on: /metrics (Prometheus text) and OTLP protobuf to a real receiver.
 *
 * Children: an HTTP server on 127.0.0.1 (later made to hang), a non-HTTP
 * banner service on ::1, a service that accepts and never answers, a UDP
 * socket, and a process whose name is excluded. Intervals are short
 * (400 ms probes, 3 s pool rebuild) so the life cycle plays out in seconds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadConfig, type Config } from '../../src/config/options';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { startListener, NODE_EXE, type Child } from '../helpers/processes';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value, find, type Exposition } from '../helpers/exposition';
import { OtlpReceiver, type ReceivedExport } from '../helpers/otlp-receiver';

const PROBE_MS = 400;
const REBUILD_MS = 3000;

let daemon: Daemon;
let base: string;
let receiver: OtlpReceiver;
let httpChild: Child, bannerChild: Child, hungChild: Child, udpChild: Child, excludedChild: Child;

function config(argv: string[], env: Record<string, string>): Config {
  const r = loadConfig(argv, env);
  if (r.kind !== 'config') throw new Error('no config');
  return r.config;
}

/** Duration of the last TCP sweep (which, on a shared host, includes every other listener). */
const sweepMs = (): number => Math.ceil((daemon.stats.stages.get('tcp_probe')?.durationSeconds ?? 0) * 1000);

async function scrape(): Promise<Exposition> {
  const res = await get(`${base}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(res.body);
}

const labels = (c: Child, title: string, port = c.ports[0]!): Record<string, string> => ({
  process_name: title,
  exe_path: NODE_EXE,
  port: String(port),
});

before(async () => {
  [httpChild, bannerChild, hungChild, udpChild, excludedChild] = await Promise.all([
    startListener('http', '127.0.0.1', 0, 'ohr-http'),
    startListener('banner', '::1', 0, 'ohr-banner'),
    startListener('hung', '127.0.0.1', 0, 'ohr-hung'),
    startListener('udp', '127.0.0.1', 0, 'ohr-udp'),
    startListener('http', '127.0.0.1', 0, 'ohr-skipme'),
  ]);
  receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  daemon = new Daemon(
    config(
      [
        '--web.listen-address=127.0.0.1:0',
        `--port.status-interval=${PROBE_MS}ms`,
        `--port.label-interval=${REBUILD_MS}ms`,
        `--process.alive-interval=${PROBE_MS}ms`,
        '--port.check-timeout=1s',
        '--no-collector.namedprocess',
      ],
      {
        EXCLUDED_PROCESS_NAMES: 'skipme',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint,
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_EXPORTER_OTLP_TIMEOUT: '400',
        OTEL_SERVICE_NAME: 'ohr-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci',
      },
    ),
    silentLogger,
    { hostName: 'test-host', machineId: 'abc123' },
  );
  const addr = await daemon.start();
  base = `http://127.0.0.1:${addr.port}`;
  await daemon.ready;
});

after(async () => {
  await daemon?.stop(1000);
  await receiver?.stop();
  await Promise.all([httpChild, bannerChild, hungChild, udpChild, excludedChild].map((c) => c?.kill()));
});

test('every listener appears with process_name, exe_path and port, probed', async () => {
  const e = await waitFor('http detection', async () => {
    const s = await scrape();
    return value(s, 'node_http_port_alive', { port: String(httpChild.ports[0]) }) === 1 ? s : undefined;
  });
  // TCP on IPv4 answering HTTP
  assert.equal(value(e, 'node_tcp_port_alive', labels(httpChild, 'ohr-http')), 1);
  const rt = value(e, 'node_tcp_port_response_seconds', labels(httpChild, 'ohr-http'))!;
  assert.ok(rt > 0 && rt < 0.3, `connect time ${rt}`);
  assert.equal(value(e, 'node_http_port_alive', labels(httpChild, 'ohr-http')), 1);
  // TCP on IPv6 only, not HTTP: alive, and no HTTP series at all
  assert.equal(value(e, 'node_tcp_port_alive', labels(bannerChild, 'ohr-banner')), 1);
  assert.equal(find(e, 'node_http_port_alive', { port: String(bannerChild.ports[0]) }).length, 0);
  // accepts, never answers: TCP alive, never detected as HTTP
  assert.equal(value(e, 'node_tcp_port_alive', labels(hungChild, 'ohr-hung')), 1);
  assert.equal(find(e, 'node_http_port_alive', { port: String(hungChild.ports[0]) }).length, 0);
  // UDP: presence only, no latency
  assert.equal(value(e, 'node_udp_port_alive', labels(udpChild, 'ohr-udp')), 1);
  assert.equal(find(e, 'node_tcp_port_response_seconds', { port: String(udpChild.ports[0]) }).length, 0);
  // process alive: one series per name+exe, without port
  for (const title of ['ohr-http', 'ohr-banner', 'ohr-hung', 'ohr-udp']) {
    const s = find(e, 'node_process_alive', { process_name: title });
    assert.equal(s.length, 1, title);
    assert.deepEqual(Object.keys(s[0]!.labels).sort(), ['exe_path', 'process_name']);
    assert.equal(s[0]!.value, 1);
  }
  // excluded by EXCLUDED_PROCESS_NAMES (contains match): nowhere
  assert.equal(e.samples.filter((s) => s.labels.process_name === 'ohr-skipme').length, 0);
  assert.ok(daemon.pool.excluded().some((x) => x.processName === 'ohr-skipme' && x.reason === 'skipme'));
  // the contract: label names exactly, gauges, no scope labels
  for (const name of ['node_tcp_port_alive', 'node_tcp_port_response_seconds', 'node_http_port_alive', 'node_udp_port_alive']) {
    assert.equal(e.types.get(name), 'gauge', name);
    for (const s of find(e, name)) assert.deepEqual(Object.keys(s.labels).sort(), ['exe_path', 'port', 'process_name'], name);
  }
  assert.equal(e.samples.filter((s) => 'otel_scope_name' in s.labels).length, 0);
});

test('a service that answered HTTP and then hangs reads node_http_port_alive 0 while TCP stays 1', async () => {
  httpChild.proc.kill('SIGUSR1');
  const e = await waitFor('http hang detected', async () => {
    const s = await scrape();
    return value(s, 'node_http_port_alive', labels(httpChild, 'ohr-http')) === 0 ? s : undefined;
  }, 15_000);
  assert.equal(value(e, 'node_tcp_port_alive', labels(httpChild, 'ohr-http')), 1);
});

test('the same data arrives over OTLP protobuf with names, attributes and resource intact', async () => {
  const exp = await receiver.next((x) => x.resource['service.name'] === 'ohr-test' && x.rows.some((r) => r.metric === 'node_tcp_port_alive' && r.attributes.port === String(bannerChild.ports[0])));
  assert.equal(exp.encoding, 'protobuf');
  assert.equal(exp.headers['content-type'], 'application/x-protobuf');
  assert.equal(exp.resource['service.name'], 'ohr-test');
  assert.equal(exp.resource['service.instance.id'], 'test-host');
  assert.equal(exp.resource['host.name'], 'test-host');
  assert.equal(exp.resource['host.id'], 'abc123');
  assert.equal(exp.resource['os.type'], 'linux');
  assert.equal(exp.resource['deployment.environment.name'], 'ci');
  assert.ok(!Object.keys(exp.resource).some((k) => k.startsWith('process.')), 'no process.* (command line) in the resource');
  const row = exp.rows.find((r) => r.metric === 'node_tcp_port_alive' && r.attributes.port === String(bannerChild.ports[0]))!;
  assert.deepEqual(row.attributes, labels(bannerChild, 'ohr-banner'));
  assert.equal(row.kind, 'gauge');
  assert.equal(row.value, 1);
  const names = new Set(exp.rows.map((r) => r.metric));
  for (const n of ['node_tcp_port_alive', 'node_tcp_port_response_seconds', 'node_udp_port_alive', 'node_process_alive', 'otel_host_receiver_build_info']) {
    assert.ok(names.has(n), `${n} in OTLP`);
  }
  // no suffixes added on the way out: every name is exactly as declared
  for (const n of names) assert.ok(!/_total_total$|_seconds_seconds$/.test(n), n);
  const probes = exp.rows.find((r) => r.metric === 'otel_host_receiver_probes_total')!;
  assert.equal(probes.kind, 'sum');
  assert.equal(probes.monotonic, true);
  assert.equal(probes.temporality, 2, 'cumulative');
  assert.equal(exp.rows.filter((r) => 'otel.metric.overflow' in r.attributes).length, 0);
});

test('killing a service: TCP and process alive read 0 within one probe interval, then the rebuild removes its series from both exports', async () => {
  const port = String(bannerChild.ports[0]);
  const killedAt = Date.now();
  await bannerChild.kill();
  const down = await waitFor('banner down', async () => {
    const s = await scrape();
    return value(s, 'node_tcp_port_alive', { port }) === 0 && value(s, 'node_process_alive', { process_name: 'ohr-banner' }) === 0 ? s : undefined;
  }, 15_000, 50);
  const tookMs = Date.now() - killedAt;
  // one interval to start the next sweep, plus the sweep itself (it probes every port on this host)
  assert.ok(tookMs < PROBE_MS + sweepMs() + 1000, `went to 0 after ${tookMs} ms (last sweep ${sweepMs()} ms)`);
  assert.equal(value(down, 'node_tcp_port_response_seconds', { port }), 0);

  // the next rebuild no longer finds it: every series with it leaves /metrics...
  const gone = await waitFor('banner series removed', async () => {
    const s = await scrape();
    return find(s, 'node_tcp_port_alive', { port }).length === 0 ? s : undefined;
  }, REBUILD_MS * 2 + 10_000);
  assert.equal(gone.samples.filter((s) => s.labels.process_name === 'ohr-banner').length, 0);
  // ...and the next OTLP export
  const removedAt = Date.now();
  const exp: ReceivedExport = await receiver.next((x) => x.resource['service.name'] === 'ohr-test' && x.at > removedAt && x.rows.some((r) => r.metric === 'node_tcp_port_alive'));
  assert.equal(exp.rows.filter((r) => r.attributes.process_name === 'ohr-banner').length, 0);
  assert.ok(exp.rows.some((r) => r.metric === 'node_tcp_port_alive' && r.attributes.process_name === 'ohr-http'));
});

test('a port opened after start is added within one probe interval, not one rebuild', async () => {
  // start right after a rebuild, so the next one is a whole PORT_LABEL_INTERVAL away
  const runs = daemon.stats.stages.get('discovery')?.runs ?? 0;
  await waitFor('a rebuild', () => ((daemon.stats.stages.get('discovery')?.runs ?? 0) > runs ? true : undefined), REBUILD_MS + 10_000, 20);
  const late = await startListener('banner', '127.0.0.1', 0, 'ohr-late');
  try {
    const startedAt = Date.now();
    const rebuildsBefore = daemon.stats.stages.get('discovery')?.runs ?? 0;
    await waitFor('late listener', async () => {
      const s = await scrape();
      return value(s, 'node_tcp_port_alive', labels(late, 'ohr-late')) === 1 ? true : undefined;
    }, 15_000, 50);
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs < PROBE_MS + sweepMs() + 1000, `added after ${tookMs} ms (last sweep ${sweepMs()} ms)`);
    assert.equal(daemon.stats.stages.get('discovery')?.runs ?? 0, rebuildsBefore, 'found by the cheap pass, not by a rebuild');
  } finally {
    await late.kill();
  }
});

test('killing the UDP service turns node_udp_port_alive to 0', async () => {
  await udpChild.kill();
  await waitFor('udp down', async () => {
    const s = await scrape();
    return value(s, 'node_udp_port_alive', { port: String(udpChild.ports[0]) }) === 0 ? true : undefined;
  }, 15_000);
});

test('promtool check metrics passes on the live /metrics page', { skip: hasPromtool() ? false : 'promtool not installed (Debian package prometheus)' }, async () => {
  const res = await get(`${base}/metrics`);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const out = execFileSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
  assert.equal(out.trim(), '', out);
});

function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

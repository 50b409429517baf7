/**
 * Why a port reads 0 (issue 10): node_tcp_port_probe_failures_total by reason,
 * node_http_port_status_code, and the last failure on the status page and
 * /api/status. Real children on loopback: a service that is killed (refused),
 * one whose listener no longer completes handshakes (timeout), one answering
 * HTTP 503.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../src/daemon';
import { startInProcessDaemon } from '../helpers/hardening';
import { startListener, NODE_EXE, type Child } from '../helpers/processes';
import { startStalledListener, startStatusListener, type OddListener } from '../helpers/odd-listeners';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value, find } from '../helpers/exposition';

let daemon: Daemon;
let base: string;
let refusedChild: Child;
let stalled: OddListener;
let failing: OddListener;

const scrape = async (): Promise<ReturnType<typeof parseExposition>> => parseExposition((await get(`${base}/metrics`)).body);

before(async () => {
  [refusedChild, stalled, failing] = await Promise.all([
    startListener('http', '127.0.0.1', 0, 'ohr-refused'),
    startStalledListener('ohr-stalled'),
    startStatusListener('ohr-503', 503),
  ]);
  ({ daemon, base } = await startInProcessDaemon([
    '--port.status-interval=500ms',
    '--port.http-status-interval=500ms',
    '--port.label-interval=1h',
    '--port.check-timeout=1s',
  ]));
});

after(async () => {
  await daemon?.stop(1000);
  await Promise.all([refusedChild?.kill(), stalled?.stop(), failing?.stop()]);
});

test('a killed service counts reason="refused"; the status page and /api/status show the reason and time', async () => {
  const port = String(refusedChild.ports[0]);
  const labels = { process_name: 'ohr-refused', exe_path: NODE_EXE, port };
  await waitFor('the service probed up', async () => (value(await scrape(), 'node_tcp_port_alive', labels) === 1 ? true : undefined));
  assert.deepEqual(find(await scrape(), 'node_tcp_port_probe_failures_total', labels), [], 'no failure series before the first failure');
  await refusedChild.kill();
  const e = await waitFor('two refused probes', async () => {
    const s = await scrape();
    return (value(s, 'node_tcp_port_probe_failures_total', { ...labels, reason: 'refused' }) ?? 0) >= 2 ? s : undefined;
  });
  assert.equal(value(e, 'node_tcp_port_alive', labels), 0);
  // only the reason that happened has a series
  assert.deepEqual(find(e, 'node_tcp_port_probe_failures_total', labels).map((x) => x.labels.reason), ['refused']);

  const api = JSON.parse((await get(`${base}/api/status`)).body) as { ports: Array<{ port: number; lastFailureReason?: string; lastFailureAt?: string }> };
  const row = api.ports.find((p) => p.port === refusedChild.ports[0]);
  assert.equal(row?.lastFailureReason, 'refused');
  assert.ok(row?.lastFailureAt && Math.abs(Date.parse(row.lastFailureAt) - Date.now()) < 60_000, `lastFailureAt ${row?.lastFailureAt}`);
  const page = (await get(`${base}/`)).body;
  assert.match(page, /<th>Last failure<\/th>/);
  assert.match(page, new RegExp(`<td>${port}</td>[^\\n]*<td>refused at \\d{4}-\\d\\d-\\d\\dT`));
});

test('a listener that no longer completes handshakes counts reason="timeout", not the refusals of other addresses', async () => {
  const labels = { process_name: 'ohr-stalled', exe_path: NODE_EXE, port: String(stalled.port) };
  const e = await waitFor('a timed-out probe', async () => {
    const s = await scrape();
    return (value(s, 'node_tcp_port_probe_failures_total', { ...labels, reason: 'timeout' }) ?? 0) >= 1 ? s : undefined;
  }, 30_000);
  assert.equal(value(e, 'node_tcp_port_alive', labels), 0);
  assert.equal(value(e, 'node_tcp_port_probe_failures_total', { ...labels, reason: 'refused' }), undefined);
  const api = JSON.parse((await get(`${base}/api/status`)).body) as { ports: Array<{ port: number; lastFailureReason?: string }> };
  assert.equal(api.ports.find((p) => p.port === stalled.port)?.lastFailureReason, 'timeout');
});

test('an HTTP 503 shows in node_http_port_status_code; it reads 0 once nothing answers', async () => {
  const labels = { process_name: 'ohr-503', exe_path: NODE_EXE, port: String(failing.port) };
  const e = await waitFor('the 503 port detected as HTTP', async () => {
    const s = await scrape();
    return value(s, 'node_http_port_status_code', labels) !== undefined ? s : undefined;
  });
  assert.equal(value(e, 'node_http_port_status_code', labels), 503);
  // it answers: alive for HTTP and TCP, no failure counted
  assert.equal(value(e, 'node_http_port_alive', labels), 1);
  assert.deepEqual(find(e, 'node_tcp_port_probe_failures_total', labels), []);
  const api = JSON.parse((await get(`${base}/api/status`)).body) as { ports: Array<{ port: number; httpStatus?: number }> };
  assert.equal(api.ports.find((p) => p.port === failing.port)?.httpStatus, 503);
  // stop it: nothing answers any more, the status code reads 0
  await failing.stop();
  await waitFor('status code 0 once nothing answers', async () => (value(await scrape(), 'node_http_port_status_code', labels) === 0 ? true : undefined));
});

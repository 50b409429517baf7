/**
 * PROC_PREFIX pointing at a fixture tree, and a fixture with more series than
 * the SDK's 2000-per-instrument cap: every port must come out of /metrics and
 * OTLP, with no otel_metric_overflow series.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '../../src/config/options';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { get } from '../helpers/http';
import { find, parseExposition, value } from '../helpers/exposition';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { tempDir } from '../helpers/tmp';

const MAIN = path.resolve(__dirname, '../../src/main.js');
const BASIC = path.resolve(__dirname, '../../../test/fixtures/proc-basic');
const PORTS = 2500;
const FIRST_PORT = 45000;

let root: string;

/** A procfs slice with one process "bigsvc" listening on PORTS loopback ports nobody answers on. */
function makeBigFixture(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ohr-proc-big-'));
  mkdirSync(path.join(dir, 'net'));
  const lines = ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'];
  mkdirSync(path.join(dir, '4242', 'fd'), { recursive: true });
  for (let i = 0; i < PORTS; i++) {
    const port = (FIRST_PORT + i).toString(16).toUpperCase().padStart(4, '0');
    const inode = 900000 + i;
    lines.push(`${String(i).padStart(4)}: 0100007F:${port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0`);
    symlinkSync(`socket:[${inode}]`, path.join(dir, '4242', 'fd', String(i + 3)));
  }
  writeFileSync(path.join(dir, 'net', 'tcp'), lines.join('\n') + '\n');
  writeFileSync(path.join(dir, '4242', 'comm'), 'bigsvc\n');
  writeFileSync(path.join(dir, '4242', 'cmdline'), '/opt/big/bin/bigsvc\0');
  writeFileSync(path.join(dir, '4242', 'stat'), `4242 (bigsvc) S 1 4242 4242 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5000 1000 10 ${'0 '.repeat(28)}\n`);
  symlinkSync('/opt/big/bin/bigsvc', path.join(dir, '4242', 'exe'));
  return dir;
}

before(() => {
  root = makeBigFixture();
});
after(() => rmSync(root, { recursive: true, force: true }));

test(`${PORTS} ports in a fixture: all exported through Prometheus and OTLP, no overflow series`, async () => {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  const r = loadConfig(
    ['--web.listen-address=127.0.0.1:0', '--port.check-timeout=500ms', '--port.check-concurrency=256', '--no-collector.namedprocess', '--http.detection=false'],
    { PROC_PREFIX: root, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_SERVICE_NAME: 'ohr-scale' },
  );
  const daemon = new Daemon((r as { config: Config }).config, silentLogger);
  try {
    const addr = await daemon.start();
    await daemon.ready;
    const res = await get(`http://127.0.0.1:${addr.port}/metrics`);
    const e = parseExposition(res.body);
    const alive = find(e, 'node_tcp_port_alive', { process_name: 'bigsvc', exe_path: '/opt/big/bin/bigsvc' });
    assert.equal(alive.length, PORTS);
    assert.equal(new Set(alive.map((s) => s.labels.port)).size, PORTS);
    assert.equal(find(e, 'node_tcp_port_response_seconds').length, PORTS);
    assert.equal(e.samples.filter((s) => 'otel_metric_overflow' in s.labels).length, 0);
    assert.equal(value(e, 'node_process_alive', { process_name: 'bigsvc' }), 1);

    const exp = await receiver.next((x) => x.resource['service.name'] === 'ohr-scale' && x.rows.some((row) => row.metric === 'node_tcp_port_alive'));
    assert.equal(exp.rows.filter((row) => row.metric === 'node_tcp_port_alive').length, PORTS);
    assert.equal(exp.rows.filter((row) => 'otel.metric.overflow' in row.attributes).length, 0);
  } finally {
    await daemon.stop(1000);
    await receiver.stop();
  }
});

test('PROC_PREFIX points the binary at a host /proc mounted elsewhere (fixture), --once prints the exposition', async () => {
  // The fixture's nginx listens on 127.0.0.1:38080, a port some other program on this host may
  // hold. A copy of the fixture names a port this test listens on itself instead, so the probe's
  // answer is known: it connects (1).
  const own = net.createServer((s) => s.end());
  await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
  const port = (own.address() as net.AddressInfo).port;
  const fixture = tempDir('proc-basic').dir;
  cpSync(BASIC, fixture, { recursive: true, verbatimSymlinks: true });
  const tcp = path.join(fixture, 'net', 'tcp');
  const listen38080 = '0100007F:94C0 00000000:0000 0A';
  const table = readFileSync(tcp, 'utf8');
  assert.ok(table.includes(listen38080), 'fixture: nginx LISTEN on 127.0.0.1:38080');
  writeFileSync(tcp, table.replace(listen38080, `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`));
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, [MAIN, '--once', '--port.check-timeout=2s', '--no-collector.namedprocess'], {
      env: { ...process.env, PROC_PREFIX: fixture },
    }));
  } finally {
    own.close();
  }
  const e = parseExposition(stdout);
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'nginx', exe_path: '/usr/sbin/nginx', port: String(port) }), 1);
  assert.equal(find(e, 'node_tcp_port_alive', { port: '38080' }).length, 0);
  assert.equal(value(e, 'node_udp_port_alive', { process_name: 'dnsmasq', exe_path: '/usr/sbin/dnsmasq', port: '35353' }), 1);
  assert.equal(value(e, 'node_process_alive', { process_name: 'nginx', exe_path: '/usr/sbin/nginx' }), 1);
  assert.equal(value(e, 'node_process_alive', { process_name: 'sshd', exe_path: '/usr/sbin/sshd' }), 1);
  assert.equal(find(e, 'node_tcp_port_alive', { process_name: 'node_exporter' }).length, 0, 'built-in exclusion');
  assert.equal(value(e, 'otel_host_receiver_unowned_sockets'), 2);
});

test('a procfs path that does not exist fails at start with a clear message', async () => {
  await assert.rejects(
    promisify(execFile)(process.execPath, [MAIN, '--once'], { env: { ...process.env, PROC_PREFIX: '/nonexistent/proc' } }),
    (err: { code?: number; stderr?: string }) => err.code !== 0 && /nonexistent/.test(err.stderr ?? ''),
  );
});


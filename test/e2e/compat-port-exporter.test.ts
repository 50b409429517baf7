/**
 * --compat.port-exporter (issue 10 item 5): custom_port_exporter{host,app,port,state,pid}
 * with value = pid, one series per listening TCP socket, from real listeners on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig, type Config } from '../../src/config/options';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { startListener, type Child } from '../helpers/processes';
import { get } from '../helpers/http';
import { parseExposition, find, type Exposition } from '../helpers/exposition';

let daemon: Daemon;
let base: string;
const children: Child[] = [];

function config(argv: string[]): Config {
  const r = loadConfig(argv, {});
  if (r.kind !== 'config') throw new Error('no config');
  return r.config;
}

before(async () => {
  children.push(await startListener('hung', '127.0.0.1', 0, 'ohr-compat-lo'));
  children.push(await startListener('hung', '0.0.0.0', 0, 'ohr-compat-any'));
  children.push(await startListener('many:2', '::1', 0, 'ohr-compat-v6'));
  daemon = new Daemon(
    config(['--web.listen-address=127.0.0.1:0', '--compat.port-exporter', '--no-collector.namedprocess', '--metrics.exporter=prometheus', '--storage.path=']),
    silentLogger,
    { hostName: 'ohr-compat-host' },
  );
  base = `http://127.0.0.1:${(await daemon.start()).port}`;
  await daemon.ready;
});

after(async () => {
  await daemon?.stop(1000);
  await Promise.all(children.map((c) => c.kill()));
});

async function scrape(): Promise<Exposition> {
  return parseExposition((await get(`${base}/metrics`)).body);
}

test('one series per listening socket: value = pid, port "tcp <addr>:<port>", state 10, app = comm, host = hostname', async () => {
  const e = await scrape();
  const [lo, any, v6] = children;
  const one = (app: string): Array<{ labels: Record<string, string>; value: number }> => find(e, 'custom_port_exporter', { app });
  assert.deepEqual(one('ohr-compat-lo'), [
    { name: 'custom_port_exporter', labels: { host: 'ohr-compat-host', app: 'ohr-compat-lo', port: `tcp localhost:${lo!.ports[0]}`, state: '10', pid: String(lo!.pid) }, value: lo!.pid },
  ]);
  assert.deepEqual(one('ohr-compat-any').map((s) => [s.labels.port, s.labels.state, s.labels.pid, s.value]), [[`tcp 0.0.0.0:${any!.ports[0]}`, '10', String(any!.pid), any!.pid]]);
  // two sockets of one process: two series; IPv6 sockets are written tcp6 [addr]:port
  assert.deepEqual(
    one('ohr-compat-v6').map((s) => s.labels.port).sort(),
    v6!.ports.map((p) => `tcp6 [::1]:${p}`).sort(),
  );
  assert.match(e.types.get('custom_port_exporter') ?? '', /gauge/);
});

test('a socket that closes leaves the family at the next round', async () => {
  const lo = children[0]!;
  await lo.kill();
  await daemon.cycle();
  assert.deepEqual(find(await scrape(), 'custom_port_exporter', { app: 'ohr-compat-lo' }), []);
});

test('off by default: no custom_port_exporter series', () => {
  const main = path.resolve(__dirname, '../../src/main.js');
  const page = execFileSync(process.execPath, [main, '--once', '--no-collector.namedprocess', '--metrics.exporter=prometheus'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(page.includes('node_tcp_port_alive'), 'the page was produced');
  assert.ok(!page.includes('custom_port_exporter'));
});

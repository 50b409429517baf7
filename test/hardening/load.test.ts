/**
 * Load protection on a real server: --web.max-requests answers 503 beyond
 * the limit while requests are really in flight; slow clients (partial
 * headers, a trickle, silence, a TLS handshake that never comes) are cut
 * after headersTimeout; collect[]/exclude[] filters on a real exposition.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { HttpServer, send, type Route } from '../../src/export/server';
import { loadWebConfig } from '../../src/config/web-config';
import { tlsServerOptions } from '../../src/export/web-access';
import { config, listenerAndDaemon, makePki } from '../helpers/hardening';
import { fetchUrl, type Outcome } from '../helpers/http';
import { tempDir } from '../helpers/tmp';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const status = (o: Outcome): number | string => (o.ok ? o.res.status : `error ${o.error.message}`);

describe('--web.max-requests', () => {
  test('requests beyond the limit get 503 while the limit is held; served again once released', async () => {
    // A route that stays in flight until the test lets it go: the in-flight
    // count covers every dispatched request, whatever its path.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = 0;
    const slow: Route = {
      method: 'GET',
      path: '/slow',
      handle: async (_req, res) => {
        entered++;
        await gate;
        send(res, 200, 'done\n');
      },
    };
    const daemon = new Daemon(config(['--web.max-requests=2']), silentLogger);
    const base = `http://127.0.0.1:${(await daemon.start([slow])).port}`;
    try {
      const held = [fetchUrl(`${base}/slow`, {}, 10_000), fetchUrl(`${base}/slow`, {}, 10_000)];
      const deadline = Date.now() + 5000;
      while (entered < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(entered, 2);
      const refused = await fetchUrl(`${base}/metrics`);
      assert.equal(status(refused), 503);
      assert.match(refused.ok ? refused.res.body : '', /too many concurrent requests \(limit 2\)/);
      assert.equal(status(await fetchUrl(`${base}/healthz`)), 503);
      release();
      assert.deepEqual((await Promise.all(held)).map(status), [200, 200]);
      assert.equal(status(await fetchUrl(`${base}/metrics`)), 200);
      // 2 concurrent scrapes of the real (fast) exposition fit under the limit
      assert.deepEqual((await Promise.all([fetchUrl(`${base}/metrics`), fetchUrl(`${base}/metrics`)])).map(status), [200, 200]);
    } finally {
      await daemon.stop(0);
    }
  });
});

describe('slow clients', () => {
  let daemon: Daemon;
  let plain: HttpServer;
  let secure: HttpServer;
  let plainPort: number;
  let securePort: number;
  let tmp: ReturnType<typeof tempDir>;
  const TIMEOUT = 1000;

  before(async () => {
    tmp = tempDir();
    makePki(tmp.dir);
    daemon = new Daemon(config(), silentLogger); // not started: lends its telemetry
    const opts = { listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', maxRequests: 10, headersTimeout: TIMEOUT };
    plain = new HttpServer(opts, daemon.telemetry, daemon.stats, silentLogger);
    plainPort = (await plain.listen()).port;
    const file = path.join(tmp.dir, 'web.yml');
    writeFileSync(file, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
    secure = new HttpServer({ ...opts, tls: tlsServerOptions(await loadWebConfig(file)) }, daemon.telemetry, daemon.stats, silentLogger);
    securePort = (await secure.listen()).port;
  });
  after(async () => {
    await plain.close();
    await secure.close();
    await daemon.stop(0);
    tmp.remove();
  });

  /** Connects, runs `behave`, and resolves with how long until the server closed the socket. */
  function closedAfter(port: number, behave: (s: net.Socket) => void): Promise<{ ms: number; received: string }> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      let received = '';
      const s = net.connect({ host: '127.0.0.1', port }, () => behave(s));
      s.on('data', (d: Buffer) => (received += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ ms: Date.now() - t0, received }));
      setTimeout(() => {
        s.destroy();
        reject(new Error('the server kept a slow client for 8 s'));
      }, 8000).unref();
    });
  }

  test('a partial header is cut after headersTimeout', async () => {
    const r = await closedAfter(plainPort, (s) => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'));
    assert.ok(r.ms >= TIMEOUT - 50 && r.ms < TIMEOUT + 2000, `closed after ${r.ms} ms`);
    assert.doesNotMatch(r.received, /200 OK/);
  });

  test('a header trickled a byte at a time is cut too (slowloris)', async () => {
    let timer: NodeJS.Timeout | undefined;
    const r = await closedAfter(plainPort, (s) => {
      const text = 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
      let i = 0;
      timer = setInterval(() => {
        if (!s.destroyed) s.write(text[i++ % text.length]!);
      }, 50);
    });
    clearInterval(timer);
    assert.ok(r.ms < TIMEOUT + 2000, `closed after ${r.ms} ms`);
  });

  test('a silent connection, and a TLS connection that never says hello, are cut', async () => {
    const silent = await closedAfter(plainPort, () => undefined);
    assert.ok(silent.ms < TIMEOUT + 2000, `plain: closed after ${silent.ms} ms`);
    const tls = await closedAfter(securePort, () => undefined);
    assert.ok(tls.ms >= TIMEOUT - 50 && tls.ms < TIMEOUT + 2000, `TLS: closed after ${tls.ms} ms`);
  });

  test('a complete request still gets served', async () => {
    const ok = await fetchUrl(`http://127.0.0.1:${plainPort}/healthz`);
    assert.equal(status(ok), 200);
  });
});

describe('collect[] / exclude[]', () => {
  const ctx = listenerAndDaemon('ohr-filter', ['--port.status-interval=1h']);

  const names = (body: string): Set<string> =>
    new Set(body.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[^{ ]+/.exec(l)![0]));

  test('no filter: everything', async () => {
    const r = await fetchUrl(`${ctx.base}/metrics`);
    assert.ok(r.ok);
    const all = names(r.res.body);
    assert.ok(all.has('node_tcp_port_alive') && all.has('otel_host_receiver_build_info') && all.has('process_resident_memory_bytes'), [...all].join(' '));
    assert.match(r.res.body, new RegExp(`node_tcp_port_alive\\{[^}]*port="${ctx.child.ports[0]}"[^}]*\\} 1`));
  });

  test('?collect[]=ports: node_tcp_port_*, target_info and the stage series of the stages that feed them only', async () => {
    const r = await fetchUrl(`${ctx.base}/metrics?collect[]=ports`);
    assert.ok(r.ok);
    assert.equal(r.res.status, 200);
    const got = [...names(r.res.body)];
    assert.ok(got.includes('node_tcp_port_alive') && got.includes('node_tcp_port_response_seconds'), got.join(' '));
    assert.deepEqual(got.filter((n) => !n.startsWith('node_tcp_port_') && !n.startsWith('otel_host_receiver_stage_') && n !== 'target_info'), []);
    // as node_exporter keeps node_scrape_collector_* of the collectors a filtered scrape selects
    const stages = (body: string, family: string): string[] =>
      [...body.matchAll(new RegExp(`^${family}\\{stage="([a-z_]+)"\\}`, 'gm'))].map((m) => m[1]!).sort();
    assert.deepEqual(stages(r.res.body, 'otel_host_receiver_stage_success'), ['discovery', 'discovery_new', 'tcp_probe']);
    assert.deepEqual(stages(r.res.body, 'otel_host_receiver_stage_runs_total'), ['discovery', 'discovery_new', 'tcp_probe']);
    const http = await fetchUrl(`${ctx.base}/metrics?collect[]=http&collect[]=udp`);
    assert.deepEqual(stages(http.ok ? http.res.body : '', 'otel_host_receiver_stage_duration_seconds'), ['discovery', 'discovery_new', 'http_probe', 'udp_probe']);
  });

  test('?exclude[]=self drops otel_host_receiver_*, process_* and nodejs_*', async () => {
    const r = await fetchUrl(`${ctx.base}/metrics?exclude[]=self`);
    assert.ok(r.ok);
    const got = [...names(r.res.body)];
    assert.ok(got.includes('node_tcp_port_alive'));
    assert.deepEqual(got.filter((n) => /^(otel_host_receiver_|process_|nodejs_)/.test(n)), []);
  });

  test('conflicting or unknown filters: 400 with the reason', async () => {
    const both = await fetchUrl(`${ctx.base}/metrics?collect[]=ports&exclude[]=self`);
    assert.equal(status(both), 400);
    assert.match(both.ok ? both.res.body : '', /cannot be combined/);
    const unknown = await fetchUrl(`${ctx.base}/metrics?collect[]=bogus`);
    assert.equal(status(unknown), 400);
    assert.match(unknown.ok ? unknown.res.body : '', /unknown group "bogus"/);
    const hostile = await fetchUrl(`${ctx.base}/metrics?exclude[]=${encodeURIComponent('"\n<script>' + 'x'.repeat(10_000))}`);
    assert.equal(status(hostile), 400);
    assert.ok(hostile.ok && hostile.res.body.length < 300, 'the echoed group is cut');
  });
});

/**
 * Exhaustion: many slow connections (a bounded slowloris on loopback) stay
 * within --web.max-connections while a real scraper still gets in; one
 * connection with 51 pipelined requests holds one request slot, not all of
 * them; /api/status and / are built once per data version and show names cut
 * to --label.max-length; a storm of reloads runs at most two.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Daemon } from '../../src/daemon';
import { createLogger, silentLogger } from '../../src/log';
import { HttpServer, PIPELINE_DEPTH, send, type Route } from '../../src/export/server';
import { StatusCache, type StatusData } from '../../src/export/status-page';
import { Coalescer } from '../../src/util/coalescer';
import { config, listenerAndDaemon } from '../helpers/hardening';
import { fetchUrl, type Outcome } from '../helpers/http';
import { sleep } from '../helpers/wait';

const status = (o: Outcome): number | string => (o.ok ? o.res.status : `error ${o.error.code ?? o.error.message}`);

describe('a bounded slowloris', () => {
  let daemon: Daemon;
  let server: HttpServer;
  let port: number;
  const CAP = 50;

  before(async () => {
    daemon = new Daemon(config(), silentLogger); // not started: lends its telemetry
    server = new HttpServer({ listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', maxRequests: 10, maxConnections: CAP, headersTimeout: 20_000 }, daemon.telemetry, daemon.stats, silentLogger);
    port = (await server.listen()).port;
  });
  after(async () => {
    await server.close();
    await daemon.stop(0);
  });

  test(`400 slow connections: at most ${CAP} stay open, and a scraper is still served`, async () => {
    const sockets: net.Socket[] = [];
    let open = 0;
    await Promise.all(
      Array.from({ length: 400 }, () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port });
          sockets.push(s);
          s.on('error', () => undefined);
          s.once('connect', () => {
            open++;
            s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // half a request, never finished
            resolve();
          });
          s.once('close', () => {
            open--;
            resolve();
          });
        }),
      ),
    );
    const trickle = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('X-Slow: 1\r\n');
    }, 200);
    try {
      let peak = 0;
      const served: Array<number | string> = [];
      for (let i = 0; i < 10; i++) {
        peak = Math.max(peak, server.connectionCount);
        served.push(status(await fetchUrl(`http://127.0.0.1:${port}/healthz`)));
        await sleep(50);
      }
      await sleep(300); // let the closes reach the clients
      assert.ok(peak <= CAP, `the server held ${peak} connections`);
      assert.ok(open <= CAP, `${open} slow connections still open on the client side`);
      assert.deepEqual(served, Array(10).fill(200), 'the scraper got in while slow connections kept arriving');
      assert.ok(server.evicted >= 400 - CAP, `evicted ${server.evicted}`);
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
    }
  });
});

describe('pipelining', () => {
  let daemon: Daemon;
  let server: HttpServer;
  let port: number;
  let release!: () => void;
  let gate: Promise<void>;
  let inside = 0;
  let peakInside = 0;

  before(async () => {
    gate = new Promise<void>((r) => (release = r));
    const slow: Route = {
      method: 'GET',
      path: '/slow',
      handle: async (_req, res) => {
        peakInside = Math.max(peakInside, ++inside);
        await gate;
        inside--;
        send(res, 200, 'done\n');
      },
    };
    daemon = new Daemon(config(), silentLogger);
    server = new HttpServer({ listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', maxRequests: 40, routes: [slow] }, daemon.telemetry, daemon.stats, silentLogger);
    port = (await server.listen()).port;
  });
  after(async () => {
    release();
    await server.close();
    await daemon.stop(0);
  });

  test('51 pipelined requests on one connection take one request slot; the excess is refused and the connection closed', async () => {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let received = '';
    sock.on('data', (b: Buffer) => (received += b.toString('latin1')));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(51));
    await sleep(300);
    assert.equal(peakInside, 1, 'requests of one connection are served one at a time');
    // 39 slots are still free for everybody else
    const others = await Promise.all(Array.from({ length: 5 }, () => fetchUrl(`http://127.0.0.1:${port}/healthz`)));
    assert.deepEqual(others.map(status), [200, 200, 200, 200, 200]);
    release();
    await Promise.race([closed, sleep(10_000)]);
    const codes = [...received.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => Number(m[1]));
    assert.deepEqual(codes.slice(0, PIPELINE_DEPTH + 1), [...Array(PIPELINE_DEPTH).fill(200), 429], received.slice(0, 2000));
    assert.match(received, /too many pipelined requests/);
    assert.ok(sock.destroyed || sock.readableEnded, 'the server closed the connection');
    assert.equal(peakInside, 1);
  });
});

describe('/api/status and / at scale', () => {
  const ctx = listenerAndDaemon('ohr-lbl-cutoff', ['--port.status-interval=1h', '--label.max-length=12']);

  test('built once per data version; `now` is the time of each answer', () => {
    const cache = new StatusCache(ctx.daemon);
    const parse = (): StatusData => JSON.parse(Buffer.concat(cache.jsonParts()).toString('utf8')) as StatusData;
    const t0 = Date.now();
    const a = parse();
    const b = parse();
    Buffer.concat(cache.pageParts(false));
    Buffer.concat(cache.pageParts(true));
    assert.equal(cache.builds, 1, 'one build for two JSON answers and two pages');
    for (const s of [a, b]) assert.ok(Math.abs(Date.parse(s.now) - t0) < 5000, `now ${s.now}`);
    assert.deepEqual({ ...a, now: '' }, { ...b, now: '' });
    ctx.daemon.pool.publish('tcp'); // a stage published new results
    parse();
    assert.equal(cache.builds, 2);
  });

  test('names and paths are cut to --label.max-length on / and /api/status, as in the exposition', async () => {
    const r = await fetchUrl(`${ctx.base}/api/status`);
    assert.ok(r.ok);
    const s = JSON.parse(r.res.body) as StatusData;
    assert.ok(Math.abs(Date.parse(s.now) - Date.now()) < 5000);
    const mine = s.ports.find((p) => p.port === ctx.child.ports[0]);
    assert.ok(mine, `port ${ctx.child.ports[0]} missing`);
    assert.equal(mine.processName, 'ohr-lbl-cuto');
    assert.ok(mine.exePath.length <= 12, mine.exePath);
    for (const p of s.processes) assert.ok(p.processName.length <= 12 && p.exePath.length <= 12, JSON.stringify(p));
    const page = await fetchUrl(`${ctx.base}/`);
    assert.ok(page.ok && page.res.body.includes('<td>ohr-lbl-cuto</td>'), 'cut name on the page');
    assert.ok(!page.res.body.includes('ohr-lbl-cutoff'), 'full name on the page');
    const metrics = await fetchUrl(`${ctx.base}/metrics`);
    assert.ok(metrics.ok && metrics.res.body.includes('process_name="ohr-lbl-cuto"'), 'the exposition cuts the same way');
  });
});

describe('reload storms', () => {
  test('20 concurrent reloads run at most twice', async () => {
    const lines: string[] = [];
    const daemon = new Daemon(config(), createLogger('info', (l) => lines.push(l)));
    try {
      await Promise.all(Array.from({ length: 20 }, () => daemon.reload()));
      const reloads = lines.filter((l) => l.includes('msg="configuration reloaded"')).length;
      assert.ok(reloads >= 1 && reloads <= 2, `${reloads} reloads ran`);
    } finally {
      await daemon.stop(0);
    }
  });

  test('one run at a time; calls during a run share one follow-up, which starts after it', async () => {
    let runs = 0;
    let inside = 0;
    let overlap = false;
    const gates: Array<() => void> = [];
    const c = new Coalescer(async () => {
      runs++;
      overlap ||= ++inside > 1;
      await new Promise<void>((r) => gates.push(r));
      inside--;
    });
    const first = c.run();
    const later = Array.from({ length: 5 }, () => c.run());
    await sleep(10);
    assert.equal(runs, 1);
    gates.shift()!();
    await first;
    await sleep(10);
    assert.equal(runs, 2, 'one follow-up for the five calls');
    gates.shift()!();
    await Promise.all(later);
    assert.equal(overlap, false);
    const again = c.run();
    await sleep(10);
    assert.equal(runs, 3, 'a call after everything finished runs anew');
    gates.shift()!();
    await again;
  });
});

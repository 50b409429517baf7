/**
 * HTTP conformance on a real server, spoken to over raw sockets: oversized
 * headers get a 431 and malformed requests a 400 (an answer, not a reset),
 * wrong methods a 405 with Allow, plain HTTP to the TLS port a 400 saying so;
 * every answer carries nosniff, DENY and a restrictive Content-Security-Policy,
 * and the status page still renders under its own policy in headless Chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { HttpServer, send } from '../../src/export/server';
import { renderStatusPage, type StatusData } from '../../src/export/status-page';
import { WebAccess } from '../../src/export/web-access';
import { chromiumPath } from '../helpers/pipelines';
import { config, makePki, type Pki } from '../helpers/hardening';
import { fetchUrl } from '../helpers/http';
import { tempDir } from '../helpers/tmp';

/** Sends `bytes` on a new connection; resolves with everything the server sent until it closed (or 5 s). */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

const statusLine = (answer: string): string => answer.split('\r\n')[0] ?? '';

describe('malformed and oversized requests', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    daemon = new Daemon(config(), silentLogger);
    port = (await daemon.start()).port;
  });
  after(async () => daemon.stop(0));

  test('headers over the limit: 431, then the connection is closed', async () => {
    const answer = await raw(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    assert.equal(statusLine(answer), 'HTTP/1.1 431 Request Header Fields Too Large', JSON.stringify(answer.slice(0, 200)));
    assert.match(answer, /\r\nConnection: close\r\n/i);
  });

  test('malformed request lines: 400, not a reset', async () => {
    for (const bad of [
      'GARBAGE\r\n\r\n',
      'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /met rics HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n',
      'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
    ]) {
      const answer = await raw(port, bad);
      assert.equal(statusLine(answer), 'HTTP/1.1 400 Bad Request', `${JSON.stringify(bad)} -> ${JSON.stringify(answer.slice(0, 200))}`);
    }
    // the server is fine afterwards
    assert.equal(statusLine(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')), 'HTTP/1.1 200 OK');
  });

  test('wrong methods on the metrics path, /healthz and the pages: 405 with Allow', async () => {
    for (const [method, p] of [['POST', '/metrics'], ['PUT', '/metrics'], ['DELETE', '/metrics'], ['OPTIONS', '/metrics'], ['POST', '/healthz'], ['POST', '/'], ['PUT', '/api/status']] as const) {
      const r = await fetchUrl(`http://127.0.0.1:${port}${p}`, { method });
      assert.ok(r.ok, `${method} ${p}: ${!r.ok && r.error.message}`);
      assert.equal(r.res.status, 405, `${method} ${p}`);
      assert.equal(r.res.headers.allow, 'GET, HEAD', `${method} ${p}`);
    }
    const head = await fetchUrl(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' });
    assert.ok(head.ok && head.res.status === 200 && head.res.body === '');
    const unknown = await fetchUrl(`http://127.0.0.1:${port}/nope`, { method: 'POST' });
    assert.ok(unknown.ok && unknown.res.status === 404, 'an unknown path stays 404 whatever the method');
  });

  test('every answer says nosniff and DENY; the page and the JSON carry a restrictive Content-Security-Policy', async () => {
    for (const p of ['/', '/api/status', '/metrics', '/healthz', '/nope']) {
      const r = await fetchUrl(`http://127.0.0.1:${port}${p}`);
      assert.ok(r.ok);
      assert.equal(r.res.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.res.headers['x-frame-options'], 'DENY', p);
      const csp = String(r.res.headers['content-security-policy']);
      assert.match(csp, /^default-src 'none';/, p);
      assert.match(csp, /frame-ancestors 'none'/, p);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src/, p);
    }
    const page = await fetchUrl(`http://127.0.0.1:${port}/`);
    assert.ok(page.ok);
    assert.match(String(page.res.headers['content-security-policy']), /style-src 'sha256-[A-Za-z0-9+/]+={0,2}'/);
  });
});

describe('plain HTTP to the TLS port', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pki: Pki;
  let daemon: Daemon;
  let port: number;

  before(async () => {
    tmp = tempDir();
    pki = makePki(tmp.dir);
    const file = path.join(tmp.dir, 'web.yml');
    writeFileSync(file, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
    daemon = new Daemon(config(), silentLogger);
    port = (await daemon.start([], await WebAccess.load(file, silentLogger))).port;
  });
  after(async () => {
    await daemon.stop(0);
    tmp.remove();
  });

  test('is answered 400 in plain text saying so, and closed; HTTPS still works', async () => {
    const answer = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(statusLine(answer), 'HTTP/1.1 400 Bad Request', JSON.stringify(answer.slice(0, 200)));
    assert.match(answer, /plain HTTP request to the HTTPS port/);
    const r = await fetchUrl(`https://127.0.0.1:${port}/healthz`, { ca: pki.pem.ca });
    assert.ok(r.ok && r.res.status === 200);
  });
});

describe('the status page under its Content-Security-Policy, in headless Chromium', { skip: chromiumPath() === undefined ? 'chromium is not installed' : false }, () => {
  let daemon: Daemon;
  let server: HttpServer;
  let daemonUrl: string;
  let controlUrl: string;

  before(async () => {
    daemon = new Daemon(config(), silentLogger);
    daemonUrl = `http://127.0.0.1:${(await daemon.start()).port}/`;
    // control: the same page under a policy that allows no inline style, to show violations are seen
    const data: StatusData = { version: '0', service: 's', now: 'n', ports: [], processes: [], groups: [], excluded: [], stages: {}, otlp: { enabled: false, up: 1, exports: 0, failures: 0 }, discovery: { unownedSockets: 0, unreadableProcesses: 0 } };
    server = new HttpServer(
      {
        listenAddress: '127.0.0.1:0',
        telemetryPath: '/metrics',
        maxRequests: 4,
        routes: [{ method: 'GET', path: '/', handle: (_req, res) => send(res, 200, renderStatusPage(data, '/metrics'), 'text/html; charset=utf-8', { 'Content-Security-Policy': "default-src 'none'" }) }],
      },
      daemon.telemetry,
      daemon.stats,
      silentLogger,
    );
    controlUrl = `http://127.0.0.1:${(await server.listen()).port}/`;
  });
  after(async () => {
    await server.close();
    await daemon.stop(0);
  });

  /** Loads `url`; resolves with the DOM and Chromium's console log lines. */
  function load(url: string): Promise<{ dom: string; console: string[] }> {
    const profile = tempDir('ohr-chromium-');
    const proc = spawn(
      chromiumPath()!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--user-data-dir=${profile.dir}`, '--enable-logging=stderr', '--v=0', '--dump-dom', url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let dom = '';
    let err = '';
    proc.stdout.on('data', (b: Buffer) => (dom += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    return new Promise((resolve) =>
      proc.once('exit', () => {
        clearTimeout(timer);
        profile.remove();
        resolve({ dom, console: err.split('\n').filter((l) => l.includes(':CONSOLE')) });
      }),
    );
  }

  test('renders with its inline style allowed and nothing refused', { timeout: 120_000 }, async () => {
    const control = await load(controlUrl);
    assert.ok(control.console.some((l) => /Content Security Policy/.test(l)), `the control page's style was not refused:\n${control.console.join('\n')}`);
    const page = await load(daemonUrl);
    assert.match(page.dom, /<title>otel-host-receiver<\/title>/);
    assert.match(page.dom, /<table id="ports">/);
    assert.deepEqual(page.console.filter((l) => /Content Security Policy/.test(l)), []);
  });
});

/**
 * Our HTTP server: the Prometheus exposition, health, and the status page.
 * Every handler reads caches; none scans /proc or probes.
 *
 * Load protection as Prometheus exporters do it: at most `maxRequests`
 * authenticated requests in flight (503 beyond), header and request timeouts
 * against slow clients, and the exposition filtered per request with
 * collect[]/exclude[].
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';
import { FilterError, parseFilter } from './filter';
import { PROMETHEUS_CONTENT_TYPE, type Telemetry } from './telemetry';

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> | void;
}

export interface ServerOptions {
  listenAddress: string;
  telemetryPath: string;
  maxRequests: number;
  /** Extra routes (status page, lifecycle). */
  routes?: Route[];
  /** Runs before routing; returns (or resolves to) false when it has answered (auth). */
  guard?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /** Extra response headers on every answer (web config http_server_config.headers). */
  headers?: () => Record<string, string>;
  /** TLS options; plain HTTP when undefined. */
  tls?: https.ServerOptions;
  /** A request's headers (and, with TLS, the handshake) must arrive within this many ms. Default 10 s. */
  headersTimeout?: number;
}

export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`bad listen address ${addr}`);
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { host, port: Number(m[3]) };
}

export function send(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export class HttpServer {
  private server: http.Server | https.Server | undefined;
  private inFlight = 0;

  constructor(
    private readonly options: ServerOptions,
    private readonly telemetry: Telemetry,
    private readonly stats: SelfStats,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<AddressInfo> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    // slow clients: a header must arrive within 10s (by default), a whole request within 30s;
    // timeouts are checked every second (Node's default is every 30 s, which lets a 10 s limit run to 40 s)
    const headersTimeout = this.options.headersTimeout ?? 10_000;
    const timeouts: http.ServerOptions = {
      headersTimeout,
      requestTimeout: Math.max(30_000, headersTimeout),
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 2)),
    };
    const server = this.options.tls
      ? https.createServer({ ...this.options.tls, ...timeouts, handshakeTimeout: headersTimeout }, handler)
      : http.createServer(timeouts, handler);
    server.keepAliveTimeout = 5_000;
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    const { host, port } = parseListenAddress(this.options.listenAddress);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** Replaces TLS material in place (reload); new connections use it. */
  setSecureContext(tls: https.ServerOptions): void {
    if (!(this.server instanceof https.Server)) return;
    this.server.setSecureContext(tls);
    // Client-certificate policy is not part of the secure context: Node reads these two server
    // fields for every new connection, so set them too (the web-config guard re-checks per request).
    const s = this.server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
    s.requestCert = tls.requestCert === true;
    s.rejectUnauthorized = tls.rejectUnauthorized !== false;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let counted = false;
    try {
      for (const [k, v] of Object.entries(this.options.headers?.() ?? {})) res.setHeader(k, v);
      // Authentication first: a request without valid credentials never takes one of the
      // maxRequests slots, so a flood of them cannot starve authenticated scrapers.
      if (this.options.guard && !(await this.options.guard(req, res))) return;
      if (this.inFlight >= this.options.maxRequests) {
        send(res, 503, `too many concurrent requests (limit ${this.options.maxRequests})\n`);
        return;
      }
      this.inFlight++;
      counted = true;
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (url.pathname === this.options.telemetryPath && method === 'GET') {
        await this.metrics(res, url);
        return;
      }
      if (url.pathname === '/healthz' && method === 'GET') {
        send(res, 200, 'ok\n');
        return;
      }
      const route = this.options.routes?.find((r) => r.path === url.pathname);
      if (route) {
        if (route.method !== method) {
          res.setHeader('Allow', route.method);
          send(res, 405, 'method not allowed\n');
          return;
        }
        await route.handle(req, res, url);
        return;
      }
      send(res, 404, 'not found\n');
    } catch (err) {
      this.log.error('request failed', { path: req.url?.slice(0, 200), err: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    } finally {
      if (counted) this.inFlight--;
    }
  }

  private async metrics(res: http.ServerResponse, url: URL): Promise<void> {
    let filter;
    try {
      filter = parseFilter(url.searchParams);
    } catch (err) {
      if (err instanceof FilterError) {
        send(res, 400, `${err.message}\n`);
        return;
      }
      throw err;
    }
    if (!this.telemetry.prometheus) {
      send(res, 404, 'the prometheus exporter is disabled (OTEL_METRICS_EXPORTER)\n');
      return;
    }
    this.stats.scrapes++;
    const chunks = await this.telemetry.scrapeChunks(filter);
    res.writeHead(200, {
      'Content-Type': PROMETHEUS_CONTENT_TYPE,
      'Content-Length': chunks.reduce((n, c) => n + c.length, 0),
      'Cache-Control': 'no-store',
    });
    for (const c of chunks) res.write(c);
    res.end();
  }
}

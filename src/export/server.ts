/**
 * Our HTTP server: the Prometheus exposition, health, and the status page.
 * Every handler reads caches; none scans /proc or probes.
 *
 * Load protection as Prometheus exporters do it: at most `maxRequests`
 * authenticated requests in flight (503 beyond), header and request timeouts
 * against slow clients, and the exposition filtered per request with
 * collect[]/exclude[]. Besides:
 * - at most `maxConnections` open connections (Prometheus's own
 *   --web.max-connections has the same default, 512). A slow client costs a
 *   few KB for as long as the header timeout lets it live; beyond the cap the
 *   oldest connection with no request in progress (a client still sending
 *   its headers, or an idle keep-alive) is closed to make room, so a scraper
 *   that connects and asks at once is served even while slow connections
 *   pile up. When every connection is busy, the new one is closed.
 * - one request per connection at a time: HTTP/1.1 answers pipelined
 *   requests in order anyway, so serving them in parallel gains nothing and
 *   would let one connection take every request slot. At most
 *   PIPELINE_DEPTH requests of one connection are held; beyond, 429 and the
 *   connection is closed.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log';
import type { SelfStats } from '../self-stats';
import { FilterError, parseFilter } from './filter';
import { PROMETHEUS_CONTENT_TYPE, type Telemetry } from './telemetry';
import { acceptsGzip } from './gzip-page';

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
  /** Open connections at most. Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
}

export const DEFAULT_MAX_CONNECTIONS = 512;

/**
 * Sent on every answer, before the web config's own headers (which win):
 * no content sniffing, no framing, and a policy that lets a response load
 * nothing. The status page widens the policy just enough for its one inline
 * style (status-page.ts).
 */
export const NO_CONTENT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': NO_CONTENT_CSP,
};

/** What a GET route also answers (HEAD: the same headers, no body). */
const GET_ALLOW = 'GET, HEAD';

/** Requests of one connection held at once: one served, the rest waiting their turn. */
export const PIPELINE_DEPTH = 8;

/** An open connection: its TCP socket and the requests it has in the server. */
interface Connection {
  key: string;
  socket: Socket;
  /** Requests of this connection being served or waiting their turn. */
  requests: number;
  /** Resolvers of the requests waiting their turn, in order. */
  waiting: Array<() => void>;
}

/** A connection's identity, the same for the TCP socket and the TLS socket over it. */
function connectionKey(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}

export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`bad listen address ${addr}`);
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { host, port: Number(m[3]) };
}

/** Answers with a whole body (a string, or buffers written in order), never cached by clients. */
export function send(
  res: http.ServerResponse,
  status: number,
  body: string | readonly Buffer[],
  contentType = 'text/plain; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.reduce((n, b) => n + b.length, 0);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': length, 'Cache-Control': 'no-store', ...headers });
  if (typeof body === 'string') {
    res.end(body);
    return;
  }
  for (const b of body) res.write(b);
  res.end();
}

/** Writes a whole HTTP answer on a socket the HTTP parser has given up on, then closes it. */
function answerRaw(socket: Socket, status: number, reason: string, body: string): void {
  const head = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  const headers = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  try {
    socket.end(`${head}${headers}Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
    setTimeout(() => socket.destroy(), 5000).unref(); // a client that never reads does not keep it
  } catch {
    socket.destroy();
  }
}

export class HttpServer {
  private server: http.Server | https.Server | undefined;
  private inFlight = 0;
  /** Open connections by connectionKey, oldest first (Map keeps insertion order). */
  private readonly connections = new Map<string, Connection>();
  /** Connections closed to keep within maxConnections (tests, logs). */
  evicted = 0;

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
    server.on('connection', (socket: Socket) => this.admit(socket));
    // (the HTTPS server reports failed handshakes here too)
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
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

  /**
   * A request Node's parser refused, or a connection that timed out before a
   * request: answered as HTTP says (431 headers too large, 408 too slow, 400
   * malformed) and closed, rather than reset without a word. A connection
   * with a request in progress is only closed: an answer now would interleave.
   * A failed TLS handshake is closed, except plain HTTP sent to the TLS port
   * (OpenSSL recognises it: SSL_R_HTTP_REQUEST), which gets a plain-text 400
   * on the TCP socket under the TLS one, as Go's net/http answers it.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const key = connectionKey(socket);
    const conn = key === undefined ? undefined : this.connections.get(key);
    if (err.code === 'ERR_SSL_HTTP_REQUEST' && conn && conn.socket !== socket) {
      socket.destroy();
      answerRaw(conn.socket, 400, 'Bad Request', 'plain HTTP request to the HTTPS port: use https://\n');
      return;
    }
    const parserError = err.code?.startsWith('HPE_') === true || err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!parserError || (conn?.requests ?? 0) > 0 || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') answerRaw(socket, 431, 'Request Header Fields Too Large', 'request headers too large\n');
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerRaw(socket, 408, 'Request Timeout', 'request not received in time\n');
    else answerRaw(socket, 400, 'Bad Request', 'malformed request\n');
  }

  /** Open connections now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Tracks a new connection and keeps the count within maxConnections. */
  private admit(socket: Socket): void {
    const key = connectionKey(socket);
    if (key === undefined) return; // already gone
    const conn: Connection = { key, socket, requests: 0, waiting: [] };
    this.connections.set(key, conn);
    socket.once('close', () => {
      if (this.connections.get(key) === conn) this.connections.delete(key);
    });
    if (this.connections.size <= (this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) return;
    let victim = conn;
    for (const c of this.connections.values()) {
      if (c.requests === 0 && c !== conn) {
        victim = c;
        break;
      }
    }
    this.evicted++;
    this.connections.delete(victim.key);
    victim.socket.destroy();
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
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    for (const [k, v] of Object.entries(this.options.headers?.() ?? {})) res.setHeader(k, v);
    const key = connectionKey(req.socket);
    const conn = (key !== undefined ? this.connections.get(key) : undefined) ?? { key: '', socket: req.socket, requests: 0, waiting: [] };
    if (conn.requests >= PIPELINE_DEPTH) {
      send(res, 429, `too many pipelined requests on one connection (limit ${PIPELINE_DEPTH})\n`, undefined, { Connection: 'close' });
      return;
    }
    conn.requests++;
    // one request of a connection at a time: the others wait for their turn
    if (conn.requests > 1) await new Promise<void>((resolve) => conn.waiting.push(resolve));
    try {
      await this.serve(req, res);
    } finally {
      conn.requests--;
      conn.waiting.shift()?.();
    }
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let counted = false;
    try {
      // Authentication first: a request without valid credentials never takes one of the
      // maxRequests slots, so a flood of them cannot starve authenticated scrapers.
      if (this.options.guard && !(await this.options.guard(req, res))) return;
      if (this.inFlight >= this.options.maxRequests) {
        send(res, 503, `too many concurrent requests (limit ${this.options.maxRequests})\n`);
        return;
      }
      this.inFlight++;
      counted = true;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        send(res, 400, 'malformed request target\n');
        return;
      }
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const wrongMethod = (allow: string): void => send(res, 405, 'method not allowed\n', undefined, { Allow: allow });
      if (url.pathname === this.options.telemetryPath) {
        if (method === 'GET') await this.metrics(req, res, url);
        else wrongMethod(GET_ALLOW);
        return;
      }
      if (url.pathname === '/healthz') {
        if (method === 'GET') send(res, 200, 'ok\n');
        else wrongMethod(GET_ALLOW);
        return;
      }
      const route = this.options.routes?.find((r) => r.path === url.pathname);
      if (route) {
        if (route.method !== method) wrongMethod(route.method === 'GET' ? GET_ALLOW : route.method);
        else await route.handle(req, res, url);
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

  private async metrics(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
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
    // Prometheus, vmagent and Alloy ask for gzip: the page is a tenth of its size, each family
    // deflated once per version (see Telemetry.scrapeGzip)
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const chunks = gzip ? await this.telemetry.scrapeGzip(filter) : await this.telemetry.scrapeChunks(filter);
    res.writeHead(200, {
      'Content-Type': PROMETHEUS_CONTENT_TYPE,
      'Content-Length': chunks.reduce((n, c) => n + c.length, 0),
      'Cache-Control': 'no-store',
      Vary: 'Accept-Encoding',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    for (const c of chunks) res.write(c);
    res.end();
  }
}

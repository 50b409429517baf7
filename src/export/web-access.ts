/**
 * Serving with the web config (src/config/web-config.ts reads and validates
 * it): the per-request guard, TLS material that follows reloads, client
 * certificate policy, and the rate limit; basic auth's verdict cache and
 * bcrypt worker are basic-auth.ts.
 *
 * - Every endpoint is protected: /metrics, /, /api/status, /healthz, the
 *   lifecycle endpoints and 404s. A liveness probe must send credentials (or
 *   use a TCP check).
 * - Unknown users are checked against a dummy hash of the users' cost, so
 *   response time does not reveal which user names exist. Verdicts are cached
 *   (a scrape every 15 s costs one bcrypt at start, then a hash lookup), and
 *   checks that miss the cache run in a worker thread behind a small bounded
 *   queue (429 beyond): see basic-auth.ts.
 * - The rate limit counts only requests that passed authentication (unlike
 *   exporter-toolkit), so requests without the password cannot use it up.
 *
 * Reload (`WebAccess.reload`, on SIGHUP or POST /-/reload) reads the file
 * again; a bad file leaves the previous configuration in force. Certificates,
 * keys, CAs, TLS versions, client auth, users, headers and the rate limit
 * change at once for new connections; switching TLS on or off needs a restart
 * (the listening socket speaks one or the other) and is refused. Cached
 * verdicts survive a reload when their user and hash are unchanged.
 */
import type { X509Certificate } from 'node:crypto';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type * as tls from 'node:tls';
import { errText, loadWebConfig, secureContextOptions, WebConfigError, type WebConfig, type WebTlsConfig } from '../config/web-config';
import type { Logger } from '../log';
import { send, type ServerOptions } from './server';
import { dummyHashFor, parseBasicAuth, PasswordChecker } from './basic-auth';

/** Node TLS server options for a web config; undefined when TLS is off. */
export function tlsServerOptions(config: WebConfig): https.ServerOptions | undefined {
  const t = config.tls;
  if (!t) return undefined;
  const requestCert = t.clientAuth !== 'NoClientCert';
  return {
    ...secureContextOptions(t),
    requestCert,
    // Only RequireAndVerifyClientCert can be left to the handshake; the other
    // policies are finished per request by the guard (see checkClientCert).
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
  };
}

/** SAN values of a certificate as strings: DNS names, IPs, e-mail addresses, URIs. */
export function certificateSans(cert: X509Certificate): string[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const out: string[] = [];
  // "DNS:a, IP Address:1.2.3.4, URI:\"x,y\"": values containing separators are JSON-quoted by Node
  const re = /\s*([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[2]!;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    out.push(value);
  }
  return out;
}

/** Why a request's client certificate fails the policy, or undefined when it passes. */
export function checkClientCert(t: WebTlsConfig, socket: tls.TLSSocket): string | undefined {
  if (t.clientAuth === 'NoClientCert' || t.clientAuth === 'RequestClientCert') return undefined;
  const peer = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  if (!peer) {
    return t.clientAuth === 'VerifyClientCertIfGiven' ? undefined : 'a client certificate is required';
  }
  if ((t.clientAuth === 'VerifyClientCertIfGiven' || t.clientAuth === 'RequireAndVerifyClientCert') && !socket.authorized) {
    return `client certificate not trusted: ${String(socket.authorizationError ?? 'unknown reason')}`;
  }
  if (t.clientAllowedSans) {
    const sans = certificateSans(peer);
    if (!sans.some((s) => t.clientAllowedSans!.includes(s))) return 'client certificate has none of the allowed SANs';
  }
  return undefined;
}

interface Active {
  config: WebConfig;
  /** What unknown users are checked against (dummyHashFor the config's users). */
  dummyHash: string;
  tokens: number;
  refilledAt: number;
}

/** Where TLS material goes on reload (HttpServer). */
export interface TlsTarget {
  setSecureContext(options: https.ServerOptions): void;
}

/**
 * The web config in force, swappable at runtime. Hand `serverOptions()` to
 * HttpServer and `bind()` the server, then `reload()` on SIGHUP.
 */
export class WebAccess {
  private active: Active;
  private readonly targets: TlsTarget[] = [];
  /** Whether the server was built with TLS (fixed for the life of the socket); undefined before serverOptions(). */
  private servingTls: boolean | undefined;
  /** Counters for tests and logs. */
  readonly counts = { bcrypt: 0, cacheHits: 0, authBusy: 0, denied: 0, rateLimited: 0 };
  /** Verdict cache and the bcrypt worker, kept across reloads. */
  private readonly passwords = new PasswordChecker(this.counts);

  constructor(
    config: WebConfig,
    private readonly log?: Logger,
  ) {
    this.active = WebAccess.activate(config);
  }

  /** Loads the file at start. Throws WebConfigError (exit 2 in main). */
  static async load(file: string, log?: Logger): Promise<WebAccess> {
    const access = new WebAccess(await loadWebConfig(file), log);
    access.logLoaded();
    return access;
  }

  private logLoaded(): void {
    const c = this.active.config;
    this.log?.info('web config loaded', {
      file: c.file,
      tls: c.tls ? `${c.tls.minVersion}-${c.tls.maxVersion}` : 'off',
      client_auth: c.tls?.clientAuth,
      basic_auth_users: c.users.size,
      headers: Object.keys(c.headers).join(',') || undefined,
      rate_limit: c.rateLimit ? `${c.rateLimit.burst}/${c.rateLimit.intervalMs}ms` : undefined,
      cert_not_after: c.tls?.notAfter.toISOString(),
    });
    if (c.tls && c.tls.notAfter.getTime() < Date.now()) this.log?.warn('the server certificate has expired', { file: c.file, not_after: c.tls.notAfter.toISOString() });
  }

  private static activate(config: WebConfig): Active {
    return { config, dummyHash: dummyHashFor(config.users), tokens: config.rateLimit?.burst ?? 0, refilledAt: Date.now() };
  }

  get config(): WebConfig {
    return this.active.config;
  }

  /** guard, headers and tls for ServerOptions. */
  serverOptions(): Pick<ServerOptions, 'guard' | 'headers' | 'tls'> {
    const tlsOptions = this.tlsOptions();
    this.servingTls = tlsOptions !== undefined;
    return { guard: this.guard, headers: this.headers, tls: tlsOptions };
  }

  /** Stops the bcrypt worker thread (it is unref'd, so this is only needed for tidy tests). */
  async close(): Promise<void> {
    await this.passwords.close();
  }

  /** Registers a server whose TLS material follows reloads. */
  bind(target: TlsTarget): void {
    this.targets.push(target);
  }

  tlsOptions(): https.ServerOptions | undefined {
    return tlsServerOptions(this.active.config);
  }

  readonly headers = (): Record<string, string> => this.active.config.headers;

  /**
   * Re-reads the file (or `file`). On any error the configuration in force
   * stays and the WebConfigError is thrown for the caller to log.
   */
  async reload(file: string = this.active.config.file): Promise<WebConfig> {
    const next = await loadWebConfig(file);
    if (this.servingTls !== undefined && (next.tls !== undefined) !== this.servingTls) {
      throw new WebConfigError(next.file, 'tls_server_config', `switching TLS ${this.servingTls ? 'off' : 'on'} needs a restart; the previous web config stays in force`);
    }
    const tlsOptions = tlsServerOptions(next);
    if (tlsOptions) {
      try {
        for (const t of this.targets) t.setSecureContext(tlsOptions);
      } catch (err) {
        // validated at load, so this is unexpected; put the old material back
        const old = this.tlsOptions();
        if (old) for (const t of this.targets) t.setSecureContext(old);
        throw new WebConfigError(next.file, 'tls_server_config', `cannot apply: ${errText(err)}`);
      }
    }
    this.active = WebAccess.activate(next);
    this.passwords.retain(this.active.config.users, this.active.dummyHash);
    this.logLoaded();
    return next;
  }

  /**
   * Runs before routing on every request: client certificate policy, basic
   * auth, rate limit. Answers (403/401/429) and returns false when the
   * request must not go on. The rate limit counts authenticated requests
   * only, so that requests without the password cannot use up its tokens.
   */
  readonly guard = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    const a = this.active;
    const c = a.config;
    if (c.tls) {
      const socket = req.socket as tls.TLSSocket;
      const why = socket.encrypted ? checkClientCert(c.tls, socket) : 'not a TLS connection';
      if (why !== undefined) {
        this.counts.denied++;
        this.log?.debug('client certificate refused', { reason: why, remote: req.socket.remoteAddress });
        send(res, 403, `Forbidden: ${why}\n`, undefined, { Connection: 'close' });
        return false;
      }
    }
    if (c.users.size > 0) {
      const creds = parseBasicAuth(req.headers.authorization);
      const verdict = creds ? await this.passwords.check(c.users, a.dummyHash, creds.user, creds.password) : 'denied';
      if (verdict === 'busy') {
        send(res, 429, 'Too Many Requests: too many password checks at once\n', undefined, { 'Retry-After': '1' });
        return false;
      }
      if (verdict !== 'ok') {
        this.counts.denied++;
        send(res, 401, 'Unauthorized\n', undefined, { 'WWW-Authenticate': 'Basic realm="otel-host-receiver", charset="UTF-8"' });
        return false;
      }
    }
    if (c.rateLimit && !this.takeToken(a, c.rateLimit)) {
      this.counts.rateLimited++;
      send(res, 429, 'Too Many Requests\n');
      return false;
    }
    return true;
  };

  private takeToken(a: Active, rl: { intervalMs: number; burst: number }): boolean {
    const now = Date.now();
    const earned = Math.floor((now - a.refilledAt) / rl.intervalMs);
    if (earned > 0) {
      a.tokens = Math.min(rl.burst, a.tokens + earned);
      a.refilledAt = a.tokens === rl.burst ? now : a.refilledAt + earned * rl.intervalMs;
    }
    if (a.tokens <= 0) return false;
    a.tokens--;
    return true;
  }
}

/**
 * `--web.config.file`: TLS, basic auth and extra response headers in the
 * exporter-toolkit format every Prometheus exporter takes, so one file (and
 * one Prometheus scrape config) serves node_exporter and us alike.
 *
 *   tls_server_config:     cert_file/key_file (or inline cert/key), client_auth_type,
 *                          client_ca_file (or inline client_ca), client_allowed_sans,
 *                          min_version, max_version, cipher_suites, curve_preferences,
 *                          prefer_server_cipher_suites
 *   http_server_config:    headers (an allow-list, see below), http2 (accepted; we serve HTTP/1.1)
 *   basic_auth_users:      user -> bcrypt hash ($2a$, $2b$ or $2y$, as `htpasswd -nBC 10` prints)
 *   rate_limit:            interval, burst (token bucket; 429 beyond)
 *
 * Behaviour follows exporter-toolkit where it is observable:
 * - Strict: an unknown key anywhere is an error, as is a value of the wrong type.
 * - Relative file paths are resolved against the directory of the web config file.
 * - TLS is on when any of cert, cert_file, key, key_file, client_ca,
 *   client_ca_file or client_auth_type is set; then cert and key are required.
 * - A client CA without a client_auth_type that asks for certificates is an
 *   error; client_allowed_sans needs RequireAnyClientCert or RequireAndVerifyClientCert.
 * - Only five headers may be configured (Strict-Transport-Security,
 *   X-Content-Type-Options: nosniff, X-Frame-Options: deny|sameorigin,
 *   X-XSS-Protection, Content-Security-Policy). Everything else, Content-Type,
 *   Content-Length, Set-Cookie, WWW-Authenticate, Server, Connection and the
 *   like included, is refused at load: they belong to the server.
 * - Every endpoint is protected: /metrics, /, /api/status, /healthz, the
 *   lifecycle endpoints and 404s. A liveness probe must send credentials (or
 *   use a TCP check).
 * - Unknown users are checked against a fixed dummy hash, so response time
 *   does not reveal which user names exist. Verdicts (success and failure) are
 *   cached by a SHA-256 of (user, stored hash, password): a scrape every 15 s
 *   costs one bcrypt at start, then a hash lookup. bcrypt runs one at a time,
 *   in a worker thread, so wrong passwords cannot stall scrapes.
 *
 * Differences, each deliberate: hashes are validated at load (a typo fails at
 * start, not on the first scrape); `rate_limit.burst` must be >= 1 when an
 * interval is set (Go's limiter with burst 0 silently refuses everything);
 * `cert` and `cert_file` (likewise key, client_ca) may not both be set.
 *
 * Reload (`WebAccess.reload`, on SIGHUP or POST /-/reload) reads the file
 * again; a bad file leaves the previous configuration in force. Certificates,
 * keys, CAs, TLS versions, client auth, users, headers and the rate limit
 * change at once for new connections; switching TLS on or off needs a restart
 * (the listening socket speaks one or the other) and is refused.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type * as http from 'node:http';
import type * as https from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import * as bcrypt from 'bcryptjs';
import * as YAML from 'yaml';
import { ConfigError } from '../config/options';
import { ConfigFileError, readConfigFile } from '../config/config-file';
import { parseDuration } from '../config/duration';
import type { Logger } from '../log';
import type { ServerOptions } from './server';

export const WEB_CONFIG_FLAG = '--web.config.file';

/**
 * A web config file that cannot be used. A ConfigError, so main's handling of
 * bad flags (one line on stderr, exit 2) applies; `key` is always
 * `--web.config.file`, `field` the YAML key at fault (e.g.
 * `tls_server_config.cert_file`), when there is one.
 */
export class WebConfigError extends ConfigError {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly reason: string,
  ) {
    super(WEB_CONFIG_FLAG, `${file}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'WebConfigError';
  }
}

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS: Record<string, tls.SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Go cipher suite names (what exporter-toolkit accepts: crypto/tls CipherSuites())
 * to OpenSSL names. TLS 1.3 suites are accepted and, as in Go, not configurable.
 */
const CIPHER_SUITES: Record<string, string | null> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
/** TLS 1.3 suites Node enables by default; listed explicitly so a TLS 1.2 cipher list does not disable TLS 1.3. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/** The only response headers the file may set, with their allowed values where the set is closed. */
export const CONFIGURABLE_HEADERS: Record<string, readonly string[] | undefined> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

export interface WebTlsConfig {
  /** PEM text of the server certificate (chain) and key. */
  cert: string;
  key: string;
  /** PEM text of the CA(s) client certificates are verified against. */
  clientCa: string | undefined;
  clientAuth: ClientAuthType;
  /** A client certificate must carry one of these SANs (DNS, IP, e-mail or URI). */
  clientAllowedSans: string[] | undefined;
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  /** OpenSSL cipher list, when cipher_suites is set. */
  ciphers: string | undefined;
  /** OpenSSL curve list, when curve_preferences is set. */
  ecdhCurve: string | undefined;
  honorCipherOrder: boolean;
  /** Server certificate expiry, for the log. */
  notAfter: Date;
}

export interface WebConfig {
  /** Absolute path of the file this was read from. */
  file: string;
  tls: WebTlsConfig | undefined;
  /** user -> bcrypt hash ($2y$ rewritten to the identical $2b$). Empty: no basic auth. */
  users: ReadonlyMap<string, string>;
  /** Extra response headers (canonical names). */
  headers: Readonly<Record<string, string>>;
  http2: boolean;
  rateLimit: { intervalMs: number; burst: number } | undefined;
}

type Obj = Record<string, unknown>;

class Validator {
  constructor(readonly file: string) {}

  fail(field: string | undefined, reason: string): never {
    throw new WebConfigError(this.file, field, reason);
  }

  /** A mapping (or absent/null) with only the given keys. */
  object(value: unknown, field: string | undefined, keys: readonly string[]): Obj {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'must be a mapping');
    const obj = value as Obj;
    for (const k of Object.keys(obj)) {
      if (!keys.includes(k)) {
        const where = field ? `${field}.${k}` : k;
        this.fail(where, `unknown key (known: ${keys.join(', ')})`);
      }
    }
    return obj;
  }

  string(obj: Obj, key: string, field: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(`${field}.${key}`, `must be a string, got ${describe(v)}`);
    return v;
  }

  bool(obj: Obj, key: string, field: string, def: boolean): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(`${field}.${key}`, `must be true or false, got ${describe(v)}`);
    return v;
  }

  stringList(obj: Obj, key: string, field: string): string[] | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(`${field}.${key}`, 'must be a list of strings');
    return v as string[];
  }

  stringMap(value: unknown, field: string): Map<string, string> {
    const out = new Map<string, string>();
    if (value === undefined || value === null) return out;
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'must be a mapping');
    for (const [k, v] of Object.entries(value as Obj)) {
      if (typeof v !== 'string') this.fail(`${field}.${k}`, `must be a string, got ${describe(v)}`);
      out.set(k, v);
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.trim();
}

function errText(err: unknown): string {
  // system errors (ENOENT, EACCES): the code says it all; the message would repeat the path
  if (err && typeof err === 'object' && 'syscall' in err && 'code' in err) return String((err as { code: unknown }).code);
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** bcrypt hashes as Go's x/crypto/bcrypt and htpasswd write them. */
const BCRYPT_RE = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** Validates a bcrypt hash and rewrites `$2y$` (PHP/htpasswd's name) to the identical `$2b$`. */
export function normaliseBcryptHash(hash: string): string | undefined {
  if (!BCRYPT_RE.test(hash)) return undefined;
  return hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash;
}

async function readMaterial(v: Validator, dir: string, field: string | undefined, file: string): Promise<string> {
  const p = path.resolve(dir, file);
  try {
    // non-blocking, regular files only, 1 MiB at most (a FIFO as cert_file must not hang the start)
    return readConfigFile(p);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    return v.fail(field, field === undefined ? `cannot read: ${err.reason}` : `cannot read ${p}: ${err.reason}`);
  }
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCerts(v: Validator, field: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) v.fail(field, 'no PEM certificate found');
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      return v.fail(field, `bad certificate: ${errText(err)}`);
    }
  });
}

async function loadTls(v: Validator, dir: string, raw: unknown): Promise<WebTlsConfig | undefined> {
  const F = 'tls_server_config';
  const o = v.object(raw, F, [
    'cert',
    'key',
    'client_ca',
    'cert_file',
    'key_file',
    'client_auth_type',
    'client_ca_file',
    'client_allowed_sans',
    'min_version',
    'max_version',
    'cipher_suites',
    'prefer_server_cipher_suites',
    'curve_preferences',
  ]);
  const certInline = v.string(o, 'cert', F);
  const keyInline = v.string(o, 'key', F);
  const caInline = v.string(o, 'client_ca', F);
  const certFile = v.string(o, 'cert_file', F);
  const keyFile = v.string(o, 'key_file', F);
  const caFile = v.string(o, 'client_ca_file', F);
  const authRaw = v.string(o, 'client_auth_type', F);
  const present = (s: string | undefined): boolean => s !== undefined && s !== '';
  const enabled = [certInline, keyInline, caInline, certFile, keyFile, caFile, authRaw].some(present);

  // Validate the remaining keys even when TLS is off, so a typo never passes silently.
  const version = (key: 'min_version' | 'max_version', def: tls.SecureVersion): tls.SecureVersion => {
    const s = v.string(o, key, F);
    if (s === undefined || s === '') return def;
    const ver = TLS_VERSIONS[s];
    if (!ver) v.fail(`${F}.${key}`, `unknown TLS version ${JSON.stringify(s)} (known: ${Object.keys(TLS_VERSIONS).join(', ')})`);
    return ver;
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) v.fail(`${F}.min_version`, 'is above max_version');
  const suites = v.stringList(o, 'cipher_suites', F);
  let ciphers: string | undefined;
  if (suites && suites.length > 0) {
    const names: string[] = [];
    for (const s of suites) {
      const mapped = CIPHER_SUITES[s];
      if (mapped === undefined) v.fail(`${F}.cipher_suites`, `unknown cipher suite ${JSON.stringify(s)} (known: ${Object.keys(CIPHER_SUITES).join(', ')})`);
      if (mapped !== null) names.push(mapped);
    }
    if (names.length > 0) ciphers = `${TLS13_SUITES}:${names.join(':')}`;
  }
  const curves = v.stringList(o, 'curve_preferences', F);
  let ecdhCurve: string | undefined;
  if (curves && curves.length > 0) {
    ecdhCurve = curves
      .map((c) => CURVES[c] ?? v.fail(`${F}.curve_preferences`, `unknown curve ${JSON.stringify(c)} (known: ${Object.keys(CURVES).join(', ')})`))
      .join(':');
  }
  const honorCipherOrder = v.bool(o, 'prefer_server_cipher_suites', F, true);
  const sans = v.stringList(o, 'client_allowed_sans', F);
  let clientAuth: ClientAuthType = 'NoClientCert';
  if (present(authRaw)) {
    const a = authRaw === 'RequireClientCert' ? 'RequireAnyClientCert' : authRaw; // exporter-toolkit's old name
    if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(a!)) {
      v.fail(`${F}.client_auth_type`, `unknown value ${JSON.stringify(authRaw)} (known: ${CLIENT_AUTH_TYPES.join(', ')})`);
    }
    clientAuth = a as ClientAuthType;
  }
  if (!enabled) return undefined;

  if (present(certInline) && present(certFile)) v.fail(`${F}.cert_file`, 'set either cert or cert_file, not both');
  if (present(keyInline) && present(keyFile)) v.fail(`${F}.key_file`, 'set either key or key_file, not both');
  if (present(caInline) && present(caFile)) v.fail(`${F}.client_ca_file`, 'set either client_ca or client_ca_file, not both');
  if (!present(certInline) && !present(certFile)) v.fail(`${F}.cert_file`, 'missing: TLS needs cert_file (or cert)');
  if (!present(keyInline) && !present(keyFile)) v.fail(`${F}.key_file`, 'missing: TLS needs key_file (or key)');

  const certField = present(certFile) ? `${F}.cert_file` : `${F}.cert`;
  const keyField = present(keyFile) ? `${F}.key_file` : `${F}.key`;
  const caField = present(caFile) ? `${F}.client_ca_file` : `${F}.client_ca`;
  const cert = present(certFile) ? await readMaterial(v, dir, certField, certFile!) : certInline!;
  const key = present(keyFile) ? await readMaterial(v, dir, keyField, keyFile!) : keyInline!;
  const clientCa = present(caFile) ? await readMaterial(v, dir, caField, caFile!) : present(caInline) ? caInline : undefined;

  const certs = parseCerts(v, certField, cert);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    v.fail(keyField, `not a usable private key (PEM, unencrypted): ${errText(err)}`);
  }
  if (!certs[0]!.checkPrivateKey(keyObject)) v.fail(keyField, 'does not match the certificate');
  if (clientCa !== undefined) {
    parseCerts(v, caField, clientCa);
    if (clientAuth === 'NoClientCert') v.fail(`${F}.client_auth_type`, 'a client CA is set but client_auth_type does not ask for client certificates');
  }
  if (sans !== undefined && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    v.fail(`${F}.client_allowed_sans`, 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }
  const out: WebTlsConfig = {
    cert,
    key,
    clientCa,
    clientAuth,
    clientAllowedSans: sans,
    minVersion,
    maxVersion,
    ciphers,
    ecdhCurve,
    honorCipherOrder,
    notAfter: new Date(certs[0]!.validTo),
  };
  try {
    // What the server will build: catches what OpenSSL refuses (cipher list, curves, versions).
    tls.createSecureContext(secureContextOptions(out));
  } catch (err) {
    v.fail(F, `OpenSSL refuses this configuration: ${errText(err)}`);
  }
  return out;
}

function secureContextOptions(t: WebTlsConfig): tls.SecureContextOptions {
  return {
    cert: t.cert,
    key: t.key,
    ca: t.clientCa,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    ciphers: t.ciphers,
    ecdhCurve: t.ecdhCurve,
    honorCipherOrder: t.honorCipherOrder,
  };
}

/** Parses and validates web config text; `file` names it in errors and anchors relative paths. */
export async function parseWebConfig(text: string, file: string): Promise<WebConfig> {
  const v: Validator = new Validator(file);
  let doc: unknown;
  try {
    doc = YAML.parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    v.fail(undefined, `bad YAML: ${errText(err)}`);
  }
  const top = v.object(doc, undefined, ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);
  const tlsConfig = await loadTls(v, path.dirname(file), top.tls_server_config);

  const httpRaw = v.object(top.http_server_config, 'http_server_config', ['http2', 'headers']);
  const http2 = v.bool(httpRaw, 'http2', 'http_server_config', true);
  const headers: Record<string, string> = {};
  for (const [name, value] of v.stringMap(httpRaw.headers, 'http_server_config.headers')) {
    const field = `http_server_config.headers.${name}`;
    const canonical = Object.keys(CONFIGURABLE_HEADERS).find((h) => h.toLowerCase() === name.toLowerCase());
    if (!canonical) v.fail(field, `this header cannot be configured (allowed: ${Object.keys(CONFIGURABLE_HEADERS).join(', ')})`);
    if (value === '') continue; // "unset if blank"
    const allowed = CONFIGURABLE_HEADERS[canonical];
    if (allowed && !allowed.includes(value.toLowerCase())) v.fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) v.fail(field, 'contains characters not allowed in a header value');
    headers[canonical] = value;
  }

  const users = new Map<string, string>();
  for (const [user, hash] of v.stringMap(top.basic_auth_users, 'basic_auth_users')) {
    const normal = normaliseBcryptHash(hash.trim());
    if (!normal) v.fail(`basic_auth_users.${user}`, 'not a bcrypt hash ($2a$/$2b$/$2y$, cost 04-31, as `htpasswd -nBC 10 "" | tr -d \':\\n\'` prints)');
    users.set(user, normal);
  }

  let rateLimit: WebConfig['rateLimit'];
  const rl = v.object(top.rate_limit, 'rate_limit', ['interval', 'burst']);
  if (rl.interval !== undefined && rl.interval !== null) {
    const raw = rl.interval;
    const ms = raw === 0 || raw === '0' || raw === '0s' ? 0 : typeof raw === 'string' ? parseDuration(raw) : undefined;
    if (ms === undefined) v.fail('rate_limit.interval', `must be a duration like 100ms or 1s, got ${describe(raw)}`);
    const burst = rl.burst ?? 0;
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0) v.fail('rate_limit.burst', `must be a non-negative integer, got ${describe(burst)}`);
    if (ms > 0) {
      if (burst < 1) v.fail('rate_limit.burst', 'must be at least 1 when rate_limit.interval is set (0 would refuse every request)');
      rateLimit = { intervalMs: ms, burst };
    }
  } else if (rl.burst !== undefined && rl.burst !== null && (typeof rl.burst !== 'number' || !Number.isInteger(rl.burst))) {
    v.fail('rate_limit.burst', `must be a non-negative integer, got ${describe(rl.burst)}`);
  }

  return { file, tls: tlsConfig, users, headers, http2, rateLimit };
}

/**
 * Reads and validates a web config file, and the certificate, key and CA
 * files it names. Throws WebConfigError (key `--web.config.file`) naming the
 * YAML key and the reason.
 */
export async function loadWebConfig(file: string): Promise<WebConfig> {
  const abs = path.resolve(file);
  const v: Validator = new Validator(abs);
  const text = await readMaterial(v, path.dirname(abs), undefined, abs);
  return parseWebConfig(text, abs);
}

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

/**
 * bcrypt of "fakepassword" at cost 10: unknown users are checked against it,
 * so a wrong user name costs as much as a wrong password.
 */
const DUMMY_HASH = '$2b$10$zWdHDXkDTm5El7KQ.u6/O.zxxKo8xs0iNItNmWKV4RHEDRKczVM1W';

/** Verdicts kept; a handful of scrapers use a handful of credentials. */
const AUTH_CACHE_SIZE = 256;

/**
 * bcrypt off the event loop. bcryptjs is plain JavaScript: one check at cost
 * 10 is ~100 ms of CPU, and its async API still runs in 100 ms slices on the
 * main thread, so a stream of wrong passwords would stall every scrape. One
 * worker thread, started on the first check that misses the cache, runs them
 * one at a time; if it cannot run, checks fall back to the main thread.
 */
class BcryptWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve(ok: boolean): void; reject(err: Error): void }>();
  private nextId = 0;
  private broken = false;

  compare(password: string, hash: string): Promise<boolean> {
    if (this.broken) return bcrypt.compare(password, hash);
    const w = this.worker ?? this.start();
    if (!w) return bcrypt.compare(password, hash);
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, password, hash });
      if (this.pending.size === 1) w.ref(); // keep the process up only while a check runs
    });
  }

  private start(): Worker | undefined {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const bcrypt = require(${JSON.stringify(require.resolve('bcryptjs'))});
      parentPort.on('message', ({ id, password, hash }) => {
        let ok = false;
        try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
        parentPort.postMessage({ id, ok });
      });`;
    try {
      const w = new Worker(code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32 } });
      w.unref();
      w.on('message', (m: { id: number; ok: boolean }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) w.unref();
        p?.resolve(m.ok);
      });
      const fail = (err: Error): void => {
        if (this.worker === w) this.worker = undefined;
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`bcrypt worker exited with ${code}`)));
      this.worker = w;
      return w;
    } catch {
      this.broken = true;
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

interface Active {
  config: WebConfig;
  /** sha256(user, stored hash, password) -> verdict. */
  cache: Map<string, boolean>;
  tokens: number;
  refilledAt: number;
}

/** Where TLS material goes on reload (HttpServer). */
export interface TlsTarget {
  setSecureContext(options: https.ServerOptions): void;
}

function send(res: http.ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
  res.end(body);
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
  /** One bcrypt at a time, in a worker thread: it is CPU-bound. */
  private readonly bcrypt = new BcryptWorker();
  /** Counters for tests and logs. */
  readonly counts = { bcrypt: 0, cacheHits: 0, denied: 0, rateLimited: 0 };

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
    return { config, cache: new Map(), tokens: config.rateLimit?.burst ?? 0, refilledAt: Date.now() };
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
    await this.bcrypt.stop();
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
    this.logLoaded();
    return next;
  }

  /**
   * Runs before routing on every request: rate limit, client certificate
   * policy, basic auth. Answers (429/403/401) and returns false when the
   * request must not go on.
   */
  readonly guard = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    const a = this.active;
    const c = a.config;
    if (c.rateLimit && !this.takeToken(a, c.rateLimit)) {
      this.counts.rateLimited++;
      send(res, 429, 'Too Many Requests\n');
      return false;
    }
    if (c.tls) {
      const socket = req.socket as tls.TLSSocket;
      const why = socket.encrypted ? checkClientCert(c.tls, socket) : 'not a TLS connection';
      if (why !== undefined) {
        this.counts.denied++;
        this.log?.debug('client certificate refused', { reason: why, remote: req.socket.remoteAddress });
        send(res, 403, `Forbidden: ${why}\n`, { Connection: 'close' });
        return false;
      }
    }
    if (c.users.size === 0) return true;
    const creds = parseBasicAuth(req.headers.authorization);
    if (creds && (await this.verify(a, creds.user, creds.password))) return true;
    this.counts.denied++;
    send(res, 401, 'Unauthorized\n', { 'WWW-Authenticate': 'Basic realm="otel-host-receiver", charset="UTF-8"' });
    return false;
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

  private async verify(a: Active, user: string, password: string): Promise<boolean> {
    const stored = a.config.users.get(user);
    const hash = stored ?? DUMMY_HASH;
    const key = createHash('sha256').update(JSON.stringify([user, hash, password])).digest('hex');
    const cached = a.cache.get(key);
    if (cached !== undefined) {
      this.counts.cacheHits++;
      return cached && stored !== undefined;
    }
    this.counts.bcrypt++;
    let ok: boolean;
    try {
      ok = (await this.bcrypt.compare(password, hash)) && stored !== undefined;
    } catch {
      return false; // the worker died mid-check: refuse this once (uncached), a new worker serves the next
    }
    if (a.cache.size >= AUTH_CACHE_SIZE) a.cache.delete(a.cache.keys().next().value!);
    a.cache.set(key, ok);
    return ok;
  }
}

/** `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

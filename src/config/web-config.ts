/**
 * `--web.config.file`, read and validated: TLS, basic auth and extra response
 * headers in the exporter-toolkit format every Prometheus exporter takes, so
 * one file (and one Prometheus scrape config) serves node_exporter and us
 * alike. Serving with it (the per-request guard, the auth cache, the bcrypt
 * worker, reloads) is src/export/web-access.ts.
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
 *
 * Differences, each deliberate: hashes are validated at load (a typo fails at
 * start, not on the first scrape) and a bcrypt cost above MAX_BCRYPT_COST is
 * refused; `rate_limit.burst` must be >= 1 when an interval is set (Go's
 * limiter with burst 0 silently refuses everything); `cert` and `cert_file`
 * (likewise key, client_ca) may not both be set.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { yaml } from '../util/lazy';
import { ConfigError } from './options';
import { ConfigFileError, readConfigFile } from './config-file';
import { parseDuration } from './duration';

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

/** An error as one short line (system errors by their code). */
export function errText(err: unknown): string {
  // system errors (ENOENT, EACCES): the code says it all; the message would repeat the path
  if (err && typeof err === 'object' && 'syscall' in err && 'code' in err) return String((err as { code: unknown }).code);
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** bcrypt hashes as Go's x/crypto/bcrypt and htpasswd write them. */
const BCRYPT_RE = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * The highest bcrypt cost accepted. Each step doubles the time of a check;
 * measured with bcryptjs on a 2-core test host, cost 13 takes 0.6-1.3 s and
 * cost 14 1.3-3.7 s. A hash whose check takes over a second turns every
 * unverified request into a second of CPU, so it is refused at load.
 */
export const MAX_BCRYPT_COST = 13;

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

/** The secure-context part of Node's TLS options for a validated TLS config. */
export function secureContextOptions(t: WebTlsConfig): tls.SecureContextOptions {
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
    doc = yaml().parse(text, { uniqueKeys: true, maxAliasCount: 100 });
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
    const cost = Number(normal.slice(4, 6));
    if (cost > MAX_BCRYPT_COST) v.fail(`basic_auth_users.${user}`, `bcrypt cost ${cost} is too slow to check per request (over a second): use at most ${MAX_BCRYPT_COST}, e.g. htpasswd -nBC 10`);
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

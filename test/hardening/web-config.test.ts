/**
 * --web.config.file against real TLS: a CA, server and client certificates
 * made with openssl at test time, a real Daemon serving HTTPS on 127.0.0.1,
 * real clients. Then basic auth (bcrypt, $2y$ hashes, the verdict cache),
 * extra headers, strict validation of bad files, and reloads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { ConfigError } from '../../src/config/options';
import { NO_CONTENT_CSP } from '../../src/export/server';
import { loadWebConfig, normaliseBcryptHash, WebConfigError } from '../../src/config/web-config';
import { parseBasicAuth } from '../../src/export/basic-auth';
import { WebAccess } from '../../src/export/web-access';
import { basic, config, makePki, startWithWebConfig, type Pki } from '../helpers/hardening';
import { fetchUrl, type Outcome } from '../helpers/http';
import { tempDir } from '../helpers/tmp';

let tmp: ReturnType<typeof tempDir>;
let pki: Pki;
let n = 0;

function writeConfig(yaml: string): string {
  const file = path.join(tmp.dir, `web-${++n}.yml`);
  writeFileSync(file, yaml);
  return file;
}

function status(o: Outcome): number | string {
  return o.ok ? o.res.status : `error ${o.error.code ?? o.error.message}`;
}

// htpasswd (apache2-utils) is not installed here: the $2y$ hash is made with
// bcryptjs at cost 10, as `htpasswd -nBC 10` would, and its prefix rewritten to $2y$.
const ALICE_PW = 'correct horse battery staple';
let aliceHash2y: string;
const BOB_PW = 'hunter2';
let bobHash: string;
const CAROL_PW = 'slow hash';
let carolHash: string;

before(() => {
  tmp = tempDir();
  pki = makePki(tmp.dir);
  aliceHash2y = bcrypt.hashSync(ALICE_PW, 10).replace(/^\$2[ab]\$/, '$2y$');
  bobHash = bcrypt.hashSync(BOB_PW, 4);
  carolHash = bcrypt.hashSync(CAROL_PW, 12);
});
after(() => tmp.remove());

describe('TLS', () => {
  let daemon: Daemon;
  let access: WebAccess;
  let url: string;
  const tlsYaml = (auth: string, extra = ''): string =>
    `tls_server_config:\n  cert_file: server.crt\n  key_file: ${path.join(pki.dir, 'server.key')}\n  client_auth_type: ${auth}\n  client_ca_file: ca.crt\n${extra}`;
  const client = (): { ca: string; cert: string; key: string } => ({ ca: pki.pem.ca, cert: pki.pem.clientCert, key: pki.pem.clientKey });
  const rogue = (): { ca: string; cert: string; key: string } => ({ ca: pki.pem.ca, cert: pki.pem.rogueCert, key: pki.pem.rogueKey });

  before(async () => {
    // paths relative to the web config file's directory (cert_file, client_ca_file) and absolute (key_file)
    access = await WebAccess.load(writeConfig(tlsYaml('RequireAndVerifyClientCert')), silentLogger);
    daemon = new Daemon(config(), silentLogger);
    const addr = await daemon.start([], access);
    url = `https://127.0.0.1:${addr.port}`;
  });
  after(async () => daemon.stop(0));

  test('RequireAndVerifyClientCert: refused without a certificate or with an untrusted one; served with one the CA signed', async () => {
    assert.equal((await fetchUrl(`${url}/metrics`, { ca: pki.pem.ca })).ok, false, 'no client certificate');
    assert.equal((await fetchUrl(`${url}/metrics`, rogue())).ok, false, 'certificate from another CA');
    const good = await fetchUrl(`${url}/metrics`, client());
    assert.equal(status(good), 200);
    assert.match(good.ok ? good.res.body : '', /^# HELP /m);
  });

  test('plain HTTP to the TLS port fails (a 400 saying so); HTTPS without trusting the CA fails', async () => {
    const plain = await fetchUrl(`http://127.0.0.1:${new URL(url).port}/metrics`);
    assert.equal(status(plain), 400);
    assert.match(plain.ok ? plain.res.body : '', /plain HTTP request to the HTTPS port/);
    const untrusted = await fetchUrl(`${url}/healthz`, { cert: pki.pem.clientCert, key: pki.pem.clientKey });
    assert.equal(untrusted.ok, false);
  });

  test('reload walks the other client_auth_types, applied to new connections', async () => {
    await access.reload(writeConfig(tlsYaml('RequireAnyClientCert')));
    assert.equal(status(await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca })), 403, 'RequireAny: none');
    assert.equal(status(await fetchUrl(`${url}/healthz`, rogue())), 200, 'RequireAny: any certificate');

    await access.reload(writeConfig(tlsYaml('VerifyClientCertIfGiven')));
    assert.equal(status(await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca })), 200, 'VerifyIfGiven: none');
    assert.equal(status(await fetchUrl(`${url}/healthz`, client())), 200, 'VerifyIfGiven: trusted');
    assert.equal(status(await fetchUrl(`${url}/healthz`, rogue())), 403, 'VerifyIfGiven: untrusted');

    await access.reload(writeConfig(tlsYaml('RequestClientCert')));
    assert.equal(status(await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca })), 200, 'Request: none');
    assert.equal(status(await fetchUrl(`${url}/healthz`, rogue())), 200, 'Request: untrusted is fine');

    await access.reload(writeConfig('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n'));
    assert.equal(status(await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca })), 200, 'NoClientCert');

    await access.reload(writeConfig(tlsYaml('RequireAndVerifyClientCert', '  client_allowed_sans: ["scraper.example"]\n')));
    assert.equal(status(await fetchUrl(`${url}/healthz`, client())), 200, 'allowed SAN');
    await access.reload(writeConfig(tlsYaml('RequireAndVerifyClientCert', '  client_allowed_sans: ["other.example"]\n')));
    assert.equal(status(await fetchUrl(`${url}/healthz`, client())), 403, 'SAN not allowed');
    assert.equal((await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca })).ok, false, 'back to handshake-level refusal');
  });

  test('min_version TLS13 refuses a TLS 1.2-only client; reload rotates the certificate', async () => {
    await access.reload(writeConfig('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n'));
    const old = await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca });
    assert.equal(status(old), 200, 'TLS 1.3 client');
    const tls12 = await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca, maxVersion: 'TLSv1.2' });
    assert.equal(tls12.ok, false, 'TLS 1.2-only client');
    assert.match(String(!tls12.ok && `${tls12.error.code} ${tls12.error.message}`), /EPROTO|version|protocol/i);

    await access.reload(writeConfig('tls_server_config:\n  cert_file: server2.crt\n  key_file: server2.key\n  max_version: TLS12\n'));
    const rotated = await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca });
    assert.equal(status(rotated), 200);
    assert.ok(old.ok && rotated.ok && old.res.serverFingerprint !== rotated.res.serverFingerprint, 'new certificate served');
    assert.equal((await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca, minVersion: 'TLSv1.3' })).ok, false, 'max_version TLS12');
  });

  test('reload refuses switching TLS off, and a bad file, keeping the configuration in force', async () => {
    await assert.rejects(access.reload(writeConfig('basic_auth_users: {}\n')), (e: unknown) => e instanceof WebConfigError && e.field === 'tls_server_config');
    await assert.rejects(access.reload(writeConfig('tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n')), WebConfigError);
    const still = await fetchUrl(`${url}/healthz`, { ca: pki.pem.ca, maxVersion: 'TLSv1.2' });
    assert.equal(status(still), 200, String(!still.ok && still.error.message));
  });
});

describe('basic auth and headers', () => {
  let daemon: Daemon;
  let access: WebAccess;
  let base: string;
  let file: string;

  before(async () => {
    file = writeConfig(
      `basic_auth_users:\n  alice: ${JSON.stringify(aliceHash2y)}\n  bob: '${bobHash}'\n  carol: '${carolHash}'\n` +
        `http_server_config:\n  headers:\n    X-Frame-Options: deny\n    x-content-type-options: nosniff\n    Content-Security-Policy: "default-src 'none'"\n`,
    );
    ({ daemon, access, base } = await startWithWebConfig(file));
  });
  after(async () => {
    await daemon.stop(0);
    await access.close();
  });

  test('no credentials, a wrong password or an unknown user: 401 with WWW-Authenticate, on every endpoint', async () => {
    for (const p of ['/metrics', '/', '/api/status', '/healthz', '/nope']) {
      for (const auth of [undefined, basic('alice', 'wrong'), basic('mallory', ALICE_PW), 'Basic !!!', 'Bearer abc']) {
        const r = await fetchUrl(`${base}${p}`, { headers: auth ? { authorization: auth } : {} });
        assert.ok(r.ok);
        assert.equal(r.res.status, 401, `${p} ${auth}`);
        assert.match(String(r.res.headers['www-authenticate']), /^Basic\b/);
        assert.equal(r.res.headers['x-frame-options'], 'deny', 'headers on refusals too');
      }
    }
  });

  test('the right password ($2y$ hash from htpasswd -nBC 10) is served; headers applied; Content-Type untouched', async () => {
    assert.ok(aliceHash2y.startsWith('$2y$10$'));
    const r = await fetchUrl(`${base}/metrics`, { headers: { authorization: basic('alice', ALICE_PW) } });
    assert.ok(r.ok);
    assert.equal(r.res.status, 200);
    assert.equal(r.res.headers['x-frame-options'], 'deny');
    assert.equal(r.res.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.res.headers['content-security-policy'], "default-src 'none'");
    assert.match(String(r.res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    for (const p of ['/', '/api/status', '/healthz']) {
      assert.equal(status(await fetchUrl(`${base}${p}`, { headers: { authorization: basic('bob', BOB_PW) } })), 200, p);
    }
    assert.equal(status(await fetchUrl(`${base}/nope`, { headers: { authorization: basic('bob', BOB_PW) } })), 404);
  });

  test('verdicts are cached: a scrape every 15 s costs one bcrypt, not one per scrape', async () => {
    const auth = { authorization: basic('alice', ALICE_PW) };
    await fetchUrl(`${base}/healthz`, { headers: auth });
    const before = access.counts.bcrypt;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) assert.equal(status(await fetchUrl(`${base}/healthz`, { headers: auth })), 200);
    const perRequestMs = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
    assert.equal(access.counts.bcrypt, before, 'no bcrypt for cached credentials');
    assert.ok(perRequestMs < 40, `cached auth took ${perRequestMs.toFixed(1)} ms per request`);
    // a wrong password is cached too (as exporter-toolkit does): repeating it is cheap
    await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('alice', 'nope') } });
    const afterWrong = access.counts.bcrypt;
    await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('alice', 'nope') } });
    assert.equal(access.counts.bcrypt, afterWrong);
  });

  test('bcrypt runs off the event loop: a cost-12 check does not stall other requests', async () => {
    const before = access.counts.bcrypt;
    let maxGap = 0;
    let last = Date.now();
    const tick = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const t0 = Date.now();
    const slow = fetchUrl(`${base}/healthz`, { headers: { authorization: basic('carol', CAROL_PW) } });
    const quick = await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('bob', BOB_PW) } });
    const quickMs = Date.now() - t0;
    const r = await slow;
    const slowMs = Date.now() - t0;
    clearInterval(tick);
    assert.equal(status(r), 200);
    assert.equal(status(quick), 200);
    assert.equal(access.counts.bcrypt, before + 1);
    assert.ok(slowMs > 100, `a cost-12 check took only ${slowMs} ms?`);
    assert.ok(quickMs < slowMs, `cached credentials waited for the slow check (${quickMs} vs ${slowMs} ms)`);
    assert.ok(maxGap < 80, `event loop stalled ${maxGap} ms during bcrypt`);
  });

  test('reload: a bad file keeps the old users; a good one replaces them', async () => {
    writeFileSync(file, 'basic_auth_users:\n  alice: [oops\n');
    await assert.rejects(access.reload(), (e: unknown) => e instanceof WebConfigError && e.key === '--web.config.file' && /bad YAML/.test(e.message));
    writeFileSync(file, 'basic_auth_users:\n  alice: not-a-hash\n');
    await assert.rejects(access.reload(), (e: unknown) => e instanceof WebConfigError && e.field === 'basic_auth_users.alice');
    assert.equal(status(await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('alice', ALICE_PW) } })), 200, 'old config in force');

    writeFileSync(file, `basic_auth_users:\n  bob: '${bobHash}'\n`);
    await access.reload();
    assert.equal(status(await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('alice', ALICE_PW) } })), 401, 'alice removed');
    const bob = await fetchUrl(`${base}/healthz`, { headers: { authorization: basic('bob', BOB_PW) } });
    assert.equal(status(bob), 200);
    assert.equal(bob.ok && bob.res.headers['content-security-policy'], NO_CONTENT_CSP, 'headers gone with the new file: the server default is back');
  });
});

describe('validation', () => {
  const bad = async (yaml: string, field: string | undefined, reason: RegExp): Promise<void> => {
    const file = writeConfig(yaml);
    await assert.rejects(loadWebConfig(file), (e: unknown) => {
      assert.ok(e instanceof WebConfigError, String(e));
      assert.ok(e instanceof ConfigError, 'main handles it like a bad flag');
      assert.equal(e.key, '--web.config.file');
      assert.equal(e.field, field, e.message);
      assert.match(e.message, reason);
      assert.ok(e.message.startsWith(`--web.config.file: ${file}: `), e.message);
      return true;
    });
  };

  test('bad files name the key and the reason', async () => {
    await bad('tls_server_config: [\n', undefined, /bad YAML/);
    await bad('basic_auth_users:\n  a: x\n  a: y\n', undefined, /bad YAML.*unique/);
    await bad('basic_auth_user:\n  a: b\n', 'basic_auth_user', /unknown key/);
    await bad('tls_server_config:\n  cert_fil: server.crt\n', 'tls_server_config.cert_fil', /unknown key/);
    await bad('http_server_config:\n  headers:\n    Content-Type: text/html\n', 'http_server_config.headers.Content-Type', /cannot be configured/);
    await bad('http_server_config:\n  headers:\n    Set-Cookie: a=b\n', 'http_server_config.headers.Set-Cookie', /cannot be configured/);
    await bad('http_server_config:\n  headers:\n    X-Frame-Options: allowall\n', 'http_server_config.headers.X-Frame-Options', /deny, sameorigin/);
    await bad('http_server_config:\n  http2: maybe\n', 'http_server_config.http2', /true or false/);
    await bad(`tls_server_config:\n  cert_file: nope.crt\n  key_file: ${pki.serverKey}\n`, 'tls_server_config.cert_file', /cannot read .*nope\.crt: ENOENT/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n`, 'tls_server_config.key_file', /missing/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.clientKey}\n`, 'tls_server_config.key_file', /does not match/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverKey}\n  key_file: ${pki.serverKey}\n`, 'tls_server_config.cert_file', /no PEM certificate/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_ca_file: ${pki.caCert}\n`, 'tls_server_config.client_auth_type', /client CA/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: Sometimes\n`, 'tls_server_config.client_auth_type', /unknown value/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  min_version: TLS13\n  max_version: TLS12\n`, 'tls_server_config.min_version', /above/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_allowed_sans: [a]\n`, 'tls_server_config.client_allowed_sans', /RequireAnyClientCert/);
    await bad(`tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`, 'tls_server_config.cipher_suites', /unknown cipher/);
    await bad('basic_auth_users:\n  alice: $2x$10$abc\n', 'basic_auth_users.alice', /not a bcrypt hash/);
    await bad('basic_auth_users:\n  alice: 12\n', 'basic_auth_users.alice', /must be a string/);
    await bad('rate_limit:\n  interval: 1s\n', 'rate_limit.burst', /at least 1/);
    await bad('rate_limit:\n  interval: soon\n  burst: 1\n', 'rate_limit.interval', /duration/);
    await assert.rejects(loadWebConfig(path.join(tmp.dir, 'absent.yml')), (e: unknown) => e instanceof WebConfigError && e.field === undefined && /ENOENT/.test(e.message));
  });

  test('good files: empty, TLS with Go cipher names and curves, inline PEM', async () => {
    const empty = await loadWebConfig(writeConfig(''));
    assert.equal(empty.tls, undefined);
    assert.equal(empty.users.size, 0);
    const full = await loadWebConfig(
      writeConfig(
        `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n` +
          `  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\n  min_version: TLS12\n` +
          `http_server_config:\n  http2: false\n  headers:\n    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n` +
          `rate_limit:\n  interval: 100ms\n  burst: 5\n`,
      ),
    );
    assert.equal(full.tls?.clientAuth, 'NoClientCert');
    assert.match(full.tls?.ciphers ?? '', /ECDHE-ECDSA-AES128-GCM-SHA256$/);
    assert.equal(full.tls?.ecdhCurve, 'X25519:P-256');
    assert.deepEqual(full.headers, { 'Strict-Transport-Security': 'max-age=31536000' });
    assert.deepEqual(full.rateLimit, { intervalMs: 100, burst: 5 });
    const inline = await loadWebConfig(writeConfig(`tls_server_config:\n  cert: |\n${indent(pki.serverCert)}  key: |\n${indent(pki.serverKey)}`));
    assert.ok(inline.tls?.cert.includes('BEGIN CERTIFICATE'));
  });

  test('bcrypt hashes and the Authorization header', () => {
    assert.equal(normaliseBcryptHash('$2y$10$' + 'a'.repeat(53)), '$2b$10$' + 'a'.repeat(53));
    assert.equal(normaliseBcryptHash('$2a$04$' + 'a'.repeat(53)), '$2a$04$' + 'a'.repeat(53));
    assert.equal(normaliseBcryptHash('$2b$03$' + 'a'.repeat(53)), undefined);
    assert.equal(normaliseBcryptHash('$2b$10$' + 'a'.repeat(52)), undefined);
    assert.ok(bcrypt.compareSync(ALICE_PW, normaliseBcryptHash(aliceHash2y)!));
    assert.deepEqual(parseBasicAuth(basic('u', 'p:w')), { user: 'u', password: 'p:w' });
    assert.deepEqual(parseBasicAuth(basic('', '')), { user: '', password: '' });
    assert.equal(parseBasicAuth('Basic bm9jb2xvbg=='), undefined); // "nocolon"
    assert.equal(parseBasicAuth('Digest x'), undefined);
  });
});

describe('rate_limit', () => {
  test('beyond the burst: 429 until a token comes back', async () => {
    // Other daemons on this host (tests running in parallel) discover and HTTP-probe every
    // listening port, this one included, and may take a token: assert bounds, not an exact sequence.
    const access = await WebAccess.load(writeConfig('rate_limit:\n  interval: 1s\n  burst: 2\n'), silentLogger);
    const daemon = new Daemon(config(), silentLogger);
    const base = `http://127.0.0.1:${(await daemon.start([], access)).port}`;
    try {
      const codes = await Promise.all(Array.from({ length: 6 }, () => fetchUrl(`${base}/healthz`).then(status)));
      assert.ok(codes.every((c) => c === 200 || c === 429), codes.join(','));
      assert.ok(codes.filter((c) => c === 200).length <= 3, `at most the burst (2) and one refill: ${codes.join(',')}`);
      assert.ok(codes.filter((c) => c === 429).length >= 3, codes.join(','));
      assert.ok(access.counts.rateLimited >= 3);
      let served = false;
      for (let i = 0; i < 30 && !served; i++) {
        await new Promise((r) => setTimeout(r, 100));
        served = status(await fetchUrl(`${base}/healthz`)) === 200;
      }
      assert.ok(served, 'a token came back within 3 s');
    } finally {
      await daemon.stop(0);
    }
  });
});

function indent(file: string): string {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l: string) => (l ? `    ${l}` : l))
    .join('\n');
}

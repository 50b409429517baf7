/**
 * Basic auth under attack. An unauthenticated flood (wrong passwords, each a
 * new one so none is cached) must not starve scrapers whose credentials are
 * already verified; checks that miss the cache have their own small queue
 * (429 beyond it); failed checks never push verified credentials out of the
 * cache; a reload keeps what it can; unknown users cost what wrong passwords
 * cost, at whatever bcrypt cost the users have; absurd costs are refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { loadWebConfig, WebConfigError } from '../../src/config/web-config';
import { WebAccess } from '../../src/export/web-access';
import { basic, config, spawnDaemon, startWithWebConfig, type DaemonChild } from '../helpers/hardening';
import { fetchUrl, type Outcome } from '../helpers/http';
import { tempDir } from '../helpers/tmp';

let tmp: ReturnType<typeof tempDir>;
let n = 0;
const writeConfig = (yaml: string): string => {
  const file = path.join(tmp.dir, `web-${++n}.yml`);
  writeFileSync(file, yaml);
  return file;
};
const status = (o: Outcome): number | string => (o.ok ? o.res.status : `error ${o.error.code ?? o.error.message}`);
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const PW = 'scrape-secret';
let hash10: string;
let hash4: string;

before(() => {
  tmp = tempDir();
  hash10 = bcrypt.hashSync(PW, 10);
  hash4 = bcrypt.hashSync(PW, 4);
});
after(() => tmp.remove());

describe('a wrong-password flood', () => {
  let d: DaemonChild;
  before(async () => {
    // default --web.max-requests (40), a cost-10 hash as `htpasswd -nBC 10` makes
    d = await spawnDaemon([`--web.config.file=${writeConfig(`basic_auth_users:\n  prometheus: '${hash10}'\n`)}`]);
  });
  after(async () => d.stop());

  test('leaves >= 95% of authenticated scrapes successful, p99 < 500 ms', { timeout: 90_000 }, async () => {
    const base = `http://127.0.0.1:${d.port}`;
    const auth = { authorization: basic('prometheus', PW) };
    assert.equal(status(await fetchUrl(`${base}/metrics`, { headers: auth }, 10_000)), 200, 'the password is verified once, before the flood');
    // 40 attackers, each sending a new wrong password as soon as the last was answered,
    // for as long as the 5 scrapers scrape (bounded: 100 scrapes, then it stops).
    let flooding = true;
    let sent = 0;
    const attackerAnswers = new Map<string, number>();
    const attackers = Array.from({ length: 40 }, async (_, a) => {
      for (let i = 0; flooding; i++) {
        sent++;
        const r = await fetchUrl(`${base}/metrics`, { headers: { authorization: basic('prometheus', `guess-${a}-${i}`) } }, 20_000);
        attackerAnswers.set(String(status(r)), (attackerAnswers.get(String(status(r))) ?? 0) + 1);
      }
    });
    await new Promise((r) => setTimeout(r, 300)); // the flood is on before the first scrape
    const answers: Array<{ status: number | string; ms: number }> = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          const r = await fetchUrl(`${base}/metrics`, { headers: auth }, 10_000);
          answers.push({ status: status(r), ms: performance.now() - t0 });
          await new Promise((res) => setTimeout(res, 50));
        }
      }),
    );
    flooding = false;
    await Promise.all(attackers);
    const ok = answers.filter((a) => a.status === 200).length;
    const p99 = quantile(answers.map((a) => a.ms), 0.99);
    const summary = `scrapes ${ok}/${answers.length} ok (${answers.filter((a) => a.status !== 200).map((a) => a.status).join(',')}), p99 ${p99.toFixed(0)} ms; attackers sent ${sent}: ${JSON.stringify(Object.fromEntries(attackerAnswers))}`;
    assert.ok(ok >= 95, summary);
    assert.ok(p99 < 500, summary);
    assert.ok(sent >= 100, `the flood was real: ${summary}`);
    // the attack itself is refused, cheaply: 401 when checked, 429 when the check queue is full
    assert.deepEqual([...attackerAnswers.keys()].filter((k) => k !== '401' && k !== '429'), [], summary);
  });
});

describe('the verdict cache and the check queue', () => {
  let daemon: Daemon;
  let access: WebAccess;
  let base: string;
  let file: string;

  before(async () => {
    file = writeConfig(`basic_auth_users:\n  alice: '${hash4}'\n  bob: '${hash4}'\n  carol: '${hash10}'\n`);
    ({ daemon, access, base } = await startWithWebConfig(file));
  });
  after(async () => {
    await daemon.stop(0);
    await access.close();
  });

  const get = (user: string, password: string): Promise<Outcome> => fetchUrl(`${base}/healthz`, { headers: { authorization: basic(user, password) } }, 20_000);

  test('failed checks never push a verified credential out of the cache', async () => {
    assert.equal(status(await get('alice', PW)), 200);
    const afterGood = access.counts.bcrypt;
    // more distinct failures than the cache holds verdicts (cost 4: fast)
    for (let i = 0; i < 600; i++) assert.equal(status(await get('alice', `wrong-${i}`)), 401);
    assert.ok(access.counts.bcrypt >= afterGood + 600, 'every wrong password was checked');
    const checks = access.counts.bcrypt;
    assert.equal(status(await get('alice', PW)), 200);
    assert.equal(access.counts.bcrypt, checks, 'the verified password was still cached');
  });

  test('a reload keeps verdicts whose user and hash are unchanged', async () => {
    assert.equal(status(await get('alice', PW)), 200);
    assert.equal(status(await get('bob', PW)), 200);
    const before = access.counts.bcrypt;
    // bob gets a new hash (same password), alice keeps hers
    writeFileSync(file, `basic_auth_users:\n  alice: '${hash4}'\n  bob: '${bcrypt.hashSync(PW, 4)}'\n  carol: '${hash10}'\n`);
    await access.reload();
    assert.equal(status(await get('alice', PW)), 200);
    assert.equal(access.counts.bcrypt, before, 'alice: no new check after the reload');
    assert.equal(status(await get('bob', PW)), 200);
    assert.equal(access.counts.bcrypt, before + 1, 'bob: his hash changed, checked again');
  });

  test('checks that miss the cache queue at most a few deep: beyond, 429 at once', async () => {
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const r = await get('carol', `wrong-${i}`);
        return { status: status(r), ms: performance.now() - t0, retryAfter: r.ok ? r.res.headers['retry-after'] : undefined };
      }),
    );
    const busy = answers.filter((a) => a.status === 429);
    const checked = answers.filter((a) => a.status === 401);
    assert.equal(busy.length + checked.length, 30, JSON.stringify(answers));
    assert.ok(busy.length >= 10, `queue overflow answered 429: ${JSON.stringify(answers)}`);
    assert.ok(busy.every((a) => a.retryAfter !== undefined), 'with Retry-After');
    // a 429 does not wait for bcrypt: the first one comes back before the slowest check
    assert.ok(Math.min(...busy.map((a) => a.ms)) < Math.max(...checked.map((a) => a.ms)), JSON.stringify(answers));
    // and a cached good credential is served meanwhile
    assert.equal(status(await get('alice', PW)), 200);
  });
});

describe('bcrypt cost', () => {
  test('an unknown user costs what a wrong password costs, at the users\' cost (12 here)', { timeout: 60_000 }, async () => {
    const hash12 = bcrypt.hashSync(PW, 12);
    const access = await WebAccess.load(writeConfig(`basic_auth_users:\n  dave: '${hash12}'\n`), silentLogger);
    const daemon = new Daemon(config(), silentLogger);
    const base = `http://127.0.0.1:${(await daemon.start([], access)).port}`;
    try {
      const time = async (user: string, i: number): Promise<number> => {
        const t0 = performance.now();
        const r = await fetchUrl(`${base}/healthz`, { headers: { authorization: basic(user, `wrong-${i}`) } }, 20_000);
        assert.equal(status(r), 401);
        return performance.now() - t0;
      };
      // alternate, so load on this shared machine hits both alike; the fastest of each is compared
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        wrong.push(await time('dave', i));
        unknown.push(await time('nobody', i));
      }
      const ratio = Math.min(...unknown) / Math.min(...wrong);
      assert.ok(ratio > 0.6 && ratio < 1.7, `unknown user ${Math.min(...unknown).toFixed(0)} ms vs wrong password ${Math.min(...wrong).toFixed(0)} ms`);
    } finally {
      await daemon.stop(0);
      await access.close();
    }
  });

  test('a cost above 13 (over a second per check here) is refused at load: exit 2 naming the user', () => {
    const file = writeConfig(`basic_auth_users:\n  ok: '${hash4}'\n  eve: '${'$2b$14$' + hash4.slice(7)}'\n`);
    return assert.rejects(loadWebConfig(file), (e: unknown) => {
      assert.ok(e instanceof WebConfigError, String(e));
      assert.equal(e.field, 'basic_auth_users.eve');
      assert.match(e.message, /cost 14 .*at most 13/);
      const run = spawnSync(process.execPath, [path.resolve(__dirname, '../../src/main.js'), '--web.listen-address=127.0.0.1:0', `--web.config.file=${file}`], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /--web\.config\.file: .*basic_auth_users\.eve: .*cost 14/);
      return true;
    });
  });
});

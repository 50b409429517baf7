/**
 * --once against a fixture procfs: one cycle, the exposition on stdout, exit 0. The port
 * families must match the golden file line for line, and promtool must accept the whole
 * page (the same check CI systems run on a textfile-collector drop or a /metrics capture).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { MAIN_JS, promtool, repoPath } from '../helpers/pipelines';

const FIXTURE = repoPath('test', 'fixtures', 'proc-pipelines', 'proc');
const GOLDEN = repoPath('test', 'fixtures', 'proc-pipelines', 'once-node-families.golden');

/** Resolves to the connect error code for 127.0.0.1:port, or 'connected'. */
function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, timeout: 2000 });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('--once on the fixture procfs: golden port families, promtool-clean exposition', async () => {
  // The fixture's LISTEN socket is 127.0.0.1:1; the expected 0 needs nobody listening there.
  assert.equal(await connectResult(1), 'ECONNREFUSED', 'precondition: TCP port 1 on 127.0.0.1 must be closed on this host');
  assert.ok(fs.lstatSync(`${FIXTURE}/4242/fd/3`).isSymbolicLink(), 'fixture fd/3 must be a symlink (git core.symlinks=false breaks it)');

  const run = spawnSync(process.execPath, [MAIN_JS, '--once', `--path.procfs=${FIXTURE}`], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  assert.equal(run.status, 0, `--once exited with ${run.status}: ${run.stderr}`);
  const page = run.stdout;

  const golden = fs.readFileSync(GOLDEN, 'utf8').trim().split('\n');
  const families = new Set(golden.map((l) => l.slice(0, l.search(/[{ ]/))));
  const actual = page.split('\n').filter((l) => families.has(l.slice(0, l.search(/[{ ]/))));
  assert.deepEqual(actual, golden, `port families differ from ${GOLDEN}`);

  // Every family has HELP and TYPE lines right before its samples.
  for (const f of families) {
    assert.match(page, new RegExp(`# HELP ${f} .+\\n(# UNIT ${f} .+\\n)?# TYPE ${f} gauge\\n${f}\\{`), `${f} lacks HELP/TYPE`);
  }

  const check = promtool(['check', 'metrics'], page);
  assert.equal(check.status, 0, `promtool check metrics failed (exit ${check.status}):\n${check.stdout}${check.stderr}`);
});

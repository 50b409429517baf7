/**
 * Regex denial of service through process_names: cmdline regexes come from
 * the config, but the text they run over (argv) is chosen by any local user.
 * A backtracking engine takes exponential time on patterns such as
 * `(a+)+$` against `aaaa…ab`, or `^(\S+\s*)+--config=…$` against an
 * ordinary command line without `--config=`, and a regex running in the main
 * thread cannot be interrupted: /healthz and SIGTERM stop being served.
 *
 * The daemon runs with such a config while unprivileged processes (uid
 * nobody) with crafted argv exist; /healthz must answer within 1 s at every
 * poll across several sampling cycles, the crafted processes must be named
 * by the config, and SIGTERM must end the daemon promptly. Every wait is
 * bounded, so a regressed engine fails the test instead of hanging it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDaemon } from '../helpers/pipelines';
import { get } from '../helpers/http';
import { tempDir as makeTempDir } from '../helpers/tmp';
import { sleep, waitFor } from '../helpers/wait';

const tempDir = (name: string): string => makeTempDir(name).dir;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

const NOBODY = 65534;

/**
 * A process whose whole /proc/<pid>/cmdline is `argv0` (one argument, spaces included): `cat`
 * waiting on a pipe we never close, as user nobody when we are root, like any local user's.
 */
function crafted(argv0: string): ChildProcess {
  const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
  const child = spawn('/bin/cat', [], { argv0, stdio: ['pipe', 'ignore', 'ignore'], ...asNobody });
  children.push(child);
  return child;
}

/**
 * Runs the daemon on `config`, calls `during` once it serves, then polls /healthz for several
 * 1 s sampling cycles (each answer within 1 s), waits for `wantGroup` on /metrics, and checks
 * that SIGTERM ends the daemon within 5 s.
 */
async function survives(config: string, during: () => void, wantGroups: string[]): Promise<void> {
  const file = path.join(tempDir('regex-dos'), 'pn.yml');
  fs.writeFileSync(file, config);
  const daemon = await startDaemon({ args: [`--config.path=${file}`] });
  try {
    during();
    const started = Date.now();
    let polls = 0;
    while (Date.now() - started < 6000) {
      const t0 = Date.now();
      let status = 0;
      try {
        status = (await get(`${daemon.baseUrl}/healthz`, {}, 1000)).status;
      } catch (err) {
        assert.fail(`/healthz did not answer within 1 s, ${Date.now() - started} ms after the crafted processes started (${(err as Error).message})`);
      }
      assert.equal(status, 200);
      assert.ok(Date.now() - t0 < 1000, `/healthz took ${Date.now() - t0} ms`);
      polls++;
      await sleep(200);
    }
    assert.ok(polls >= 10, `polled /healthz ${polls} times`);

    // the crafted processes went through the rules (the config was applied, not skipped)
    const label = (g: string): string => `groupname="${g}"`;
    await waitFor(`groups ${wantGroups.join(', ')} on /metrics`, async () => {
      const text = await daemon.scrape();
      return wantGroups.every((g) => text.includes(label(g))) ? true : undefined;
    }, 10_000);

    const t0 = Date.now();
    daemon.proc.kill('SIGTERM');
    const code = await Promise.race([daemon.exited, sleep(5000).then(() => 'timeout' as const)]);
    assert.notEqual(code, 'timeout', 'SIGTERM did not end the daemon within 5 s');
    assert.equal(code, 0, daemon.output());
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    daemon.proc.kill('SIGKILL');
  }
}

test('(a+)+$ against an unprivileged process named aaa…ab: /healthz keeps answering, SIGTERM ends the daemon', async () => {
  // 40 a's then b: a backtracking engine tries 2^40 ways to split the a's, at each start position
  const argv0 = `${'a'.repeat(40)}b`;
  const config = `
process_names:
  - name: "nested-plus"
    cmdline: ['(a+)+$']
  - name: "{{.ExeBase}}"
    cmdline: ['.+']
`;
  // no match, so the process falls through to the catch-all, named after its argv[0]
  await survives(config, () => crafted(argv0), [argv0]);
});

test('^(\\S+\\s*)+--config=(?P<cfg>\\S+)$ over ordinary command lines: /healthz keeps answering, captures name groups', async () => {
  // short words and no "--config=": a backtracking engine tries every split of every word
  const words = `${Array.from({ length: 20 }, (_, i) => `w${i}x`).join(' ')} --config`;
  const config = `
process_names:
  - name: "cfg-{{.Matches.cfg}}"
    cmdline: ['^(\\S+\\s*)+--config=(?P<cfg>\\S+)$']
  - name: "{{.ExeBase}}"
    cmdline: ['.+']
`;
  await survives(
    config,
    () => {
      crafted(words);
      crafted('/opt/app/bin/server --port 1 --config=/etc/app.yml');
    },
    [words, 'cfg-/etc/app.yml'],
  );
});

/**
 * PROC_PREFIX / --path.procfs pointing at the wrong place (issue 10): a missing
 * directory, or an empty one (a forgotten host mount), exits 2 with one line
 * naming the setting and what is missing, both with --once and as a daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAIN_JS, repoPath } from '../helpers/pipelines';

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN_JS, '--web.listen-address=127.0.0.1:0', '--metrics.exporter=prometheus', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

function assertOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, re);
}

test('a missing procfs directory exits 2 naming PROC_PREFIX/--path.procfs, with --once and as a daemon', () => {
  const missing = path.join(os.tmpdir(), 'ohr-no-such-proc-dir', 'proc');
  for (const args of [['--once'], []]) {
    const r = run(args, { PROC_PREFIX: missing });
    assert.equal(r.status, 2, r.stderr);
    assertOneLine(r.stderr, new RegExp(`^otel-host-receiver: PROC_PREFIX/--path.procfs: ${missing} does not exist$`));
  }
});

test('an empty directory (host /proc not mounted) exits 2 saying net/tcp is missing, with --once and as a daemon', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'ohr-empty-proc-'));
  try {
    for (const args of [['--once', `--path.procfs=${empty}`], [`--path.procfs=${empty}`]]) {
      const r = run(args);
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, /^otel-host-receiver: PROC_PREFIX\/--path.procfs: .* has no net\/tcp: not a procfs/);
    }
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('--path.rootfs / ROOTFS_PATH: effective_username comes from <rootfs>/etc/passwd (the host\'s, in a container)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ohr-rootfs-'));
  try {
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nrootfs-user:x:1000:1000::/home/u:/bin/sh\n');
    const procfs = repoPath('test', 'fixtures', 'proc-process', 'proc');
    // pid 200 (bash) runs as uid 1000
    const want = 'namedprocess_namegroup_effective_username{groupname="bash_200",username="rootfs-user"} 1';
    for (const [args, env] of [
      [['--once', `--path.procfs=${procfs}`, `--path.rootfs=${root}`], {}],
      [['--once', `--path.procfs=${procfs}`], { ROOTFS_PATH: root }],
    ] as Array<[string[], Record<string, string>]>) {
      const r = spawnSync(process.execPath, [MAIN_JS, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.split('\n').includes(want), r.stdout.split('\n').filter((l) => l.includes('effective_username')).join('\n'));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

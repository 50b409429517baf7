/**
 * Files that never end. A FIFO where a /proc file or a config file is
 * expected used to block the main thread in open() or read() for good
 * (SIGTERM ignored, /healthz dead). Every case runs the built daemon in a
 * child process with a bounded wait, so a regression fails here instead of
 * hanging the test run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, cpSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MAIN_JS, repoPath, startDaemon, tempDir, waitFor } from '../helpers/pipelines';
import { parseExposition, value } from '../helpers/exposition';

const FIXTURE = repoPath('test', 'fixtures', 'proc-process', 'proc');
/** Far above what --once takes here (about a second), far below "forever". */
const ONCE_TIMEOUT_MS = 30_000;

function mkfifo(file: string): void {
  rmSync(file, { force: true });
  const r = spawnSync('mkfifo', [file]);
  assert.equal(r.status, 0, `mkfifo ${file}: ${r.stderr}`);
}

/** A copy of the proc-process fixture with FIFOs at the given relative paths. */
function treeWithFifos(...rels: string[]): string {
  const dir = path.join(tempDir('fifo-proc'), 'proc');
  cpSync(FIXTURE, dir, { recursive: true, verbatimSymlinks: true });
  for (const rel of rels) mkfifo(path.join(dir, rel));
  return dir;
}

/** Opens a FIFO for writing without blocking (O_RDWR on a FIFO never blocks on Linux) and keeps it open, silent. */
function silentWriter(fifo: string): number {
  return openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
}

function once(root: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [MAIN_JS, '--once', `--path.procfs=${root}`], {
    encoding: 'utf8',
    timeout: ONCE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

test('--once: a FIFO as <pid>/stat (no writer) and as <pid>/status (a silent writer) skips those pids', () => {
  const root = treeWithFifos('600/stat', '700/status');
  const writer = silentWriter(path.join(root, '700/status'));
  try {
    const r = once(root);
    assert.equal(r.signal, null, `--once was killed after ${r.ms} ms: it blocked`);
    assert.equal(r.status, 0, r.stderr);
    const page = parseExposition(r.stdout);
    const groups = new Set(page.samples.filter((s) => s.name === 'namedprocess_namegroup_num_procs').map((s) => s.labels.groupname));
    assert.deepEqual([...groups].sort(), ['bash_200', 'defunct_400', 'secretd_500', 'sleep_201', 'webserver_100']);
    assert.equal(value(page, 'namedprocess_scrape_procread_errors_total'), 2);
  } finally {
    closeSync(writer);
  }
});

test('--once: a FIFO as net/tcp or as <pid>/net/tcp fails only what needs that table, fast', () => {
  const r = once(treeWithFifos('net/tcp', '600/net/tcp'));
  assert.equal(r.signal, null, `--once was killed after ${r.ms} ms: it blocked`);
  assert.equal(r.status, 0, r.stderr);
  // the host's table is unusable: discovery reports it, naming the file, and the other stages run
  assert.match(r.stderr, /stage=discovery .*net\/tcp: not a regular file/);
  const page = parseExposition(r.stdout);
  assert.equal(value(page, 'otel_host_receiver_stage_success', { stage: 'discovery' }), 0);
  assert.equal(value(page, 'otel_host_receiver_stage_success', { stage: 'udp_probe' }), 1);
});

test('the running daemon serves and stops on SIGTERM with a FIFO as <pid>/stat', async () => {
  const root = treeWithFifos('600/stat', '700/status');
  const writer = silentWriter(path.join(root, '700/status'));
  try {
    const d = await startDaemon({ args: [`--path.procfs=${root}`] });
    try {
      const page = await waitFor('a process sample in /metrics', async () => {
        const p = parseExposition(await d.scrape());
        return value(p, 'namedprocess_namegroup_num_procs', { groupname: 'webserver_100' }) === 1 ? p : undefined;
      });
      assert.equal(value(page, 'namedprocess_namegroup_num_procs', { groupname: 'python3_600' }), undefined);
      assert.ok((value(page, 'namedprocess_scrape_procread_errors_total') ?? 0) >= 2);
    } finally {
      await d.stop(10_000);
    }
    assert.equal(await d.exited, 0, `SIGTERM did not stop the daemon cleanly:\n${d.output()}`);
  } finally {
    closeSync(writer);
  }
});

test('a FIFO as a config file: exit 2 at once with one line naming it', () => {
  const dir = tempDir('fifo-config');
  const fifo = path.join(dir, 'fifo');
  mkfifo(fifo);
  const web = path.join(dir, 'web.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: fifo\n  key_file: fifo\n`);
  const cases: Array<[string[], RegExp]> = [
    [[`--web.config.file=${web}`], new RegExp(`^otel-host-receiver: --web\\.config\\.file: .*tls_server_config\\.cert_file: cannot read ${fifo}: not a regular file \\(a FIFO\\)$`)],
    [[`--web.config.file=${fifo}`], new RegExp(`^otel-host-receiver: --web\\.config\\.file: ${fifo}: cannot read: not a regular file \\(a FIFO\\)$`)],
    [[`--config.path=${fifo}`], new RegExp(`^otel-host-receiver: --config\\.path: cannot read "${fifo}": not a regular file \\(a FIFO\\)$`)],
    [[`--exclude.process-names-file=${fifo}`], new RegExp(`^otel-host-receiver: --exclude\\.process-names-file: cannot read "${fifo}": not a regular file \\(a FIFO\\)$`)],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [MAIN_JS, '--web.listen-address=127.0.0.1:0', `--path.procfs=${FIXTURE}`, ...args], {
      encoding: 'utf8',
      timeout: ONCE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.signal, null, `${args}: killed, it blocked`);
    assert.equal(r.status, 2, `${args}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), re);
  }
});

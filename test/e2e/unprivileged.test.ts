/**
 * Started as an unprivileged user (nobody) on a host whose other processes
 * belong to root: one summary line of what cannot be read, then partial data,
 * no log spam, no crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value } from '../helpers/exposition';

const MAIN = path.resolve(__dirname, '../../src/main.js');
const NOBODY = 65534;
const canRun =
  process.getuid?.() === 0 && spawnSync(process.execPath, [MAIN, '--version'], { uid: NOBODY, gid: NOBODY }).status === 0;

test('as nobody: one summary warning, partial data, counters instead of log lines', { skip: canRun ? false : 'needs root to drop to uid 65534, and a checkout nobody can read' }, async () => {
  const proc = spawn(process.execPath, [MAIN, '--web.listen-address=127.0.0.1:0', '--port.status-interval=500ms', '--process.sample-interval=500ms'], {
    uid: NOBODY,
    gid: NOBODY,
    env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const port = await waitFor('serving', () => /msg=serving .*address=[^ ]*:(\d+)/.exec(stderr)?.[1]);
    const e = await waitFor('a few cycles', async () => {
      const s = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body);
      return (value(s, 'otel_host_receiver_stage_runs_total', { stage: 'tcp_probe' }) ?? 0) >= 3 ? s : undefined;
    });
    assert.ok(value(e, 'otel_host_receiver_unreadable_processes')! > 0, 'root-owned processes are unreadable to nobody');
    assert.ok(value(e, 'namedprocess_scrape_partial_errors_total')! > 0);
    assert.ok(e.samples.some((s) => s.name === 'namedprocess_namegroup_num_procs'), 'still reports what it can see');
    const lines = stderr.trim().split('\n');
    assert.equal(lines.filter((l) => /level=warn msg="running with partial access/.test(l)).length, 1, stderr);
    assert.equal(lines.filter((l) => /level=(warn|error)/.test(l)).length, 1, `no other warnings or errors:\n${stderr}`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
});

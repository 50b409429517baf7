/**
 * Unreadable files, for real: root reads everything, so the sampler runs in a
 * child that drops to uid 65534 (nobody), over a fixture copy whose io,
 * smaps_rollup and fd directory of pid 500 are mode 000, and over the live
 * /proc, where another user's root-owned process (this test) has an io
 * file, fd table and smaps_rollup only root or CAP_SYS_PTRACE may read.
 * Expected: those series are missing (never 0), everything else is there,
 * and each such process counts one partial error per cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const FIXTURE = path.resolve(__dirname, '../../../test/fixtures/proc-process');
const NOBODY = 65534;

/** Runs the collector as nobody; returns { fixture: series, live: series, liveReport }. */
function runAsNobody(root: string): { fixture: Record<string, number>; live: Record<string, number>; partialLive: number } {
  const dist = path.resolve(__dirname, '../../src');
  const code = `
    const { ProcessCollector } = require(${JSON.stringify(path.join(dist, 'process/collector.js'))});
    const { ProcFs } = require(${JSON.stringify(path.join(dist, 'procfs/proc-fs.js'))});
    const { SelfStats } = require(${JSON.stringify(path.join(dist, 'self-stats.js'))});
    const { silentLogger } = require(${JSON.stringify(path.join(dist, 'log.js'))});
    const { PerPidNamer } = require(${JSON.stringify(path.join(dist, 'process/naming.js'))});
    const { readPasswdFile } = require(${JSON.stringify(path.join(dist, 'config/process-names.js'))});
    const cfg = { processConfigPath: undefined, procnames: [], children: true, threads: true, gatherSmaps: true, removeEmptyGroups: false, netstatMaxPerProcess: 256 };
    // only the groups the test looks at, and the unlabelled self counters
    const keep = new Set(['secretd_500', 'bash_200', 'node_' + process.argv[2]]);
    const flat = (c) => { const o = {}; for (const f of c.families()) for (const p of f.points) if (p.attributes.groupname === undefined || keep.has(p.attributes.groupname)) o[f.spec.name + JSON.stringify(p.attributes)] = p.value; return o; };
    (async () => {
      const fx = new ProcessCollector(new ProcFs(process.argv[1]), cfg, new SelfStats(), silentLogger, { namer: new PerPidNamer(), readPasswd: () => readPasswdFile(${JSON.stringify(path.join(FIXTURE, 'etc/passwd'))}) });
      await fx.sample();
      const live = new ProcessCollector(new ProcFs('/proc'), cfg, new SelfStats(), silentLogger, { namer: new PerPidNamer(), readPasswd: () => readPasswdFile() });
      await live.sample();
      process.stdout.write(JSON.stringify({ uid: process.getuid(), fixture: flat(fx), live: flat(live), partialLive: live.lastReport().partial }));
    })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', code, root, String(process.pid)], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { uid: number; fixture: Record<string, number>; live: Record<string, number>; partialLive: number };
  assert.equal(out.uid, NOBODY);
  return out;
}

/** Makes a tree readable by everyone (the temp dir is 0700). */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) openUp(p);
    else chmodSync(p, 0o644);
  }
}

test('as a non-root user: unreadable io, fds and smaps give missing series and partial errors, never zeros', { skip: process.getuid?.() !== 0 ? 'needs root to run the sampler as uid 65534' : false }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'proc-denied-'));
  try {
    cpSync(path.join(FIXTURE, 'proc'), root, { recursive: true, verbatimSymlinks: true });
    openUp(root);
    chmodSync(path.join(root, '500/io'), 0o000);
    chmodSync(path.join(root, '500/smaps_rollup'), 0o000);
    chmodSync(path.join(root, '500/fd'), 0o000);
    assert.equal(statSync(path.join(root, '500/io')).mode & 0o777, 0);
    const { fixture, live, partialLive } = runAsNobody(root);

    const g = (name: string, attrs: Record<string, string>): number | undefined => fixture[`namedprocess_namegroup_${name}${JSON.stringify(attrs)}`];
    const secretd = { groupname: 'secretd_500' };
    assert.equal(g('read_bytes_total', secretd), undefined, 'io denied: no read_bytes series');
    assert.equal(g('write_bytes_total', secretd), undefined);
    assert.equal(g('open_filedesc', secretd), undefined, 'fd table denied: no open_filedesc');
    assert.equal(g('worst_fd_ratio', secretd), undefined);
    assert.equal(g('memory_bytes', { groupname: 'secretd_500', memtype: 'proportionalResident' }), undefined);
    // what stays readable is still reported exactly
    assert.equal(g('cpu_seconds_total', { groupname: 'secretd_500', mode: 'user' }), 0.4);
    assert.equal(g('memory_bytes', { groupname: 'secretd_500', memtype: 'resident' }), 1536 * 4096);
    assert.equal(g('num_procs', secretd), 1);
    assert.equal(g('read_bytes_total', { groupname: 'bash_200' }), 1048576, 'other processes unaffected');
    assert.equal(fixture['namedprocess_scrape_partial_errors_total{}'], 1, 'one partial error for the one process');
    assert.equal(fixture['namedprocess_scrape_procread_errors_total{}'], 0);

    // live: this test process is root's; as nobody its io, fds and smaps_rollup are EACCES
    const mine = { groupname: `node_${process.pid}` };
    const l = (name: string, attrs: Record<string, string>): number | undefined => live[`namedprocess_namegroup_${name}${JSON.stringify(attrs)}`];
    assert.equal(l('num_procs', mine), 1, 'root processes are still listed and named');
    assert.ok((l('cpu_seconds_total', { ...mine, mode: 'user' }) ?? 0) > 0, 'stat is world-readable');
    assert.equal(l('read_bytes_total', mine), undefined);
    assert.equal(l('open_filedesc', mine), undefined);
    assert.equal(l('memory_bytes', { ...mine, memtype: 'proportionalResident' }), undefined);
    assert.ok(partialLive >= 1, `partial errors on the live /proc: ${partialLive}`);
    assert.equal(live['namedprocess_scrape_procread_errors_total{}'], 0, 'denied optional files are partial, not read errors');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The thin readers over the literal /proc slice in test/fixtures/proc-process
 * (see its README for the numbers). Parsing details are in the per-file tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { closeSync, constants, lstatSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { ProcFs, isVanished } from '../../src/procfs/proc-fs';
import { readPidStatSync } from '../../src/procfs/pid-stat';
import { readPidStatusSync } from '../../src/procfs/pid-status';
import { readPidIoSync } from '../../src/procfs/pid-io';
import { readPidLimitsSync } from '../../src/procfs/pid-limits';
import { readSmapsRollupSync } from '../../src/procfs/smaps-rollup';
import { readWchanSync } from '../../src/procfs/pid-wchan';
import { readFdTableSync } from '../../src/procfs/pid-fd';
import { readPidCgroupSync } from '../../src/procfs/pid-cgroup';
import { readNetNsSync } from '../../src/procfs/pid-ns';
import { listTasksSync } from '../../src/procfs/pid-task';
import { readCmdlineSync } from '../../src/procfs/pid-cmdline';
import { readProcStatSync } from '../../src/procfs/proc-stat';

const ROOT = path.resolve(__dirname, '../../../test/fixtures/proc-process/proc');
const fs = new ProcFs(ROOT);

test('fixture integrity: fd and ns entries are symlinks (core.symlinks must be on)', () => {
  for (const rel of ['100/fd/3', '100/ns/net', '600/fd/1', '700/fd/3']) {
    assert.ok(lstatSync(path.join(ROOT, rel)).isSymbolicLink(), `${rel} should be a git symlink`);
  }
});

test('readers over the fixture: webserver pid 100 with three threads', () => {
  const stat = readPidStatSync(fs, 100);
  assert.equal(stat.comm, 'webserver');
  assert.equal(stat.numThreads, 3);
  assert.equal(stat.userTicks, 250);
  assert.equal(stat.systemTicks, 130);
  assert.equal(stat.residentBytes, 2560 * 4096);
  assert.equal(readPidStatSync(fs, 100, 101).comm, 'worker');
  assert.equal(readPidStatusSync(fs, 100).vmSwapBytes, 1024 * 1024);
  assert.equal(readPidStatusSync(fs, 100, 101).nonvoluntaryCtxtSwitches, 30);
  assert.equal(readPidIoSync(fs, 100).writeBytes, 12288);
  assert.equal(readPidIoSync(fs, 100, 101).writeBytes, 4096);
  assert.equal(readPidLimitsSync(fs, 100).openFilesSoft, 1024);
  assert.equal(readSmapsRollupSync(fs, 100).pssBytes, 6144 * 1024);
  assert.equal(readWchanSync(fs, 100), 'do_epoll_wait');
  assert.equal(readWchanSync(fs, 100, 101), '');
  assert.deepEqual(readFdTableSync(fs, 100, true), { count: 7, socketInodes: [1001, 1002, 1003, 9999] });
  assert.deepEqual(readFdTableSync(fs, 100, false), { count: 7, socketInodes: [] });
  assert.deepEqual(readPidCgroupSync(fs, 100).map((c) => c.path), ['/system.slice/webserver.service']);
  assert.equal(readNetNsSync(fs, 100), 'net:[4026531840]');
  assert.deepEqual(listTasksSync(fs, 100), [100, 101, 102]);
  assert.deepEqual(readCmdlineSync(fs, 100), ['/usr/sbin/webserver', '--config', '/etc/web.conf']);
  assert.deepEqual(readCmdlineSync(fs, 2), []);
  assert.equal(readProcStatSync(fs).bootTimeSeconds, 1_700_000_000);
});

test('a file that is gone reads as vanished (ENOENT), never as empty', () => {
  assert.throws(() => readPidStatusSync(fs, 300), (err: unknown) => isVanished(err));
  assert.throws(() => readFdTableSync(fs, 400, true), (err: unknown) => isVanished(err));
  assert.throws(() => fs.readSync('99999/stat'), (err: unknown) => isVanished(err));
});

test('ProcFs.readSync reads past its initial buffer and honours the cap', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'procfs-read-'));
  try {
    const big = 'x'.repeat(100_000) + 'end';
    writeFileSync(path.join(dir, 'big'), big);
    const tmp = new ProcFs(dir);
    assert.equal(tmp.readSync('big'), big);
    assert.equal(tmp.readSync('big', 100), 'x'.repeat(100));
    assert.equal(tmp.readSync('big', 100_000, 'latin1'), 'x'.repeat(100_000));
    writeFileSync(path.join(dir, 'small'), 'ab');
    assert.equal(tmp.readSync('small'), 'ab'); // the reused buffer holds no stale bytes
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ProcFs.readSync takes a short read as the end: one read, no second one to see EOF', () => {
  // a FIFO whose writer wrote a few bytes and stays open: a second read would fail with EAGAIN
  // (O_NONBLOCK), so the text comes back only if the short first read is taken as the whole file
  const dir = mkdtempSync(path.join(tmpdir(), 'procfs-short-'));
  const fifo = path.join(dir, 'status');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, String(made.stderr));
  const writer = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    writeSync(writer, 'Name:\tx\n');
    assert.equal(new ProcFs(dir).readSync('status'), 'Name:\tx\n');
  } finally {
    closeSync(writer);
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidStatus } from '../../src/procfs/pid-status';

const LIVE = [
  'Name:\tnginx: worker',
  'Umask:\t0022',
  'State:\tS (sleeping)',
  'Tgid:\t4242',
  'Pid:\t4242',
  'PPid:\t4200',
  'Uid:\t33\t34\t35\t36',
  'Gid:\t33\t33\t33\t33',
  'VmRSS:\t   10240 kB',
  'VmSwap:\t     128 kB',
  'Threads:\t4',
  'voluntary_ctxt_switches:\t123',
  'nonvoluntary_ctxt_switches:\t45',
  '',
].join('\n');

test('parsePidStatus reads ids, swap in bytes and context switches', () => {
  const s = parsePidStatus(LIVE);
  assert.equal(s.name, 'nginx: worker'); // a colon inside the value is kept
  assert.equal(s.state, 'S');
  assert.equal(s.tgid, 4242);
  assert.equal(s.ppid, 4200);
  assert.deepEqual(s.uids, [33, 34, 35, 36]); // real, effective, saved, fs
  assert.equal(s.uids[1], 34);
  assert.equal(s.threads, 4);
  assert.equal(s.vmSwapBytes, 128 * 1024);
  assert.equal(s.voluntaryCtxtSwitches, 123);
  assert.equal(s.nonvoluntaryCtxtSwitches, 45);
});

test('parsePidStatus: no VmSwap line (kernel thread, zombie) is undefined, not 0', () => {
  const s = parsePidStatus(LIVE.replace('VmSwap:\t     128 kB\n', ''));
  assert.equal(s.vmSwapBytes, undefined);
});

test('parsePidStatus throws on truncated text', () => {
  assert.throws(() => parsePidStatus('Name:\tx\nState:\tS (sleeping)\n'), /malformed status/);
  assert.throws(() => parsePidStatus(''), /malformed status/);
});

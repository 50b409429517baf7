import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidCgroup } from '../../src/procfs/pid-cgroup';
import { parseWchan } from '../../src/procfs/pid-wchan';
import { parseProcStat } from '../../src/procfs/proc-stat';
import { readdirSync, readFileSync } from 'node:fs';
import { isKernelThread, PAGE_SIZE, parsePidStat } from '../../src/procfs/pid-stat';

test('parsePidCgroup keeps file order, v1 controllers, and colons inside paths', () => {
  assert.deepEqual(parsePidCgroup('4:memory:/process_api/9bb0\n1:cpu,cpuacct:/\n0::/a:b\n'), [
    { hierarchyId: 4, controllers: ['memory'], path: '/process_api/9bb0' },
    { hierarchyId: 1, controllers: ['cpu', 'cpuacct'], path: '/' },
    { hierarchyId: 0, controllers: [], path: '/a:b' },
  ]);
  assert.throws(() => parsePidCgroup('garbage\n'), /malformed cgroup/);
});

test('parseWchan: "0" (running, or no ptrace access) means none', () => {
  const cases: Array<[string, string]> = [
    ['do_epoll_wait', 'do_epoll_wait'],
    ['0', ''],
    ['', ''],
    ['poll_schedule_timeout.constprop.0', 'poll_schedule_timeout.constprop.0'],
  ];
  for (const [text, want] of cases) assert.equal(parseWchan(text), want, text);
});

test('parseProcStat finds btime among per-cpu lines', () => {
  assert.deepEqual(parseProcStat('cpu  1 2 3\ncpu0 1 2 3\nbtime 1795308165\nprocesses 10430\n'), { bootTimeSeconds: 1795308165, forksSinceBoot: 10430 });
  assert.throws(() => parseProcStat('cpu  1 2 3\n'), /no btime/);
});

test('isKernelThread reads PF_KTHREAD from stat flags', () => {
  const line = (flags: number): string =>
    `2 (kthreadd) S 0 0 0 0 -1 ${flags} 0 0 0 0 0 5 0 0 20 0 1 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0`;
  assert.equal(isKernelThread(parsePidStat(line(0x208040))), true);
  assert.equal(isKernelThread(parsePidStat(line(0x400100))), false);
  assert.equal(isKernelThread(parsePidStat(line(0x80208040))), true); // bit 31 set: still unsigned-safe
  assert.equal(parsePidStat(line(4194304)).flags, 4194304);
});

test('parsePidStat: comm with spaces and parentheses, ticks kept as ticks, rss in bytes, clear errors', () => {
  assert.deepEqual(parsePidStat('12 (x) y) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22'), {
    pid: 12,
    comm: 'x) y',
    state: 'R',
    ppid: 1,
    flags: 6,
    minorFaults: 7,
    majorFaults: 9,
    userTicks: 11,
    systemTicks: 12,
    numThreads: 17,
    startTicks: 19,
    virtualBytes: 20,
    residentBytes: 21 * PAGE_SIZE,
  });
  const tab = parsePidStat('7 (tab\tname) D 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0\n');
  assert.equal(tab.comm, 'tab\tname');
  assert.equal(tab.state, 'D');
  assert.equal(tab.startTicks, 5);
  // u64 fields past the ones we keep (rsslim) do not matter; a trailing newline ends the last field
  assert.equal(parsePidStat('5 (z) S 1 1 1 0 -1 4194560 10 0 2 0 1 2 0 0 20 0 1 0 100 4096 10 18446744073709551615\n').residentBytes, 10 * PAGE_SIZE);
  assert.throws(() => parsePidStat('garbage'), /malformed stat: no \(comm\)/);
  assert.throws(() => parsePidStat('x (a) S 1'), /malformed stat: bad pid/);
  assert.throws(() => parsePidStat('1 (a b) c) S 0'), /malformed stat: field 9 is undefined/);
  assert.throws(() => parsePidStat('9 (n) S 1 1 1 0 -1 x 0 0 0'), /malformed stat: field 9 is "x"/);
  assert.throws(() => parsePidStat(''), /malformed stat/);
});

test('parsePidStat reads every live stat of this host', () => {
  let parsed = 0;
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let text: string;
    try {
      text = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue; // exited
    }
    const st = parsePidStat(text);
    assert.equal(st.pid, Number(p), text);
    assert.ok(Number.isInteger(st.userTicks) && Number.isInteger(st.startTicks), text);
    parsed++;
  }
  assert.ok(parsed > 3);
});

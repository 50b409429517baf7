import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidCgroup } from '../../src/procfs/pid-cgroup';
import { parseWchan } from '../../src/procfs/pid-wchan';
import { parseProcStat } from '../../src/procfs/proc-stat';
import { readdirSync, readFileSync } from 'node:fs';
import { isKernelThread, parsePidStat, parsePidStatFast } from '../../src/procfs/pid-stat';

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

test('parsePidStatFast gives parsePidStat results, errors included, on odd lines and on every live stat', () => {
  const odd = [
    '1 (a b) c) S 0',
    '12 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22',
    'garbage',
    '5 (z) S 1 1 1 0 -1 4194560 10 0 2 0 1 2 0 0 20 0 1 0 100 4096 10 18446744073709551615\n',
    '7 (tab\tname) D 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0\n',
  ];
  const live = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        return [readFileSync(`/proc/${p}/stat`, 'utf8')];
      } catch {
        return []; // exited
      }
    });
  assert.ok(live.length > 3);
  const run = (f: (t: string) => unknown, t: string): string => {
    try {
      return JSON.stringify(f(t));
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };
  for (const t of [...odd, ...live]) assert.equal(run(parsePidStatFast, t), run(parsePidStat, t), t);
});

/**
 * Drop-in check against the real thing: Debian's process-exporter 0.7.10 and
 * our daemon run on this host with the same process_names file (and then the
 * same -procnames), over the same idle children. Compared:
 * - the namedprocess_namegroup_* families: names, types, HELP, label names
 *   (ours add our pid, effective_username, netstat; the scrape error
 *   counters carry _total);
 * - group names, including every 0.7.10 template field and -children;
 * - values of the idle, long-lived children: processes, threads, fds, states
 *   and start time exactly, memory within 5%.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseExposition, type Exposition } from '../helpers/exposition';
import { get } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { killAndWait } from '../helpers/processes';
import { sleep, waitFor } from '../helpers/wait';
import { PROCESS_EXPORTER_RENAMES, ADDITIONS } from '../../src/metrics/namedprocess';

const PE = '/usr/bin/prometheus-process-exporter';
const MAIN = path.resolve(__dirname, '../../src/main.js');
const PREFIX = 'namedprocess_namegroup_';

const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'compat-'));
after(() => {
  // SIGTERM first: the parent child kills its own child on SIGTERM
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Scrapes until every expected group is there (and, for ours, a second sample has run). */
async function scrapeWhen(url: string, groups: readonly string[], what: string): Promise<Exposition> {
  return waitFor(
    what,
    async () => {
      const r = await get(url);
      if (r.status !== 200) return undefined;
      const e = parseExposition(r.body);
      const names = new Set(e.samples.filter((s) => s.name === `${PREFIX}num_procs`).map((s) => s.labels.groupname));
      return groups.every((g) => names.has(g)) ? e : undefined;
    },
    30_000,
    250,
  );
}

function groupsOf(e: Exposition): string[] {
  return e.samples.filter((s) => s.name === `${PREFIX}num_procs`).map((s) => s.labels.groupname!).sort();
}

function v(e: Exposition, name: string, labels: Record<string, string>): number | undefined {
  const found = e.samples.filter((s) => s.name === PREFIX + name && Object.entries(labels).every(([k, val]) => s.labels[k] === val));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} is ambiguous`);
  return found[0]?.value;
}

function families(e: Exposition): Map<string, { type: string; labels: string[]; help: string }> {
  const out = new Map<string, { type: string; labels: string[]; help: string }>();
  for (const [name, type] of e.types) {
    if (!name.startsWith('namedprocess_')) continue;
    const labels = new Set<string>();
    for (const s of e.samples) if (s.name === name) for (const k of Object.keys(s.labels)) labels.add(k);
    out.set(name, { type, labels: [...labels].sort(), help: e.helps.get(name) ?? '' });
  }
  return out;
}

const skip = existsSync(PE) ? false : `${PE} not installed (apt-get install prometheus-process-exporter); CI installs it`;

test('same config file: same families, types, labels, group names and idle values as process-exporter 0.7.10', { skip, timeout: 90_000 }, async (t) => {
  // idle children, each picked by one rule (durations are markers: sleep takes fractions)
  const sleeps = [run('sleep', ['3607.1']), run('sleep', ['3607.2']), run('sleep', ['3607.3'])];
  const capture = run('sleep', ['3608.25']);
  const perPid = run('sleep', ['3609']);
  const templated = run('/bin/sleep', ['3610']);
  const cgroups = run('sleep', ['3611']);
  // a parent the config names, with a child no rule names: -children puts it in the parent's group
  // (it kills its child when it gets SIGTERM, so no sleep outlives the test)
  const parent = run(process.execPath, [
    '-e',
    "process.title = 'ohr-parent'; const k = require('child_process').spawn('sleep', ['3612'], { stdio: 'ignore' }); process.on('SIGTERM', () => { k.kill('SIGKILL'); process.exit(0); }); setInterval(() => {}, 1 << 30);",
  ]);
  // multi-threaded and idle: workers first, then the title (threads inherit their creator's name)
  const mt = run(process.execPath, [
    '-e',
    "const { Worker } = require('worker_threads'); for (let i = 0; i < 2; i++) new Worker('setInterval(() => {}, 1 << 30)', { eval: true }); setTimeout(() => { process.title = 'ohr-compat-mt'; }, 200); setInterval(() => {}, 1 << 30);",
  ]);
  await sleep(800);

  const config = path.join(dir, 'compat.yaml');
  writeFileSync(
    config,
    [
      'process_names:',
      '  - name: "compat-sleep"',
      "    cmdline: ['^sleep 3607\\.\\d$']",
      '  - name: "cap-{{.Matches.d}}-{{.Matches.missing}}"',
      "    cmdline: ['^sleep 3608\\.(?P<d>\\d+)$']",
      '  - name: "{{.Comm}}_{{.PID}}"',
      '    comm: [sleep]',
      "    cmdline: ['^sleep 3609$']",
      '  - name: "st={{.StartTime}}|u={{.Username}}|{{.ExeFull}}|{{.ExeBase}}"',
      '    exe: [/bin/sleep]',
      '  - name: "cg-{{.Cgroups}}"',
      "    cmdline: ['^sleep 3611$']",
      '  - name: "{{.Comm}}"',
      '    comm: [ohr-parent, ohr-compat-mt]',
      '',
    ].join('\n'),
  );
  const pePort = await freePort();
  const ourPort = await freePort();
  const pe = run(PE, ['-web.listen-address', `127.0.0.1:${pePort}`, '-config.path', config]);
  const ours = run(process.execPath, [
    MAIN,
    `--web.listen-address=127.0.0.1:${ourPort}`,
    `--config.path=${config}`,
    '--metrics.exporter=prometheus',
    '--process.sample-interval=1s',
  ]);
  const expected = ['compat-sleep', 'cap-25-<no value>', `sleep_${perPid.pid}`, 'ohr-parent', 'ohr-compat-mt'];
  const peText = await scrapeWhen(`http://127.0.0.1:${pePort}/metrics`, expected, 'process-exporter groups');
  await scrapeWhen(`http://127.0.0.1:${ourPort}/metrics`, expected, 'our groups');
  await sleep(1200); // one more sample of ours: values settle like process-exporter's second scrape
  const pe2 = await scrapeWhen(`http://127.0.0.1:${pePort}/metrics`, expected, 'process-exporter groups');
  const our = await scrapeWhen(`http://127.0.0.1:${ourPort}/metrics`, expected, 'our groups');
  assert.ok(peText.samples.length > 0);

  // --- group names: every one process-exporter made, and no other
  const peGroups = groupsOf(pe2);
  t.diagnostic(`groups: ${peGroups.join(' | ')}`);
  assert.deepEqual(groupsOf(our), peGroups);
  assert.ok(peGroups.some((g) => /^st=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\|u=\w+\|\/bin\/sleep\|sleep$/.test(g)), `StartTime group in ${peGroups.join(', ')}`);
  assert.ok(peGroups.some((g) => g.startsWith('cg-[')), 'Cgroups group');

  // --- families: names, types, HELP and label names
  const pf = families(pe2);
  const of = families(our);
  t.diagnostic(`process-exporter families: ${pf.size}; ours: ${of.size}`);
  assert.equal(pf.size, 23, 'every 0.7.10 family, thread ones included');
  for (const [name, f] of pf) {
    const ourName = PROCESS_EXPORTER_RENAMES[name] ?? name;
    const o = of.get(ourName);
    assert.ok(o, `family ${name} (as ${ourName}) missing from ours`);
    assert.equal(o.type, f.type, `${name} type`);
    assert.equal(o.help, f.help, `${name} HELP`);
    assert.deepEqual(o.labels, f.labels, `${name} label names`);
  }
  const renamed = new Set(Object.values(PROCESS_EXPORTER_RENAMES));
  for (const name of of.keys()) {
    if (pf.has(name) || renamed.has(name)) continue;
    assert.ok(ADDITIONS.includes(name), `family ${name} is neither process-exporter's nor a documented addition`);
  }
  assert.ok(pf.has(`${PREFIX}thread_count`), 'the multi-threaded child brings the thread families into the comparison');

  // --- values of the idle children
  const exact = (group: string, name: string, labels: Record<string, string> = {}): void => {
    const want = v(pe2, name, { groupname: group, ...labels });
    assert.notEqual(want, undefined, `process-exporter has ${name} for ${group}`);
    assert.equal(v(our, name, { groupname: group, ...labels }), want, `${group} ${name} ${JSON.stringify(labels)}`);
  };
  const close = (group: string, name: string, labels: Record<string, string>): void => {
    const want = v(pe2, name, { groupname: group, ...labels })!;
    const got = v(our, name, { groupname: group, ...labels })!;
    assert.ok(Math.abs(got - want) <= Math.max(want * 0.05, 8192), `${group} ${name} ${JSON.stringify(labels)}: ours ${got}, process-exporter ${want}`);
  };
  for (const g of peGroups) {
    for (const name of ['num_procs', 'num_threads', 'open_filedesc', 'oldest_start_time_seconds', 'worst_fd_ratio']) exact(g, name);
    for (const memtype of ['resident', 'virtual', 'swapped', 'proportionalResident', 'proportionalSwapped']) close(g, 'memory_bytes', { memtype });
  }
  assert.equal(v(our, 'num_procs', { groupname: 'compat-sleep' }), 3);
  assert.equal(v(our, 'num_procs', { groupname: 'ohr-parent' }), 2, 'the unnamed child joined its parent');
  for (const g of ['compat-sleep', 'ohr-parent', `sleep_${perPid.pid}`]) {
    for (const state of ['Running', 'Sleeping', 'Waiting', 'Zombie', 'Other']) exact(g, 'states', { state });
  }
  const threads = v(pe2, 'num_threads', { groupname: 'ohr-compat-mt' })!;
  assert.ok(threads >= 3);
  exact('ohr-compat-mt', 'thread_count', { threadname: 'ohr-compat-mt' });
  exact('ohr-compat-mt', 'thread_count', { threadname: 'node' });
  const stateSum = (e: Exposition): number => e.samples.filter((s) => s.name === `${PREFIX}states` && s.labels.groupname === 'ohr-compat-mt').reduce((a, s) => a + s.value, 0);
  assert.equal(stateSum(our), stateSum(pe2), 'states count the process and every task, as process-exporter does');

  await Promise.all([killAndWait(ours, 'SIGTERM'), killAndWait(pe, 'SIGTERM'), killAndWait(parent, 'SIGTERM')]);
  for (const c of [...sleeps, capture, perPid, templated, cgroups, mt]) c.kill('SIGKILL');
});

test('same -procnames: same group names', { skip, timeout: 60_000 }, async () => {
  const mt = run(process.execPath, ['-e', "process.title = 'ohr-procnames'; setInterval(() => {}, 1 << 30);"]);
  const kid = run(process.execPath, ['-e', "process.title = 'ohr-pn-kid'; setInterval(() => {}, 1 << 30);"]);
  await sleep(500);
  const pePort = await freePort();
  const ourPort = await freePort();
  const pe = run(PE, ['-web.listen-address', `127.0.0.1:${pePort}`, '-procnames', 'ohr-procnames,ohr-pn-kid,ohr-absent']);
  const ours = run(process.execPath, [MAIN, `--web.listen-address=127.0.0.1:${ourPort}`, '--procnames=ohr-procnames,ohr-pn-kid,ohr-absent', '--metrics.exporter=prometheus', '--process.sample-interval=1s']);
  const want = ['ohr-pn-kid', 'ohr-procnames'];
  const peE = await scrapeWhen(`http://127.0.0.1:${pePort}/metrics`, want, 'process-exporter groups');
  const ourE = await scrapeWhen(`http://127.0.0.1:${ourPort}/metrics`, want, 'our groups');
  assert.deepEqual(groupsOf(ourE), groupsOf(peE));
  assert.deepEqual(groupsOf(ourE), want, 'a listed name without a process has no group in either');
  for (const g of want) assert.equal(v(ourE, 'num_threads', { groupname: g }), v(peE, 'num_threads', { groupname: g }));
  await Promise.all([killAndWait(ours, 'SIGTERM'), killAndWait(pe, 'SIGTERM')]);
  mt.kill('SIGKILL');
  kid.kill('SIGKILL');
});

test('same cmdline regexes: RE2 flags, classes, captures and duplicate names name the same groups as process-exporter 0.7.10', { skip, timeout: 60_000 }, async () => {
  // each child's whole cmdline is one argument of our choosing: cat waiting on a pipe we never close
  const argvs = [
    'ohrre2-ci JAVA',
    'ohrre2-kelvin \u212a', // KELVIN SIGN folds with k in Go
    'ohrre2-space a\u00a0b', // no-break space: not \s in Go
    'ohrre2-ungreedy aaa',
    'ohrre2-dup 42',
    'ohrre2-cfg /opt/x --port 1 --config=/etc/app.yml',
    'ohrre2-posix héllo',
    'ohrre2-q a.b',
    'ohrre2-flags Java -JAR',
  ];
  const cats = argvs.map((argv0) => {
    const c = spawn('/bin/cat', [], { argv0, stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(c);
    return c;
  });
  await new Promise((r) => setTimeout(r, 500));
  const config = path.join(dir, 'regex.yaml');
  writeFileSync(
    config,
    String.raw`process_names:
  - name: "ci-{{.Matches.w}}"
    cmdline: ['^ohrre2-ci (?P<w>(?i:java))$']
  - name: "kelvin"
    cmdline: ['(?i)^ohrre2-kelvin k$']
  - name: "space-bad"
    cmdline: ['^ohrre2-space a\sb$']
  - name: "space-{{.Matches.all}}"
    cmdline: ['^ohrre2-space (?P<all>\S+)$']
  - name: "ungreedy-{{.Matches.x}}"
    cmdline: ['(?U)^ohrre2-ungreedy (?P<x>a+)']
  - name: "dup-{{.Matches.v}}-{{.Matches}}"
    cmdline: ['^ohrre2-dup (?:(?P<v>[0-9]+)|(?P<v>[a-z]+))$']
  - name: "cfg-{{.Matches.cfg}}"
    cmdline: ['^ohrre2-cfg (\S+\s*)+--config=(?P<cfg>\S+)$']
  - name: "posix-bad"
    cmdline: ['^ohrre2-posix [[:alpha:]]+$']
  - name: "uni-{{.Matches.w}}"
    cmdline: ['^ohrre2-posix (?P<w>\pL+)$']
  - name: "q"
    cmdline: ['^ohrre2-q \Qa.b\E$']
  - name: "flags"
    cmdline: ['^ohrre2-flags (?i)java(?-i) -JAR', '\bJAR\b']
`,
  );
  const expected = [
    'ci-JAVA',
    'kelvin',
    'space-a\u00a0b',
    'ungreedy-a',
    'dup--map[:ohrre2-dup 42 v:]',
    'cfg-/etc/app.yml',
    'uni-héllo',
    'q',
    'flags',
  ].sort();
  const pePort = await freePort();
  const ourPort = await freePort();
  const pe = run(PE, ['-web.listen-address', `127.0.0.1:${pePort}`, '-config.path', config]);
  const ours = run(process.execPath, [MAIN, `--web.listen-address=127.0.0.1:${ourPort}`, `--config.path=${config}`, '--metrics.exporter=prometheus', '--process.sample-interval=1s']);
  const peE = await scrapeWhen(`http://127.0.0.1:${pePort}/metrics`, expected, 'process-exporter groups');
  const ourE = await scrapeWhen(`http://127.0.0.1:${ourPort}/metrics`, expected, 'our groups');
  assert.deepEqual(groupsOf(peE), expected, 'process-exporter names the children as Go regexp semantics say');
  assert.deepEqual(groupsOf(ourE), groupsOf(peE));
  await Promise.all([killAndWait(ours, 'SIGTERM'), killAndWait(pe, 'SIGTERM')]);
  for (const c of cats) c.kill('SIGKILL');
});

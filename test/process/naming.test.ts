import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigNamer, goBase, parseProcessNames, PerPidNamer, ProcnamesNamer, ProcessNamesError, type ProcAttributes } from '../../src/process/naming';
import { compileTemplate, goTimeString, renderTemplate } from '../../src/process/template';
import { compileGoRegexp, GoRegexpError } from '../../src/process/go-regexp';
import { loadNamer, namerFromText } from '../../src/process/namer-loader';
import { ConfigError } from '../../src/config/options';

function proc(over: Partial<ProcAttributes> = {}): ProcAttributes {
  return {
    comm: 'sleep',
    cmdline: ['/bin/sleep', '77'],
    pid: 7877,
    startTimeMs: Date.UTC(2026, 10, 22, 0, 53, 39, 830), // the sleep 0.7.10 named in the reference run
    username: 'root',
    cgroups: ['/', '/process_api/9bb0'],
    ...over,
  };
}

function namesFor(yaml: string, attrs: ProcAttributes): string | undefined {
  return new ConfigNamer(parseProcessNames(yaml).rules).name(attrs);
}

test('per-pid and procnames namers', () => {
  assert.equal(new PerPidNamer().name(proc()), 'sleep_7877');
  const pn = new ProcnamesNamer(['bash', 'sleep']);
  assert.equal(pn.name(proc()), 'sleep');
  assert.equal(pn.name(proc({ comm: 'cat' })), undefined);
});

test('goBase behaves like Go filepath.Base', () => {
  const cases: Array<[string, string]> = [['/usr/bin/foo', 'foo'], ['foo', 'foo'], ['/a/b/', 'b'], ['', '.'], ['///', '/'], ['-bash', '-bash']];
  for (const [p, want] of cases) assert.equal(goBase(p), want, p);
});

test('goTimeString prints Go time.Time.String() in UTC, fraction trimmed', () => {
  assert.equal(goTimeString(Date.UTC(2026, 10, 22, 0, 53, 39, 830)), '2026-11-22 00:53:39.83 +0000 UTC');
  assert.equal(goTimeString(Date.UTC(2026, 10, 22, 0, 53, 39, 0)), '2026-11-22 00:53:39 +0000 UTC');
  assert.equal(goTimeString(Date.UTC(2026, 0, 2, 3, 4, 5, 10)), '2026-01-02 03:04:05.01 +0000 UTC');
});

test('templates render every 0.7.10 field as the Debian binary does', () => {
  // expected text captured from prometheus-process-exporter 0.7.10 for the same process
  const yaml = [
    'process_names:',
    '  - name: "st={{.StartTime}}|pid={{.PID}}|u={{.Username}}|cg={{.Cgroups}}|eb={{.ExeBase}}|ef={{.ExeFull}}|m={{.Matches.x}}|m2={{.Matches.nope}}"',
    '    comm: [sleep]',
    "    cmdline: ['^(?P<x>\\S+) 77']",
  ].join('\n');
  assert.equal(
    namesFor(yaml, proc()),
    'st=2026-11-22 00:53:39.83 +0000 UTC|pid=7877|u=root|cg=[/ /process_api/9bb0]|eb=sleep|ef=/bin/sleep|m=/bin/sleep|m2=<no value>',
  );
});

test('templates: trim markers, comments, .StartTime.Unix, whole Matches map, unknown fields cut the name', () => {
  // 0.7.10 rendered `a1795309667|sleep||map[:7 n:7]|` for `sleep 79` with this name
  const yaml = [
    'process_names:',
    '  - name: "a{{.StartTime.Unix}}|{{- .Comm -}} |{{/* c */}}|{{.Matches}}|{{.Cwd}}|end"',
    '    comm: [sleep]',
    "    cmdline: ['(\\d+)', '(?P<n>\\d)']",
  ].join('\n');
  const parsed = parseProcessNames(yaml);
  assert.equal(parsed.warnings.length, 1);
  assert.match(parsed.warnings[0]!, /\{\{\.Cwd\}\}/);
  const name = new ConfigNamer(parsed.rules).name(proc({ cmdline: ['sleep', '79'], startTimeMs: 1795309667_450 }));
  assert.equal(name, 'a1795309667|sleep||map[:7 n:7]|');
});

test('selectors: comm, exe by basename or exact path, cmdline AND-list; first rule wins; default name ExeBase', () => {
  const yaml = `
process_names:
  - comm: [bash]
  - exe: [postgres, /usr/local/bin/prometheus]
  - name: "{{.ExeFull}}:{{.Matches.Cfgfile}}"
    exe: [/usr/local/bin/process-exporter]
    cmdline: ['-config.path\\s+(?P<Cfgfile>\\S+)']
  - name: "java-{{.Matches.jar}}"
    cmdline: ['^java ', '-jar (?P<jar>[^ ]+)\\.jar']
  - name: catchall
    cmdline: ['.+']
`;
  const cases: Array<[string, Partial<ProcAttributes>, string | undefined]> = [
    ['comm match, name defaults to ExeBase of argv[0]', { comm: 'bash', cmdline: ['-bash'] }, '-bash'],
    ['exe basename match anywhere', { comm: 'postgres', cmdline: ['/usr/lib/postgresql/16/bin/postgres', '-D', '/x'] }, 'postgres'],
    ['exe with a slash needs the exact argv[0]', { comm: 'prometheus', cmdline: ['/usr/local/bin/prometheus'] }, 'prometheus'],
    ['exe with a slash, other path: falls to catchall', { comm: 'prometheus', cmdline: ['/opt/prometheus'] }, 'catchall'],
    ['exe + cmdline capture', { comm: 'process-exporte', cmdline: ['/usr/local/bin/process-exporter', '-config.path', '/etc/pe.yml'] }, '/usr/local/bin/process-exporter:/etc/pe.yml'],
    ['every cmdline regex must match', { comm: 'java', cmdline: ['java', '-Xmx1g', '-jar', 'app.jar'] }, 'java-app'],
    ['one regex failing: next rule', { comm: 'java', cmdline: ['java', '-version'] }, 'catchall'],
    ['empty cmdline (kernel thread) matches nothing', { comm: 'kworker/0:1', cmdline: [] }, undefined],
  ];
  for (const [label, over, want] of cases) assert.equal(namesFor(yaml, proc(over)), want, label);
});

test('ExeBase and ExeFull fall back to comm when cmdline is empty', () => {
  const yaml = 'process_names:\n  - name: "kt:{{.ExeBase}}:{{.ExeFull}}"\n    comm: [kthreadd]\n';
  assert.equal(namesFor(yaml, proc({ comm: 'kthreadd', cmdline: [] })), 'kt:kthreadd:kthreadd'); // as 0.7.10 renders it
});

test('namer needs: only what rules and templates read', () => {
  assert.deepEqual(new ConfigNamer(parseProcessNames('process_names:\n  - name: "{{.Comm}}"\n    comm: [a]\n').rules).needs, { cmdline: false, username: false, cgroups: false });
  assert.deepEqual(new ConfigNamer(parseProcessNames('process_names:\n  - name: "{{.Username}}{{.Cgroups}}"\n    cmdline: [x]\n').rules).needs, { cmdline: true, username: true, cgroups: true });
});

test('bad files are refused with the item and key named', () => {
  const bad: Array<[string, RegExp]> = [
    ['process_names: [', /not valid YAML/],
    ['other: 1', /process_names: expected a non-empty list/],
    ['process_names:\n  - name: x\n', /process_names\[0\]: no matchers provided/],
    ['process_names:\n  - comm: bash\n', /process_names\[0\]\.comm: expected a list/],
    ["process_names:\n  - cmdline: ['(unclosed']\n", /process_names\[0\]\.cmdline\[0\]: bad regex/],
    ["process_names:\n  - cmdline: ['a(?=b)']\n", /lookaround/],
    ['process_names:\n  - name: "{{.Comm"\n    comm: [a]\n', /process_names\[0\]\.name: bad name template/],
    ['process_names:\n  - name: "{{.Comm | printf \\"%s\\"}}"\n    comm: [a]\n', /unsupported template action/],
    ['process_names:\n  - name: "{{if .Comm}}x{{end}}"\n    comm: [a]\n', /unsupported template action/],
  ];
  for (const [yaml, re] of bad) assert.throws(() => parseProcessNames(yaml), (err: unknown) => err instanceof ProcessNamesError && re.test(err.message), yaml);
  assert.deepEqual(parseProcessNames('process_names:\n  - comm: [a]\n    nmae: typo\n').warnings, ['process_names[0]: unknown key "nmae" ignored']);
});

test('Go RE2 syntax: named groups, flags, \\A \\z, \\Q..\\E, POSIX classes, \\p, Perl classes', () => {
  const cases: Array<[string, string, boolean]> = [
    ['(?P<x>\\d+)', 'a 12', true],
    ['(?<x>\\d+)', 'a 12', true], // Go 1.22+ spelling
    ['(?i)^JAVA', 'java -jar', true],
    ['(?s)a.b', 'a\nb', true],
    ['a.b', 'a\nb', false],
    ['\\Afoo\\z', 'foo', true],
    ['\\Afoo\\z', 'foo bar', false],
    ['\\Qa.b\\E', 'a.b', true],
    ['\\Qa.b\\E', 'axb', false],
    ['^[[:alpha:]]+$', 'abc', true],
    ['^[[:digit:][:space:]]+$', '1 2', true],
    ['^[[:^alpha:]]+$', '1 2', true],
    ['^\\pL+$', 'héllo', true],
    ['^\\p{Greek}+$', 'αβγ', true],
    ['[]a]', ']', true],
    // inline flag groups and flags in the middle, which the JavaScript translation refused
    ['^(?i:java) -jar', 'JAVA -jar x', true],
    ['^(?i:java) -jar', 'JAVA -JAR x', false],
    ['^java(?i) -JAR', 'java -jar', true],
    ['^JAVA(?i) -jar', 'java -jar', false],
    ['(?i)^(?-i:Java)', 'JAVA', false],
    // Go's simple case folding: K folds with the Kelvin sign, as JavaScript's i flag without u does not
    ['(?i)^k$', '\u212a', true],
    // Perl classes are ASCII in Go: no-break space is not \s, Arabic-Indic digits are not \d (JavaScript's \s matches U+00A0)
    ['^\\S+$', 'a\u00a0b', true],
    ['\\s', '\u00a0', false],
    ['\\s', '\v', false],
    ['\\d', '\u0663', false],
    ['^\\w+$', 'a_1', true],
    ['\\bjar\\b', 'x.jar y', true],
    // unanchored search, ^ and $ at the ends of the text unless (?m)
    ['jar', 'java -jar app.jar', true],
    ['^-jar', 'java -jar app.jar', false],
    ['a$', 'a\nb', false],
    ['(?m)a$', 'a\nb', true],
  ];
  for (const [re, input, want] of cases) assert.equal(compileGoRegexp(re).test(input), want, `${re} on ${JSON.stringify(input)}`);
});

test('Go RE2 captures: FindStringSubmatch and SubexpNames, leftmost-first, non-greedy and (?U)', () => {
  const r = compileGoRegexp('(?P<a>x)|(y)(?P<b>z)?');
  assert.deepEqual(r.subexpNames, ['', 'a', '', 'b']);
  assert.deepEqual(r.findSubmatch('--y--'), ['y', '', 'y', '']);
  assert.equal(r.findSubmatch('--'), undefined);
  assert.deepEqual(compileGoRegexp('(a+)(a*)').findSubmatch('aaa'), ['aaa', 'aaa', '']);
  assert.deepEqual(compileGoRegexp('(a+?)(a*)').findSubmatch('aaa'), ['aaa', 'a', 'aa']);
  // (?U) swaps greedy and non-greedy
  assert.deepEqual(compileGoRegexp('(?U)(a+)(a*)').findSubmatch('aaa'), ['a', 'a', '']);
  assert.deepEqual(compileGoRegexp('(?U)(a+?)(a*?)').findSubmatch('aaa'), ['aaa', 'aaa', '']);
  assert.deepEqual(compileGoRegexp('(a|ab)(c|bcd)').findSubmatch('abcd'), ['abcd', 'a', 'bcd']);
  // Go accepts a name used twice; both groups carry it
  const dup = compileGoRegexp('(?P<v>a+)|(?P<v>b+)|[(?P<v>]');
  assert.deepEqual(dup.subexpNames, ['', 'v', 'v']);
  assert.deepEqual(dup.findSubmatch('bb'), ['bb', '', 'bb']);
  assert.equal(dup.test('?'), true, 'the text inside the class stays literal');
});

test('what RE2 refuses is a load error with Go\'s message: lookaround, backreferences, bad syntax', () => {
  const refused: Array<[string, RegExp]> = [
    ['a(?=b)', /invalid or unsupported Perl syntax: `\(\?=`.*no lookaround/],
    ['a(?!b)', /`\(\?!`.*no lookaround/],
    ['(?<=a)b', /invalid named capture: `\(\?<=a\)b`.*no lookaround/],
    ['(?<!a)b', /no lookaround/],
    ['(a)\\1', /invalid escape sequence: `\\1`.*no backreferences/],
    ['(?x) a', /invalid or unsupported Perl syntax: `\(\?x`/],
    ['a**', /invalid nested repetition operator/],
    ['a{1001}', /invalid repeat count/],
    ['\\C', /invalid escape sequence/],
    ['\\u0041', /invalid escape sequence/],
    ['[[:nope:]]', /invalid character class range/],
    ['[a', /missing closing \]/],
    ['(a', /missing closing \)/],
    ['(?P<a-b>x)', /invalid named capture/],
  ];
  for (const [re, message] of refused) {
    assert.throws(() => compileGoRegexp(re), (err: unknown) => err instanceof GoRegexpError && message.test(err.message), re);
  }
  // in a file: the item, the key and the pattern are named
  assert.throws(
    () => parseProcessNames("process_names:\n  - comm: [a]\n  - cmdline: ['x', '(?<=java )-jar']\n"),
    (err: unknown) => err instanceof ProcessNamesError && err.message.startsWith('process_names[1].cmdline[1]: bad regex "(?<=java )-jar": invalid named capture') && /lookaround/.test(err.message),
  );
});

test('named groups feed templates with (?i), (?i:...), anchors, duplicate names and several regexes', () => {
  const yaml = `
process_names:
  - name: "jvm:{{.Matches.main}}"
    cmdline: ['(?i)^\\S*/JAVA\\s', '\\s(?P<main>\\w+(?:\\.\\w+)+)$']
  - name: "pg:{{.Matches.cluster}}"
    cmdline: ['^(?i:postgres(?:ql)?): (?P<cluster>\\w+)']
  - name: "dup:{{.Matches.v}}|{{.Matches}}"
    cmdline: ['^dup (?:(?P<v>[0-9]+)|(?P<v>[a-z]+))$']
  - name: "cfg:{{.Matches.cfg}}"
    cmdline: ['^(\\S+\\s*)+--config=(?P<cfg>\\S+)$']
`;
  const cases: Array<[string[], string | undefined]> = [
    [['/usr/lib/jvm/bin/Java', '-Xmx1g', 'org.example.Main'], 'jvm:org.example.Main'],
    [['/usr/lib/jvm/bin/java', 'org.example.Main', '--x'], undefined],
    [['PostgreSQL: main', 'checkpointer'], 'pg:main'],
    [['postgres: 16', 'main'], 'pg:16'],
    [['xpostgres: main'], undefined],
    // Go fills the map in SubexpNames order: the last group named v wins, even when it took no part
    [['dup', '42'], 'dup:|map[:dup 42 v:]'],
    [['dup', 'ab'], 'dup:ab|map[:dup ab v:ab]'],
    [['/opt/app', '--port', '1', '--config=/etc/app.yml'], 'cfg:/etc/app.yml'],
    [['/opt/app', '--config=/etc/app.yml', '--port', '1'], undefined],
  ];
  for (const [cmdline, want] of cases) assert.equal(namesFor(yaml, proc({ cmdline })), want, cmdline.join(' '));
});

test('matching time is linear: backtracking-prone patterns over hostile 64 KiB command lines return (in a worker, watched)', async () => {
  // a backtracking engine never returns on these; a blocked thread cannot be timed out from
  // inside, so the work runs in a worker that is terminated if it has not answered in 60 s
  const naming = require.resolve('../../src/process/naming');
  const code = `
    const { parentPort } = require('node:worker_threads');
    const { ConfigNamer, parseProcessNames } = require(${JSON.stringify(naming)});
    const yaml = "process_names:\\n" +
      "  - name: nested\\n    cmdline: ['(a+)+$']\\n" +
      "  - name: 'cfg-{{.Matches.cfg}}'\\n    cmdline: ['^(\\\\S+\\\\s*)+--config=(?P<cfg>\\\\S+)$']\\n" +
      "  - name: alt\\n    cmdline: ['^(a|aa)+$', '(x+x+)+y']\\n" +
      "  - name: other\\n    cmdline: ['.']\\n";
    const namer = new ConfigNamer(parseProcessNames(yaml).rules);
    const base = { comm: 'x', pid: 1, startTimeMs: 0, username: 'u', cgroups: [] };
    const names = [
      ['a'.repeat(65535) + 'b'],
      Array.from({ length: 8000 }, (_, i) => 'w' + i).concat(['--config']),
      ['x'.repeat(65535)],
    ].map((cmdline) => namer.name({ ...base, cmdline }));
    parentPort.postMessage(names);
  `;
  const worker = new Worker(code, { eval: true });
  try {
    const names = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('naming did not return within 60 s: the regex engine backtracks')), 60_000);
      worker.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    assert.deepEqual(names, ['other', 'other', 'other']);
  } finally {
    await worker.terminate();
  }
});

test('a template is rendered per process; captures are values, not matcher state', () => {
  const t = compileTemplate('{{.Matches.n}}');
  const base = { comm: 'c', exeBase: 'c', exeFull: 'c', username: 'u', pid: 1, startTimeMs: 0, cgroups: [] };
  assert.equal(renderTemplate(t, { ...base, matches: new Map([['n', '1']]) }), '1');
  assert.equal(renderTemplate(t, { ...base, matches: new Map() }), '<no value>');
});

test('loadNamer: file, procnames, default, and ConfigError naming --config.path', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pn-'));
  try {
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n');
    const base = { procnames: [] as string[], removeEmptyGroups: false };
    assert.equal(loadNamer({ ...base, processConfigPath: good }).namer.kind, 'config');
    assert.equal(loadNamer({ ...base, processConfigPath: undefined }).namer.kind, 'per-pid');
    assert.equal(loadNamer({ ...base, processConfigPath: undefined, procnames: ['bash'] }).namer.kind, 'procnames');
    const isConfigPathError = (err: unknown): boolean => err instanceof ConfigError && err.key === '--config.path';
    assert.throws(() => loadNamer({ ...base, processConfigPath: path.join(dir, 'missing.yaml') }), isConfigPathError);
    assert.throws(() => loadNamer({ ...base, processConfigPath: good, procnames: ['x'] }), isConfigPathError);
    writeFileSync(path.join(dir, 'bad.yaml'), 'process_names: []\n');
    assert.throws(() => loadNamer({ ...base, processConfigPath: path.join(dir, 'bad.yaml') }), (err: unknown) => isConfigPathError(err) && /bad\.yaml/.test((err as Error).message));
    assert.equal(namerFromText('process_names:\n  - comm: [a]\n', true).namer.removeEmptyGroups, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** --expect.file: what is accepted and how a mistake is named (file and entry). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadExpectFile, parseExpectFile } from '../../src/config/expect-file';
import { ConfigError } from '../../src/config/options';
import { tempDir } from '../helpers/tmp';

test('the example of the README parses; protocol defaults to tcp; an empty file expects nothing', () => {
  const e = parseExpectFile(`ports:
  - {port: 5432, protocol: tcp, process_name: postgres, exe_path: /usr/lib/postgresql/15/bin/postgres}
  - {port: 53, protocol: udp, process_name: dnsmasq}
  - {port: 8080, process_name: java}
process_groups: [nginx, postgres, nginx]
`);
  assert.deepEqual(e.ports, [
    { protocol: 'tcp', port: 5432, processName: 'postgres', exePath: '/usr/lib/postgresql/15/bin/postgres' },
    { protocol: 'udp', port: 53, processName: 'dnsmasq', exePath: undefined },
    { protocol: 'tcp', port: 8080, processName: 'java', exePath: undefined },
  ]);
  assert.deepEqual(e.processGroups, ['nginx', 'postgres']);
  assert.deepEqual(parseExpectFile(''), { ports: [], processGroups: [] });
});

test('each mistake names the entry', () => {
  const cases: Array<[string, RegExp]> = [
    ['ports: [{port: 0, process_name: a}]', /ports\[0\]: "port" must be an integer 1\.\.65535$/],
    ['ports: [{port: 1, process_name: a}, {port: "22", process_name: b}]', /ports\[1\]: "port" must be/],
    ['ports: [{port: 1, protocol: sctp, process_name: a}]', /ports\[0\]: "protocol" must be tcp or udp$/],
    ['ports: [{port: 1}]', /ports\[0\]: "process_name" is required/],
    ['ports: [{port: 1, process_name: a, exe_path: bin/a}]', /ports\[0\]: "exe_path" must be an absolute path$/],
    ['ports: [{port: 1, process_name: a, exe: /a}]', /ports\[0\]: unknown key "exe"/],
    ['ports: [{port: 1, process_name: a}, {port: 1, process_name: b}]', /ports\[1\]: tcp port 1 is already expected by ports\[0\]$/],
    ['process_groups: [nginx, ""]', /process_groups\[1\]: must be a non-empty group name$/],
    ['process_groups: nginx', /"process_groups" must be a list/],
    ['port: 1', /unknown key "port"/],
    ['ports: [{port: 1, process_name: a}', /bad YAML/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseExpectFile(text), re, text);
});

test('loadExpectFile: ConfigError naming --expect.file and the file', () => {
  const dir = tempDir('expect-unit').dir;
  const f = path.join(dir, 'e.yml');
  writeFileSync(f, 'ports: [{port: 99999, process_name: a}]\n');
  assert.throws(() => loadExpectFile(f), (err: unknown) => err instanceof ConfigError && err.message === `--expect.file: ${JSON.stringify(f)}: ports[0]: "port" must be an integer 1..65535`);
  assert.throws(() => loadExpectFile(path.join(dir, 'missing.yml')), /--expect\.file: cannot read ".*missing\.yml": ENOENT/);
});

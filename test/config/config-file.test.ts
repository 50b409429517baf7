/**
 * readConfigFile, the one reader of operator-supplied files, and the exit-2
 * line each loader gives for a file over the cap. (FIFOs, which must not be
 * opened in this process, are in test/hardening/hostile-files.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE_MAX_BYTES, ConfigFileError, readConfigFile } from '../../src/config/config-file';
import { MAIN_JS, repoPath, tempDir } from '../helpers/pipelines';

const FIXTURE = repoPath('test', 'fixtures', 'proc-process', 'proc');

/** `text` padded with comment lines to exactly `bytes` bytes. */
function padded(text: string, bytes: number): string {
  const line = `#${'x'.repeat(98)}\n`;
  let out = text;
  while (out.length + line.length <= bytes) out += line;
  return out + '#'.repeat(bytes - out.length);
}

test('readConfigFile reads a regular file up to the cap and refuses one byte more', () => {
  const dir = tempDir('config-file');
  const at = path.join(dir, 'at-cap');
  const over = path.join(dir, 'over-cap');
  writeFileSync(at, padded('a: 1\n', CONFIG_FILE_MAX_BYTES));
  writeFileSync(over, padded('a: 1\n', CONFIG_FILE_MAX_BYTES + 1));
  assert.equal(readConfigFile(at).length, CONFIG_FILE_MAX_BYTES);
  assert.throws(() => readConfigFile(over), (err: unknown) => err instanceof ConfigFileError && err.reason === 'larger than the 1 MiB (1048576 bytes) cap');
  assert.equal(readConfigFile(over, 2 * CONFIG_FILE_MAX_BYTES).length, CONFIG_FILE_MAX_BYTES + 1);
  writeFileSync(path.join(dir, 'utf8'), 'naïve ☃\n');
  assert.equal(readConfigFile(path.join(dir, 'utf8')), 'naïve ☃\n');
});

test('readConfigFile names what is wrong: missing, a directory', () => {
  const dir = tempDir('config-file');
  mkdirSync(path.join(dir, 'sub'));
  assert.throws(() => readConfigFile(path.join(dir, 'nope')), (err: unknown) => err instanceof ConfigFileError && err.reason === 'ENOENT');
  assert.throws(() => readConfigFile(path.join(dir, 'sub')), (err: unknown) => err instanceof ConfigFileError && err.reason === 'not a regular file (a directory)');
});

test('a config file over 1 MiB: exit 2 with one line naming the file and the cap', () => {
  const dir = tempDir('config-big');
  const big = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, padded(text, CONFIG_FILE_MAX_BYTES + 1));
    return file;
  };
  // each file is valid apart from its size, so only the cap can refuse it
  const names = big('names.yml', 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n');
  const exclude = big('exclude.txt', 'sshd\n');
  const web = big('web.yml', 'http_server_config:\n  http2: true\n');
  const cap = 'larger than the 1 MiB \\(1048576 bytes\\) cap';
  const cases: Array<[string[], RegExp]> = [
    [[`--config.path=${names}`], new RegExp(`^otel-host-receiver: --config\\.path: cannot read "${names}": ${cap}$`)],
    [[`--exclude.process-names-file=${exclude}`], new RegExp(`^otel-host-receiver: --exclude\\.process-names-file: cannot read "${exclude}": ${cap}$`)],
    [[`--web.config.file=${web}`], new RegExp(`^otel-host-receiver: --web\\.config\\.file: ${web}: cannot read: ${cap}$`)],
  ];
  for (const [args, re] of cases) {
    // --once for the files read at construction: without the cap it would print a page and exit 0
    const once = args[0]!.startsWith('--web.') ? ['--web.listen-address=127.0.0.1:0'] : ['--once'];
    const r = spawnSync(process.execPath, [MAIN_JS, ...once, `--path.procfs=${FIXTURE}`, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 2, `${args}: ${r.signal ?? ''} ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), re);
  }
});

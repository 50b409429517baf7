/**
 * yaml, re2js and bcryptjs load on first use (src/util/lazy.ts): a daemon
 * started without config files, regex matchers or basic auth never holds
 * them. Loading every module the daemon imports at start must not load them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const DIST_SRC = path.resolve(__dirname, '../../src');

test('the modules of a default start do not load yaml, re2js or bcryptjs; a config file does load yaml', () => {
  const loaded = (code: string): string[] => {
    const out = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout) as string[];
  };
  const list = "process.stdout.write(JSON.stringify(Object.keys(require.cache).map((k) => /node_modules\\/(yaml|re2js|bcryptjs)\\//.exec(k)?.[1]).filter(Boolean)))";
  const start = `require(${JSON.stringify(path.join(DIST_SRC, 'daemon.js'))}); require(${JSON.stringify(path.join(DIST_SRC, 'export/web-access.js'))}); ${list}`;
  assert.deepEqual(loaded(start), []);
  // the loader itself works: a first use loads the module
  const used = `require(${JSON.stringify(path.join(DIST_SRC, 'util/lazy.js'))}).yaml().parse('a: 1'); ${list}`;
  assert.ok(loaded(used).includes('yaml'));
});

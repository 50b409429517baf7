/**
 * The repository stands alone: code, tests, configs and the README give the
 * reason itself or a public reference, never a file a user of this repository
 * does not have (a sibling folder of the checkout, the documents the project
 * was started from).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/pipelines';

// built from parts so that this file does not match itself
const OUTSIDE = new RegExp(['\\.\\./sh', 'ared/', '|\\bse', 'eds?/|\\bse', 'ed 00\\d'].join(''), 'i');

test('no tracked file refers to files outside the repository', () => {
  const files = execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(files.length > 100, `git ls-files listed ${files.length} files`);
  const hits: string[] = [];
  for (const f of files) {
    if (!/\.(ts|js|mjs|md|ya?ml|json|sh|service|txt)$|Dockerfile|\.ci\//.test(f) || f === 'package-lock.json') continue;
    const lines = readFileSync(path.join(REPO_ROOT, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (OUTSIDE.test(line)) hits.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(hits, []);
});

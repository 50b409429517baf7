/** The README documents every option and every metric the code declares (docs derived from the same data). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { OPTIONS } from '../../src/config/options';
import { COMPAT_FAMILIES, PORT_DIAGNOSTIC_FAMILIES, PORT_FAMILIES } from '../../src/metrics/contract';

const README = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');

test('README lists every flag and environment variable', () => {
  for (const o of OPTIONS) {
    if (o.flag) assert.ok(README.includes(`\`--${o.flag}\``), `--${o.flag} missing from README`);
    for (const env of [o.env, ...(o.envFallback ?? [])]) if (env) assert.ok(README.includes(`\`${env}\``), `${env} missing from README`);
  }
});

test('README documents every port metric with its labels', () => {
  for (const f of [...Object.values(PORT_FAMILIES), ...Object.values(PORT_DIAGNOSTIC_FAMILIES), ...Object.values(COMPAT_FAMILIES)]) {
    assert.ok(README.includes(`\`${f.name}{${f.labels.join(',')}}\``), `${f.name} missing from README`);
  }
});

test('README quick start: one command runs the daemon, one runs the tests', () => {
  assert.ok(README.includes('npm ci && npm start'));
  assert.ok(README.includes('npm ci && npm test'));
});

test('README documents every namedprocess family', async () => {
  const { NAMEDPROCESS_FAMILIES } = await import('../../src/metrics/namedprocess');
  for (const f of Object.values(NAMEDPROCESS_FAMILIES) as Array<{ name: string }>) {
    assert.ok(README.includes(`\`${f.name}\``), `${f.name} missing from README`);
  }
});

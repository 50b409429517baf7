import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePssOnly, parseSmapsRollup } from '../../src/procfs/smaps-rollup';

test('parseSmapsRollup converts kB to bytes and skips the range header', () => {
  const s = parseSmapsRollup(
    [
      '55c92b49f000-7ffdfb44e000 ---p 00000000 00:00 0                          [rollup]',
      'Rss:                1596 kB',
      'Pss:                 310 kB',
      'Pss_Anon:            112 kB',
      'Swap:                 64 kB',
      'SwapPss:              32 kB',
      '',
    ].join('\n'),
  );
  assert.equal(s.rssBytes, 1596 * 1024);
  assert.equal(s.pssBytes, 310 * 1024);
  assert.equal(s.swapBytes, 64 * 1024);
  assert.equal(s.swapPssBytes, 32 * 1024);
  assert.equal(s.fields.get('Pss_Anon'), 112 * 1024);
  assert.equal(s.fields.size, 5);
});

test('parseSmapsRollup: empty text (no mm) throws', () => {
  assert.throws(() => parseSmapsRollup(''), /no Pss/);
});

test('parsePssOnly agrees with the full parser', () => {
  const text = 'x-y ---p 0 00:00 0 [rollup]\nRss:  100 kB\nPss:   40 kB\nPss_Anon:  3 kB\nSwapPss:   2 kB\n';
  assert.deepEqual(parsePssOnly(text), { pssBytes: 40 * 1024, swapPssBytes: 2 * 1024 });
  assert.deepEqual(parsePssOnly('Rss: 1 kB\nPss: 1 kB\n'.replace(/^/, '\n')), { pssBytes: 1024, swapPssBytes: 0 });
  assert.throws(() => parsePssOnly('\nRss: 1 kB\n'), /no Pss/);
});

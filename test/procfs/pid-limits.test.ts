import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpenFilesSoft, parsePidLimits } from '../../src/procfs/pid-limits';

const TEXT = [
  'Limit                     Soft Limit           Hard Limit           Units     ',
  'Max cpu time              unlimited            unlimited            seconds   ',
  'Max open files            1024                 1048576              files     ',
  'Max nice priority         0                    0                              ',
  '',
].join('\n');

test('parsePidLimits reads the fixed-width table, unlimited as Infinity, empty units', () => {
  const l = parsePidLimits(TEXT);
  assert.equal(l.openFilesSoft, 1024);
  assert.deepEqual(l.byName.get('Max open files'), { soft: 1024, hard: 1048576, unit: 'files' });
  assert.deepEqual(l.byName.get('Max cpu time'), { soft: Infinity, hard: Infinity, unit: 'seconds' });
  assert.deepEqual(l.byName.get('Max nice priority'), { soft: 0, hard: 0, unit: '' });
});

test('parsePidLimits: an unlimited fd limit and a missing row', () => {
  assert.equal(parsePidLimits(TEXT.replace('1024                 1048576', 'unlimited            unlimited')).openFilesSoft, Infinity);
  assert.throws(() => parsePidLimits(TEXT.split('\n').filter((l) => !l.includes('open files')).join('\n')), /Max open files/);
});

test('parseOpenFilesSoft reads just the soft fd limit, as parsePidLimits does', () => {
  assert.equal(parseOpenFilesSoft(TEXT), 1024);
  assert.equal(parseOpenFilesSoft(TEXT.replace('1024                 1048576', 'unlimited            unlimited')), Infinity);
  assert.throws(() => parseOpenFilesSoft('Limit  Soft Limit\n'), /Max open files/);
});

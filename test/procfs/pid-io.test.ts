import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidIo } from '../../src/procfs/pid-io';

test('parsePidIo reads every field', () => {
  const io = parsePidIo('rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n');
  assert.deepEqual(io, { rchar: 6976, wchar: 12, syscr: 10, syscw: 1, readBytes: 4096, writeBytes: 8192, cancelledWriteBytes: 0 });
});

test('parsePidIo: values beyond 2^53 stay numbers; missing storage fields throw', () => {
  assert.equal(parsePidIo('read_bytes: 18446744073709551615\nwrite_bytes: 0\n').readBytes, 18446744073709551615);
  assert.throws(() => parsePidIo('rchar: 1\nwchar: 2\n'), /no read_bytes/);
  assert.throws(() => parsePidIo('read_bytes: x\nwrite_bytes: 0\n'), /malformed io/);
});

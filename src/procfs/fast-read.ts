/**
 * Synchronous reads of small /proc files for the per-process sampler, which
 * reads eight or so files for each of thousands of processes every cycle.
 *
 * `readFileSync` fstat()s the file and allocates a buffer per call; /proc
 * files report size 0 or 4096 anyway, so that fstat buys nothing. Here one
 * buffer is reused for every read: open, read until EOF, close. The buffer
 * grows (up to `limit`) for the rare large file, and the text is decoded once.
 * Callers run these in batches and yield to the event loop between batches.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { ProcFs } from './proc-fs';

/** Default cap: the largest per-process file we parse (status, limits, smaps_rollup) is a few KiB. */
export const SMALL_READ_LIMIT = 256 * 1024;

let shared = Buffer.allocUnsafe(16 * 1024);

/**
 * Bytes of `<root>/<rel>` as text, at most `limit` bytes. Throws the fs error
 * (ENOENT, EACCES, ...). `latin1` is cheaper to decode and right for files
 * that are ASCII by construction (numbers, kernel symbols, hex tables);
 * anything holding a process name is UTF-8.
 */
export function readSmallSync(fs: ProcFs, rel: string, limit = SMALL_READ_LIMIT, encoding: 'utf8' | 'latin1' = 'utf8'): string {
  const fd = openSync(`${fs.root}/${rel}`, 'r');
  try {
    let total = 0;
    for (;;) {
      if (total === shared.length) {
        if (shared.length >= limit) break;
        const bigger = Buffer.allocUnsafe(Math.min(shared.length * 4, limit));
        shared.copy(bigger, 0, 0, total);
        shared = bigger;
      }
      const n = readSync(fd, shared, total, Math.min(shared.length, limit) - total, null);
      if (n === 0) break;
      total += n;
    }
    return shared.toString(encoding, 0, total);
  } finally {
    closeSync(fd);
  }
}

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

/** The buffer every small read reuses; a larger file gets a buffer of its own for that read only. */
const SHARED_SIZE = 64 * 1024;
const shared = Buffer.allocUnsafe(SHARED_SIZE);

/**
 * Bytes of `<root>/<rel>` as text, at most `limit` bytes. Throws the fs error
 * (ENOENT, EACCES, ...). `latin1` is cheaper to decode and right for files
 * that are ASCII by construction (numbers, kernel symbols, hex tables);
 * anything holding a process name is UTF-8.
 */
export function readSmallSync(fs: ProcFs, rel: string, limit = SMALL_READ_LIMIT, encoding: 'utf8' | 'latin1' = 'utf8'): string {
  const fd = openSync(`${fs.root}/${rel}`, 'r');
  try {
    let buf = shared;
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        if (buf.length >= limit) break;
        // a big file (a busy host's socket table): grow a private buffer, so the shared one stays small
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 4, limit));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const n = readSync(fd, buf, total, Math.min(buf.length, limit) - total, null);
      if (n === 0) break;
      total += n;
    }
    return buf.toString(encoding, 0, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * The only door to /proc. Every reader in the project takes a ProcFs, built
 * from a root path (`/proc` by default, `PROC_PREFIX` / `--path.procfs` in a
 * container, a fixture tree in tests). Nothing else spells out `/proc`.
 *
 * File contents are read one of two ways, like prometheus/procfs's
 * ReadFileNoStat and its scanners:
 *
 * - `readSync`: a small file (stat, status, io, limits, ...) whole, capped.
 *   /proc files report a size of 0 or 4096 whatever they hold, so the size is
 *   never asked: we read until the end or the cap, and a short read is the
 *   end (see SEQ_SHORT_READ), so a per-process file costs open, one read and
 *   close.
 * - `readTextSlices`: a table that can be megabytes (net/tcp with tens of
 *   thousands of TIME_WAIT sockets), in slices that end on a line boundary,
 *   with a turn of the event loop between slices; never held whole.
 *
 * Neither can block: files are opened with O_NONBLOCK, so a FIFO planted in
 * a --path.procfs tree answers at once (EOF with no writer, EAGAIN with a
 * silent one) instead of stalling the main thread, and every read is capped,
 * so a file that never ends (a character device, a FIFO with a busy writer)
 * costs at most the cap. Real /proc files are regular files; the table reader
 * also refuses anything else (one fstat per table), while the small reader
 * skips that fstat: it runs for every file of every process each cycle, and
 * O_NONBLOCK plus the cap already bound it.
 */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** Default cap for one small-file read: the largest per-process file we parse (status, limits, smaps_rollup) is a few KiB. */
export const SMALL_READ_LIMIT = 256 * 1024;

/** Default cap for a table read: one socket line is ~150 bytes, so ~1.7 million sockets. */
export const TABLE_READ_LIMIT = 256 << 20;

/**
 * Slice of a table read between event-loop turns: ~440 socket lines. Small
 * enough that each slice's text is a young-generation string, freed by the
 * next scavenge (a 25 MB table raised peak RSS by ~14 MiB here in 64 KiB
 * slices, ~19 MiB in 256 KiB ones, ~130 MiB when read whole).
 */
const TABLE_SLICE = 64 * 1024;

/**
 * The longest table line kept whole. A socket line is ~150 bytes; a longer
 * one is garbage, and keeping only its head (every column we parse sits in
 * its first 200 bytes) bounds what a line without newlines can cost.
 */
const MAX_LINE = 4096;

/**
 * A seq_file read shorter than this has reached the end: the kernel fills its
 * buffer (a page, 4 KiB at least) up to the last whole row, and a socket table
 * row is under 200 bytes; 512 leaves room for any table we read. A file the
 * kernel prints in one piece (stat, status, io, limits, smaps_rollup, wchan:
 * single_open) or copies as asked (cmdline) comes whole in the first read
 * whatever its size, and so does a regular file: a short read is its end.
 * (/proc/<pid>/smaps, whose rows are larger, has a reader of its own.)
 */
const SEQ_SHORT_READ = 4096 - 512;

/** The small reader's buffer; a larger file gets a buffer of its own for that read only. */
const SCRATCH_SIZE = 64 * 1024;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Error codes that mean "the process (or its file) went away while we looked". */
const VANISHED_CODES = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);
/** Error codes that mean "we are not allowed to read this" (non-root, hidepid, ptrace rules). */
const DENIED_CODES = new Set(['EACCES', 'EPERM']);

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

/** A read failed because the process exited between listing and reading: not an error. */
export function isVanished(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && VANISHED_CODES.has(code);
}

/** A read failed for lack of permission: partial data, counted, never fatal. */
export function isDenied(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && DENIED_CODES.has(code);
}

/** A file where a regular file was expected (a FIFO, socket or device): refused before any read. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly file: string) {
    super(`${file}: not a regular file`);
    this.name = 'NotRegularFileError';
  }
}

export class ProcFs {
  readonly root: string;
  /** Reused by every small read: thousands of reads a cycle allocate nothing but their text. */
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_SIZE);

  constructor(root = '/proc') {
    this.root = path.resolve(root);
  }

  /** `<root>/<rel>`. A template string, not path.join: it runs for every file of every process. */
  private abs(rel: string): string {
    return `${this.root}/${rel}`;
  }

  /**
   * A small file whole, as text, at most `limit` bytes (the rest is cut).
   * Throws the fs error (ENOENT, EACCES, EAGAIN for a FIFO with a silent
   * writer, ...). `latin1` is cheaper to decode and right for files that are
   * ASCII by construction (numbers, kernel symbols); anything holding a
   * process name is UTF-8 (invalid bytes become U+FFFD).
   */
  readSync(rel: string, limit = SMALL_READ_LIMIT, encoding: 'utf8' | 'latin1' = 'utf8'): string {
    const fd = openSync(this.abs(rel), OPEN_FLAGS);
    try {
      let buf = this.scratch;
      let total = 0;
      for (;;) {
        if (total === buf.length) {
          if (buf.length >= limit) break;
          // a big file: grow a private buffer, so the shared one stays small
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 4, limit));
          buf.copy(bigger, 0, 0, total);
          buf = bigger;
        }
        const ask = Math.min(buf.length, limit) - total;
        const n = readSync(fd, buf, total, ask, null);
        total += n;
        // no second read just to see EOF: a short read is the end (SEQ_SHORT_READ)
        if (n === 0 || (n < ask && n < SEQ_SHORT_READ) || total >= limit) break;
      }
      return buf.toString(encoding, 0, total);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A table file as latin1 text, in pieces that each hold whole lines (the
   * last line of the file may lack its newline), at most `limit` bytes in all.
   * Each slice is read synchronously (a libuv round trip per kernel page made
   * a plain async read 4x slower than the data itself) and the event loop gets
   * a turn between slices, so neither memory nor a blocked loop grows with the
   * table. Throws NotRegularFileError for anything but a regular file.
   */
  async *readTextSlices(rel: string, limit = TABLE_READ_LIMIT, slice = TABLE_SLICE): AsyncGenerator<string, void, undefined> {
    const file = this.abs(rel);
    const fd = openSync(file, OPEN_FLAGS);
    try {
      if (!fstatSync(fd).isFile()) throw new NotRegularFileError(file);
      const buf = Buffer.allocUnsafe(slice);
      let carry = '';
      let total = 0;
      for (;;) {
        const want = Math.min(slice, limit - total);
        let used = 0;
        let ended = false;
        while (used < want) {
          const ask = want - used;
          const n = readSync(fd, buf, used, ask, null);
          used += n;
          // A /proc table is a seq_file: one read returns at most its page-sized buffer, and
          // less than a page minus a row only once the records ran out. Asking again just to
          // see EOF makes the kernel walk the table once more (for tcp/tcp6 the host-wide
          // connection hash, whatever the namespace holds: it doubled the cost per namespace).
          // A regular file's short read is its end as well.
          if (n === 0 || n < Math.min(ask, SEQ_SHORT_READ)) {
            ended = true;
            break;
          }
        }
        total += used;
        const text = carry + buf.toString('latin1', 0, used);
        if (ended || used < want || total >= limit) {
          // end of file, or the cap: what is left is the last line(s)
          if (text !== '') yield text;
          return;
        }
        const nl = text.lastIndexOf('\n');
        carry = text.slice(nl + 1, nl + 1 + MAX_LINE);
        if (nl >= 0) yield text.slice(0, nl + 1);
        await yieldToLoop();
      }
    } finally {
      closeSync(fd);
    }
  }

  async readLink(rel: string): Promise<string> {
    return fsp.readlink(this.abs(rel));
  }

  /**
   * Links and directories are read synchronously in hot loops over thousands
   * of tiny entries (fd links): a libuv round trip per readlink costs more
   * than the syscall. Callers yield to the event loop between batches.
   */
  readLinkSync(rel: string): string {
    return readlinkSync(this.abs(rel));
  }

  /** Inode number of `<root>/<rel>` (links followed). */
  statInoSync(rel: string): number {
    return statSync(this.abs(rel)).ino;
  }

  listDirSync(rel: string): string[] {
    return readdirSync(this.abs(rel));
  }

  /** Numeric entries of the root: the pids visible to us. */
  async listPids(): Promise<number[]> {
    const names = await fsp.readdir(this.root);
    const pids: number[] = [];
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    }
    return pids.sort((a, b) => a - b);
  }
}

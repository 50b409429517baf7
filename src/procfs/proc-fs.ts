/**
 * The only door to /proc. Every reader in the project takes a ProcFs, built
 * from a root path (`/proc` by default, `PROC_PREFIX` / `--path.procfs` in a
 * container, a fixture tree in tests). Nothing else spells out `/proc`.
 *
 * /proc files report a size of 0 or 4096 whatever they hold, so we never stat
 * them: we read until EOF with a hard cap, which also bounds memory when a
 * file is hostile or unexpectedly large (e.g. a 100k-entry fd table is a
 * directory, not a file, and is listed, not read).
 */
import { promises as fsp, readdirSync, readlinkSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** Default cap for one /proc file read. procfs files we parse are far smaller. */
export const DEFAULT_READ_LIMIT = 1 << 20;

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

export class ProcFs {
  readonly root: string;

  constructor(root = '/proc') {
    this.root = path.resolve(root);
  }

  /** Joins path elements below the root: `path(1234, 'stat')`. */
  path(...elements: Array<string | number>): string {
    return path.join(this.root, ...elements.map(String));
  }

  /** Reads a whole file as UTF-8 text (invalid bytes become U+FFFD), at most `limit` bytes. */
  async readText(rel: string, limit = DEFAULT_READ_LIMIT): Promise<string> {
    const buf = await this.readBytes(rel, limit);
    return buf.toString('utf8');
  }

  /** Reads a whole file as bytes without stat-ing it, at most `limit` bytes. */
  async readBytes(rel: string, limit = DEFAULT_READ_LIMIT): Promise<Buffer> {
    const handle = await fsp.open(path.join(this.root, rel), 'r');
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const want = Math.min(64 * 1024, limit - total);
        if (want <= 0) break;
        const chunk = Buffer.allocUnsafe(want);
        const { bytesRead } = await handle.read(chunk, 0, want, null);
        if (bytesRead === 0) break;
        chunks.push(bytesRead === want ? chunk : chunk.subarray(0, bytesRead));
        total += bytesRead;
      }
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    } finally {
      await handle.close();
    }
  }

  async readLink(rel: string): Promise<string> {
    return fsp.readlink(path.join(this.root, rel));
  }

  async listDir(rel: string): Promise<string[]> {
    return fsp.readdir(path.join(this.root, rel));
  }

  /**
   * Synchronous variants for hot loops over thousands of tiny entries (fd
   * links): a libuv round trip per readlink costs more than the syscall.
   * Callers must yield to the event loop between batches.
   */
  readLinkSync(rel: string): string {
    return readlinkSync(path.join(this.root, rel));
  }

  listDirSync(rel: string): string[] {
    return readdirSync(path.join(this.root, rel));
  }

  /** Synchronous whole-file read with a cap, in large reads (for big tables such as net/tcp). */
  readBytesSync(rel: string, limit = DEFAULT_READ_LIMIT): Buffer {
    const fd = openSync(path.join(this.root, rel), 'r');
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      let buf = Buffer.allocUnsafe(Math.min(1 << 20, limit));
      let used = 0;
      while (total < limit) {
        if (used === buf.length) {
          chunks.push(buf);
          buf = Buffer.allocUnsafe(Math.min(1 << 20, limit - total));
          used = 0;
        }
        const n = readSync(fd, buf, used, buf.length - used, null);
        if (n === 0) break;
        used += n;
        total += n;
      }
      chunks.push(buf.subarray(0, used));
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Whole-file read in synchronous slices of `slice` bytes with a turn of the
   * event loop between them: as fast as readBytesSync (a libuv round trip per
   * kernel page is what makes the plain async read slow), but no single block
   * longer than one slice, so a 10 MB /proc/net/tcp (tens of thousands of
   * TIME_WAIT sockets) never stalls a scrape for its whole length.
   */
  async readBytesSliced(rel: string, limit = DEFAULT_READ_LIMIT, slice = 256 * 1024): Promise<Buffer> {
    const fd = openSync(path.join(this.root, rel), 'r');
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const want = Math.min(slice, limit - total);
        if (want <= 0) break;
        const buf = Buffer.allocUnsafe(want);
        let used = 0;
        while (used < want) {
          const n = readSync(fd, buf, used, want - used, null);
          if (n === 0) break;
          used += n;
        }
        chunks.push(buf.subarray(0, used));
        total += used;
        if (used < want) break;
        await yieldToLoop();
      }
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  }

  /** Small-file synchronous read (stat, comm); same cap semantics as readText. */
  readTextSync(rel: string): string {
    return readFileSync(path.join(this.root, rel), 'utf8');
  }

  /** True when `<root>/<rel>` exists (any type). */
  async exists(rel: string): Promise<boolean> {
    try {
      await fsp.lstat(path.join(this.root, rel));
      return true;
    } catch {
      return false;
    }
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

  /** Checks that the root looks like a procfs (or a fixture of one). */
  async assertUsable(): Promise<void> {
    const st = await fsp.stat(this.root);
    if (!st.isDirectory()) throw new Error(`procfs root ${this.root} is not a directory`);
  }
}

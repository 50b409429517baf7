/**
 * The pool's state file (--storage.path): what was listening, so that a
 * service that died while the agent was down reads 0 after a restart instead
 * of being absent. One JSON document with a format name and version:
 *
 *   {"format":"otel-host-receiver/pool","version":1,"written":"<ISO time>",
 *    "ports":[{"protocol":"tcp","port":5432,"process_name":"postgres",
 *              "exe_path":"/usr/lib/postgresql/15/bin/postgres","labels":{},
 *              "first_seen":"<ISO time>","last_seen":"<ISO time>"}]}
 *
 * Written atomically: the whole document goes to a temporary file in the
 * same directory, which is fsync()ed and rename()d over the old file, and
 * then the directory is fsync()ed so the rename itself survives a power
 * loss. A reader (the next start) therefore sees the previous document or
 * the new one, never a mix (rename(2) replaces the name atomically).
 *
 * Reading never fails the start: a file that is truncated, not JSON, of
 * another format or version, or holds a bad entry is moved aside as
 * `<file>.corrupt-<time>` and the pool starts empty, with one warning.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigFileError, readConfigFile } from '../config/config-file';

export const POOL_FILE_NAME = 'pool.json';
const FORMAT = 'otel-host-receiver/pool';
const VERSION = 1;

/** At most this many ports are kept (the most recently seen first): the file cannot grow without bound. */
export const MAX_STORED_PORTS = 20_000;
/** Longer strings (paths, names, label values) are cut: a hostile process name cannot blow the file up. */
const MAX_STRING = 4096;
/** At most this many extra identity labels per port. */
const MAX_LABELS = 16;
/** Read cap: MAX_STORED_PORTS entries of reasonable size fit with room to spare. */
const MAX_FILE_BYTES = 64 << 20;

export interface StoredPort {
  protocol: 'tcp' | 'udp';
  port: number;
  processName: string;
  exePath: string;
  /** Extra identity labels of the port (e.g. the container or pod of another network namespace). */
  labels: Record<string, string>;
  firstSeen: number;
  lastSeen: number;
}

export type LoadResult =
  | { kind: 'ok'; ports: StoredPort[] }
  | { kind: 'missing' }
  /** The file was unusable; it was moved to `movedTo` (undefined when even that failed). */
  | { kind: 'bad'; reason: string; movedTo: string | undefined };

const cut = (s: string): string => (s.length > MAX_STRING ? s.slice(0, MAX_STRING) : s);

export function serialize(ports: readonly StoredPort[], now: number): string {
  const kept = [...ports].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, MAX_STORED_PORTS);
  return JSON.stringify({
    format: FORMAT,
    version: VERSION,
    written: new Date(now).toISOString(),
    ports: kept.map((p) => ({
      protocol: p.protocol,
      port: p.port,
      process_name: cut(p.processName),
      exe_path: cut(p.exePath),
      labels: Object.fromEntries(Object.entries(p.labels).slice(0, MAX_LABELS).map(([k, v]) => [cut(k), cut(v)])),
      first_seen: new Date(p.firstSeen).toISOString(),
      last_seen: new Date(p.lastSeen).toISOString(),
    })),
  });
}

/** Parses a state file's text; throws an Error saying what is wrong (never echoing the content). */
export function parse(text: string): StoredPort[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(text.trim() === '' ? 'empty file' : 'not JSON (truncated or corrupt)');
  }
  if (!isObject(doc) || doc.format !== FORMAT) throw new Error(`not a ${FORMAT} file`);
  if (doc.version !== VERSION) throw new Error(`format version ${JSON.stringify(doc.version)} is not ${VERSION}`);
  if (!Array.isArray(doc.ports)) throw new Error('"ports" is not a list');
  if (doc.ports.length > MAX_STORED_PORTS) throw new Error(`more than ${MAX_STORED_PORTS} ports`);
  return doc.ports.map((raw, i) => {
    const bad = (what: string): Error => new Error(`ports[${i}]: ${what}`);
    if (!isObject(raw)) throw bad('not an object');
    const { protocol, port, process_name: processName, exe_path: exePath, labels } = raw;
    if (protocol !== 'tcp' && protocol !== 'udp') throw bad('protocol is not tcp or udp');
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw bad('port is not 1..65535');
    if (typeof processName !== 'string' || typeof exePath !== 'string') throw bad('process_name or exe_path is not a string');
    if (!isObject(labels) || !Object.values(labels).every((v) => typeof v === 'string')) throw bad('labels is not a map of strings');
    const firstSeen = time(raw.first_seen);
    const lastSeen = time(raw.last_seen);
    if (firstSeen === undefined || lastSeen === undefined) throw bad('first_seen or last_seen is not a time');
    return { protocol, port, processName: cut(processName), exePath: cut(exePath), labels: labels as Record<string, string>, firstSeen, lastSeen };
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function time(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

export class PoolFile {
  readonly file: string;
  private readonly tmp: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, POOL_FILE_NAME);
    // one writer per directory: a fixed name, truncated on each write, so a kill -9 leaves at most one behind
    this.tmp = path.join(dir, `.${POOL_FILE_NAME}.tmp`);
  }

  /** Reads the file; a bad one is moved aside. Never throws. */
  async load(now: number): Promise<LoadResult> {
    let text: string;
    try {
      text = readConfigFile(this.file, MAX_FILE_BYTES);
    } catch (err) {
      if (err instanceof ConfigFileError && err.reason === 'ENOENT') return { kind: 'missing' };
      const reason = err instanceof ConfigFileError ? err.reason : String(err);
      return { kind: 'bad', reason, movedTo: await this.moveAside(now) };
    }
    try {
      return { kind: 'ok', ports: parse(text) };
    } catch (err) {
      return { kind: 'bad', reason: err instanceof Error ? err.message : String(err), movedTo: await this.moveAside(now) };
    }
  }

  private async moveAside(now: number): Promise<string | undefined> {
    const to = `${this.file}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '')}`;
    try {
      await fsp.rename(this.file, to);
      return to;
    } catch {
      return undefined;
    }
  }

  /** Atomic replace: temp file, fsync, rename, fsync of the directory. */
  async write(text: string): Promise<void> {
    const fh = await fsp.open(this.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(this.tmp, this.file);
    const dh = await fsp.open(this.dir, constants.O_RDONLY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

/**
 * Whether `dir` can hold the state file: an existing, writable directory.
 * Returns undefined when it can, else why not (ENOENT, "not a directory", EACCES...).
 */
export async function storageDirProblem(dir: string): Promise<string | undefined> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) return 'not a directory';
    await fsp.access(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : String(err);
    return code;
  }
}

/**
 * The one way an operator-supplied file is read: the process_names config
 * (--config.path), the exclusion file, the web config and the certificate,
 * key and CA files it names, and the passwd file behind {{.Username}}.
 *
 * Such a path can name anything, and a FIFO or a device would block
 * readFileSync forever (a FIFO with no writer blocks in open(), one with a
 * silent writer in read(); a SIGTERM handler never runs while the main
 * thread is stuck). So the file is opened with O_NONBLOCK, which makes open()
 * return at once whatever the file is, and refused unless fstat says it is a
 * regular file; then it is read up to a cap, so a file that grows while we
 * read (or lies about its size) costs at most the cap.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { ConfigError } from './options';

/** Cap for a config file: these hold a few rules, users or PEM blocks, kilobytes. Documented in the README. */
export const CONFIG_FILE_MAX_BYTES = 1 << 20;

/**
 * A config file that cannot be used: a ConfigError keyed by the file, so one
 * that escapes its loader still ends the start with exit 2 and one line. The
 * loaders catch it to name their flag instead; `reason` says why without
 * repeating the path.
 */
export class ConfigFileError extends ConfigError {
  override name = 'ConfigFileError';

  get file(): string {
    return this.key;
  }

  get reason(): string {
    return this.detail;
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a plain file';
}

/** `1 MiB (1048576 bytes)`. */
export function describeCap(bytes: number): string {
  const mib = bytes / (1 << 20);
  return Number.isInteger(mib) ? `${mib} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

/** Read size: config files are small, so this is usually the only read. */
const CHUNK = 64 * 1024;

function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

/**
 * Reads a regular file of at most `maxBytes` bytes as UTF-8. Throws
 * ConfigFileError with the errno (ENOENT, EACCES, ...), "not a regular file
 * (a FIFO)", or "larger than the 1 MiB (1048576 bytes) cap".
 */
export function readConfigFile(file: string, maxBytes = CONFIG_FILE_MAX_BYTES): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ConfigFileError(file, codeOf(err));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigFileError(file, `not a regular file (${fileKind(st)})`);
    const tooBig = (): ConfigFileError => new ConfigFileError(file, `larger than the ${describeCap(maxBytes)} cap`);
    if (st.size > maxBytes) throw tooBig();
    // read to EOF rather than trusting st.size: the file may grow while we read
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooBig();
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw new ConfigFileError(file, codeOf(err));
  } finally {
    closeSync(fd);
  }
}

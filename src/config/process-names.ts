/**
 * The files behind process grouping, read and checked here (src/config is
 * where operator files are read): the process-exporter YAML of --config.path
 * and the passwd file that names users. Turning the YAML into a namer is
 * src/process/namer-loader.ts's job; the composition root (src/daemon.ts)
 * calls both once at start and again on reload, and hands the results to the
 * collector. A file that cannot be read stops the start with a message naming
 * --config.path (main maps ConfigError to exit code 2).
 */
import { ConfigError } from './options';
import { ConfigFileError, readConfigFile } from './config-file';

export const CONFIG_PATH_FLAG = '--config.path';

/** A passwd file can be large on hosts that copy a directory into it (tens of thousands of users). */
const PASSWD_MAX_BYTES = 64 << 20;

/** The user database for {{.Username}} and effective_username (parsed by src/process/users.ts); throws ConfigFileError. */
export function readPasswdFile(path = '/etc/passwd'): string {
  return readConfigFile(path, PASSWD_MAX_BYTES);
}

/** The text of a process_names file; ConfigError naming --config.path when it cannot be read. */
export function readProcessNamesFile(file: string): string {
  try {
    return readConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(CONFIG_PATH_FLAG, `cannot read ${JSON.stringify(file)}: ${err.reason}`);
    throw err;
  }
}

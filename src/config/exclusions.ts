/**
 * EXCLUDED_PROCESS_NAMES_FILE: exclusion entries that can change without a
 * restart (re-read on SIGHUP and POST /-/reload). One entry per line or comma
 * separated; `#` starts a comment. The entries join the built-in list and
 * EXCLUDED_PROCESS_NAMES.
 */
import { ConfigError } from './options';
import { ConfigFileError, readConfigFile } from './config-file';

export const EXCLUDE_FILE_FLAG = '--exclude.process-names-file';

export function parseExclusionFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .flatMap((line) => line.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function loadExclusionFile(file: string | undefined): string[] {
  if (file === undefined) return [];
  try {
    return parseExclusionFile(readConfigFile(file));
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(EXCLUDE_FILE_FLAG, `cannot read ${JSON.stringify(file)}: ${err.reason}`);
    throw err;
  }
}

/**
 * Turns the process-grouping options into a Namer: a process-exporter YAML
 * file (--config.path), a comm list (--procnames), or, when neither is given,
 * one group per process (`<comm>_<pid>`, seed 001). Reading and validating the
 * file happens here, at start, so a bad file stops the daemon with a message
 * naming --config.path (main maps ConfigError to exit code 2).
 */
import { ConfigError, type Config } from './options';
import { ConfigFileError, readConfigFile } from './config-file';
import { ConfigNamer, parseProcessNames, PerPidNamer, ProcessNamesError, ProcnamesNamer, type Namer } from '../process/naming';

export const CONFIG_PATH_FLAG = '--config.path';

/** A passwd file can be large on hosts that copy a directory into it (tens of thousands of users). */
const PASSWD_MAX_BYTES = 64 << 20;

/** The user database for {{.Username}} and effective_username (read by src/process/users.ts); throws ConfigFileError. */
export function readPasswdFile(path = '/etc/passwd'): string {
  return readConfigFile(path, PASSWD_MAX_BYTES);
}

export interface LoadedNamer {
  namer: Namer;
  /** Accepted but suspicious content of the file (unknown keys, fields 0.7.10 cannot render); the caller logs them. */
  warnings: string[];
}

/** Parses a process_names file's text; ConfigError naming --config.path on any problem. */
export function namerFromText(text: string, removeEmptyGroups: boolean, fileName?: string): LoadedNamer {
  try {
    const { rules, warnings } = parseProcessNames(text);
    return { namer: new ConfigNamer(rules, removeEmptyGroups), warnings };
  } catch (err) {
    if (err instanceof ProcessNamesError) throw new ConfigError(CONFIG_PATH_FLAG, fileName === undefined ? err.message : `${fileName}: ${err.message}`);
    throw err;
  }
}

export function loadNamer(config: Pick<Config, 'processConfigPath' | 'procnames' | 'removeEmptyGroups'>): LoadedNamer {
  const file = config.processConfigPath;
  if (file !== undefined) {
    if (config.procnames.length > 0) throw new ConfigError(CONFIG_PATH_FLAG, 'cannot be combined with --procnames (process-exporter takes one or the other)');
    let text: string;
    try {
      text = readConfigFile(file);
    } catch (err) {
      if (err instanceof ConfigFileError) throw new ConfigError(CONFIG_PATH_FLAG, `cannot read ${JSON.stringify(file)}: ${err.reason}`);
      throw err;
    }
    return namerFromText(text, config.removeEmptyGroups, file);
  }
  if (config.procnames.length > 0) return { namer: new ProcnamesNamer(config.procnames, config.removeEmptyGroups), warnings: [] };
  return { namer: new PerPidNamer(), warnings: [] };
}

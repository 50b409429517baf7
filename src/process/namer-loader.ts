/**
 * Turns the process-grouping options into a Namer: a process-exporter YAML
 * file (--config.path), a comm list (--procnames), or, when neither is given,
 * one group per process (`<comm>_<pid>`: a host agent has no config to start
 * from, and a group per process is what the status page and the process
 * families need to be useful out of the box). The composition root calls it
 * once at start and on each reload; the collector only receives the result.
 */
import { ConfigError, type Config } from '../config/options';
import { CONFIG_PATH_FLAG, readProcessNamesFile } from '../config/process-names';
import { ConfigNamer, parseProcessNames, PerPidNamer, ProcessNamesError, ProcnamesNamer, type Namer } from './naming';

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

export function loadNamer(
  config: Pick<Config, 'processConfigPath' | 'procnames' | 'removeEmptyGroups'>,
  readText: (file: string) => string = readProcessNamesFile,
): LoadedNamer {
  const file = config.processConfigPath;
  if (file !== undefined) {
    if (config.procnames.length > 0) throw new ConfigError(CONFIG_PATH_FLAG, 'cannot be combined with --procnames (process-exporter takes one or the other)');
    return namerFromText(readText(file), config.removeEmptyGroups, file);
  }
  if (config.procnames.length > 0) return { namer: new ProcnamesNamer(config.procnames, config.removeEmptyGroups), warnings: [] };
  return { namer: new PerPidNamer(), warnings: [] };
}

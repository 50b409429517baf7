/**
 * EXPECT_FILE / --expect.file: the services that must exist on this host,
 * whether or not they run when the agent starts (re-read on SIGHUP and
 * POST /-/reload, validated before applied):
 *
 *   ports:
 *     - {port: 5432, protocol: tcp, process_name: postgres, exe_path: /usr/lib/postgresql/15/bin/postgres}
 *     - {port: 53, protocol: udp, process_name: dnsmasq}   # exe_path optional: any executable
 *   process_groups: [nginx, postgres]                      # namedprocess groups by name
 *
 * An error names the file and the entry (`ports[1]`, `process_groups[0]`).
 */
import { yaml } from '../util/lazy';
import { ConfigError } from './options';
import { ConfigFileError, readConfigFile } from './config-file';

export const EXPECT_FILE_FLAG = '--expect.file';

export interface ExpectedPort {
  protocol: 'tcp' | 'udp';
  port: number;
  processName: string;
  /** undefined: any executable. */
  exePath: string | undefined;
}

export interface Expectations {
  ports: ExpectedPort[];
  processGroups: string[];
}

export const NO_EXPECTATIONS: Expectations = { ports: [], processGroups: [] };

/** Bounds: an expect file lists a host's services, tens of them; far more is a mistake. */
const MAX_ENTRIES = 10_000;

class Invalid extends Error {}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses an expect file's text; throws an Error naming the entry at fault. */
export function parseExpectFile(text: string): Expectations {
  let doc: unknown;
  try {
    doc = yaml().parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new Invalid(`bad YAML: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return NO_EXPECTATIONS;
  if (!isMap(doc)) throw new Invalid('expected a mapping with "ports" and/or "process_groups"');
  for (const k of Object.keys(doc)) if (k !== 'ports' && k !== 'process_groups') throw new Invalid(`unknown key ${JSON.stringify(k)} (expected "ports", "process_groups")`);

  const ports: ExpectedPort[] = [];
  const rawPorts = doc.ports ?? [];
  if (!Array.isArray(rawPorts)) throw new Invalid('"ports" must be a list');
  if (rawPorts.length > MAX_ENTRIES) throw new Invalid(`"ports" has more than ${MAX_ENTRIES} entries`);
  const seen = new Map<string, number>();
  rawPorts.forEach((raw: unknown, i) => {
    const bad = (what: string): Invalid => new Invalid(`ports[${i}]: ${what}`);
    if (!isMap(raw)) throw bad('expected a mapping {port, protocol, process_name, exe_path}');
    for (const k of Object.keys(raw)) {
      if (!['port', 'protocol', 'process_name', 'exe_path'].includes(k)) throw bad(`unknown key ${JSON.stringify(k)} (expected port, protocol, process_name, exe_path)`);
    }
    const { port, protocol = 'tcp', process_name: processName, exe_path: exePath } = raw;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw bad('"port" must be an integer 1..65535');
    if (protocol !== 'tcp' && protocol !== 'udp') throw bad('"protocol" must be tcp or udp');
    if (typeof processName !== 'string' || processName.trim() === '') throw bad('"process_name" is required (the comm of the process that should listen)');
    if (exePath !== undefined && (typeof exePath !== 'string' || !exePath.startsWith('/'))) throw bad('"exe_path" must be an absolute path');
    const key = `${protocol}/${port}`;
    const dup = seen.get(key);
    if (dup !== undefined) throw bad(`${protocol} port ${port} is already expected by ports[${dup}]`);
    seen.set(key, i);
    ports.push({ protocol, port, processName, exePath: exePath as string | undefined });
  });

  const rawGroups = doc.process_groups ?? [];
  if (!Array.isArray(rawGroups)) throw new Invalid('"process_groups" must be a list of group names');
  if (rawGroups.length > MAX_ENTRIES) throw new Invalid(`"process_groups" has more than ${MAX_ENTRIES} entries`);
  const processGroups: string[] = [];
  rawGroups.forEach((g: unknown, i) => {
    if (typeof g !== 'string' || g.trim() === '') throw new Invalid(`process_groups[${i}]: must be a non-empty group name`);
    if (!processGroups.includes(g)) processGroups.push(g);
  });
  return { ports, processGroups };
}

/** Reads and parses --expect.file; ConfigError naming the flag, the file and the entry. */
export function loadExpectFile(file: string | undefined): Expectations {
  if (file === undefined) return NO_EXPECTATIONS;
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(EXPECT_FILE_FLAG, `cannot read ${JSON.stringify(file)}: ${err.reason}`);
    throw err;
  }
  try {
    return parseExpectFile(text);
  } catch (err) {
    if (err instanceof Invalid) throw new ConfigError(EXPECT_FILE_FLAG, `${JSON.stringify(file)}: ${err.message}`);
    throw err;
  }
}

/**
 * Which processes are tracked and what their group is called, decided once
 * per process (pid, start time), as process-exporter does without -recheck.
 *
 * Three namers:
 * - per-pid (default): every userland process is its own group
 *   `<comm>_<pid>`; kernel threads (PF_KTHREAD) are not tracked.
 * - procnames (`--procnames a,b`): a process whose comm is listed is tracked
 *   in the group named by its comm.
 * - config (`--config.path`): process-exporter's `process_names` list; the
 *   first rule whose selectors all match names the process by its template.
 *
 * Matching is a pure function of the process's attributes: cmdline captures
 * are returned with the match, not stored on the matcher.
 */
import { yaml } from '../util/lazy';
import { compileGoRegexp, GoRegexpError, type GoRegexp } from './go-regexp';
import { compileTemplate, renderTemplate, TemplateError, type CompiledTemplate } from './template';

/** What a namer may look at; read once when a process is first seen. */
export interface ProcAttributes {
  /** /proc/<pid>/stat comm (<= 15 bytes). */
  comm: string;
  /** argv; empty for kernel threads and zombies. */
  cmdline: readonly string[];
  pid: number;
  /** Start time in ms since the epoch (boot time + starttime ticks). */
  startTimeMs: number;
  /** Effective user name (or the uid as text when it has no passwd entry). */
  username: string;
  /** Paths from /proc/<pid>/cgroup in file order. */
  cgroups: readonly string[];
}

export interface NamerNeeds {
  cmdline: boolean;
  username: boolean;
  cgroups: boolean;
}

export interface Namer {
  readonly kind: 'per-pid' | 'procnames' | 'config';
  /** Kernel threads are skipped before naming (per-pid); config rules may match them by comm, as process-exporter does. */
  readonly skipKernelThreads: boolean;
  /** Groups whose last member exited are dropped (per-pid), or kept with num_procs 0 (process-exporter's default). */
  readonly removeEmptyGroups: boolean;
  /** Attributes the namer reads; the sampler skips reading the others. */
  readonly needs: NamerNeeds;
  /** The group name, or undefined when the process is not tracked on its own (it may still join a parent's group). */
  name(attrs: ProcAttributes): string | undefined;
}

/** Go's filepath.Base: trailing slashes dropped, "" -> ".", all slashes -> "/". */
export function goBase(p: string): string {
  if (p === '') return '.';
  let end = p.length;
  while (end > 0 && p[end - 1] === '/') end--;
  if (end === 0) return '/';
  const trimmed = p.slice(0, end);
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export class PerPidNamer implements Namer {
  readonly kind = 'per-pid';
  readonly skipKernelThreads = true;
  readonly removeEmptyGroups = true;
  readonly needs: NamerNeeds = { cmdline: false, username: false, cgroups: false };
  name(attrs: ProcAttributes): string {
    return `${attrs.comm}_${attrs.pid}`;
  }
}

export class ProcnamesNamer implements Namer {
  readonly kind = 'procnames';
  readonly skipKernelThreads = false;
  readonly needs: NamerNeeds = { cmdline: false, username: false, cgroups: false };
  private readonly names: ReadonlySet<string>;
  constructor(
    names: readonly string[],
    readonly removeEmptyGroups = false,
  ) {
    this.names = new Set(names);
  }
  name(attrs: ProcAttributes): string | undefined {
    return this.names.has(attrs.comm) ? attrs.comm : undefined;
  }
}

/** One `process_names` item, compiled. */
export interface MatchRule {
  template: CompiledTemplate;
  comm?: ReadonlySet<string>;
  /** argv[0] basename -> '' (any path) or the exact path required (process-exporter keys exes by basename). */
  exe?: ReadonlyMap<string, string>;
  cmdline?: readonly GoRegexp[];
}

export interface MatchResult {
  matched: boolean;
  /**
   * Named captures of the cmdline regexes ('' = the whole match of the last regex, as in Go);
   * filled only when the rule's template reads them.
   */
  matches: Map<string, string>;
}

/** Applies one rule's selectors (all must match: comm, then exe, then cmdline). */
export function matchRule(rule: MatchRule, attrs: ProcAttributes): MatchResult {
  const matches = new Map<string, string>();
  const no: MatchResult = { matched: false, matches };
  if (rule.comm && !rule.comm.has(attrs.comm)) return no;
  if (rule.exe) {
    const argv0 = attrs.cmdline[0];
    if (argv0 === undefined) return no;
    const want = rule.exe.get(goBase(argv0));
    if (want === undefined || (want !== '' && want !== argv0)) return no;
  }
  if (rule.cmdline) {
    // process-exporter matches each regex against the argv joined by spaces (unanchored search)
    const joined = attrs.cmdline.join(' ');
    const capture = rule.template.uses.matches;
    for (const re of rule.cmdline) {
      // the test is the cheap path (no captures): most processes fail it
      if (!re.test(joined)) return no;
      if (!capture) continue;
      const m = re.findSubmatch(joined);
      if (!m) return no;
      // Go's SubexpNames in order, so for a name used twice, and for "" (the whole match and unnamed groups), the last one wins
      re.subexpNames.forEach((name, g) => matches.set(name, m[g]!));
    }
  }
  return { matched: true, matches };
}

export class ConfigNamer implements Namer {
  readonly kind = 'config';
  readonly skipKernelThreads = false;
  readonly needs: NamerNeeds;
  constructor(
    readonly rules: readonly MatchRule[],
    readonly removeEmptyGroups = false,
  ) {
    this.needs = {
      cmdline: rules.some((r) => r.exe !== undefined || r.cmdline !== undefined || r.template.uses.cmdline),
      username: rules.some((r) => r.template.uses.username),
      cgroups: rules.some((r) => r.template.uses.cgroups),
    };
  }

  name(attrs: ProcAttributes): string | undefined {
    for (const rule of this.rules) {
      const { matched, matches } = matchRule(rule, attrs);
      if (!matched) continue;
      const argv0 = attrs.cmdline[0];
      const exeFull = argv0 ?? attrs.comm;
      return renderTemplate(rule.template, {
        comm: attrs.comm,
        exeFull,
        exeBase: argv0 === undefined ? attrs.comm : goBase(argv0),
        username: attrs.username,
        pid: attrs.pid,
        startTimeMs: attrs.startTimeMs,
        cgroups: attrs.cgroups,
        matches,
      });
    }
    return undefined;
  }
}

/** A process_names file that cannot be used; `detail` says where and why. */
export class ProcessNamesError extends Error {}

export interface ParsedProcessNames {
  rules: MatchRule[];
  /** Things process-exporter accepts but that are probably mistakes (unknown keys, fields it cannot render). */
  warnings: string[];
}

function stringList(value: unknown, where: string): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new ProcessNamesError(`${where}: expected a list of strings`);
  return value.map((v, i) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new ProcessNamesError(`${where}[${i}]: expected a string`);
  });
}

const KNOWN_KEYS = new Set(['name', 'comm', 'exe', 'cmdline']);

/**
 * Parses process-exporter's YAML (`process_names:` list of `{name, comm, exe,
 * cmdline}`), as YAML 1.1 like Go's yaml.v2. Throws ProcessNamesError naming
 * the item and key.
 */
export function parseProcessNames(text: string): ParsedProcessNames {
  let doc: unknown;
  try {
    doc = yaml().parse(text, { version: '1.1', prettyErrors: true });
  } catch (err) {
    throw new ProcessNamesError(`not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ProcessNamesError('expected a mapping with a process_names list');
  const warnings: string[] = [];
  for (const k of Object.keys(doc)) if (k !== 'process_names') warnings.push(`unknown top-level key ${JSON.stringify(k)} ignored`);
  const list = (doc as Record<string, unknown>).process_names;
  if (!Array.isArray(list) || list.length === 0) throw new ProcessNamesError('process_names: expected a non-empty list of matchers');
  const rules = list.map((item: unknown, index): MatchRule => {
    const where = `process_names[${index}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new ProcessNamesError(`${where}: expected a mapping`);
    const m = item as Record<string, unknown>;
    for (const k of Object.keys(m)) if (!KNOWN_KEYS.has(k)) warnings.push(`${where}: unknown key ${JSON.stringify(k)} ignored`);
    const rule: { -readonly [K in keyof MatchRule]: MatchRule[K] } = { template: compileTemplate('{{.ExeBase}}') };
    if (m.comm !== undefined && m.comm !== null) rule.comm = new Set(stringList(m.comm, `${where}.comm`));
    if (m.exe !== undefined && m.exe !== null) {
      const exes = new Map<string, string>();
      for (const e of stringList(m.exe, `${where}.exe`)) exes.set(e.includes('/') ? goBase(e) : e, e.includes('/') ? e : '');
      rule.exe = exes;
    }
    if (m.cmdline !== undefined && m.cmdline !== null) {
      rule.cmdline = stringList(m.cmdline, `${where}.cmdline`).map((re, i) => {
        try {
          return compileGoRegexp(re);
        } catch (err) {
          if (err instanceof GoRegexpError) throw new ProcessNamesError(`${where}.cmdline[${i}]: bad regex ${JSON.stringify(re)}: ${err.message}`);
          throw err;
        }
      });
    }
    if (!rule.comm && !rule.exe && !rule.cmdline) throw new ProcessNamesError(`${where}: no matchers provided (need comm, exe or cmdline)`);
    const name = m.name === undefined || m.name === null || m.name === '' ? '{{.ExeBase}}' : m.name;
    if (typeof name !== 'string') throw new ProcessNamesError(`${where}.name: expected a string`);
    try {
      rule.template = compileTemplate(name);
    } catch (err) {
      if (err instanceof TemplateError) throw new ProcessNamesError(`${where}.name: bad name template ${JSON.stringify(name)}: ${err.message}`);
      throw err;
    }
    for (const a of rule.template.invalidActions) {
      warnings.push(`${where}.name: ${a} is not a process-exporter 0.7.10 field; names are cut at it, as process-exporter does`);
    }
    return rule;
  });
  return { rules, warnings };
}

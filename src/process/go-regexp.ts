/**
 * process-exporter's cmdline matchers are Go regular expressions (RE2
 * syntax, regexp.Compile). The text they run over is argv, which any local
 * user chooses, so the engine must run in time linear in the input: a
 * backtracking engine (JavaScript's RegExp) takes exponential time on
 * patterns such as `(a+)+$` or `^(\S+\s*)+--config=…$`, and a regex cannot
 * be interrupted on the main thread.
 *
 * The engine is re2js, a pure-JavaScript port of RE2/J, itself a port of
 * Go's regexp package: the same parser (the same accepted syntax and error
 * texts, flags such as `(?i)` and `(?i:…)`, `\pL`, `[[:alpha:]]`, `\Q…\E`,
 * no lookaround or backreferences), leftmost-first matching and Go's
 * capture semantics. Pinned at 2.10.0. Measured here (Node 20, a loaded
 * 2-core host) on a 204-character java command line:
 *   `-jar (?P<jar>[^ ]+)\.jar`              test 4 µs, captures 20 µs
 *   `^(\S+\s*)+--config=(?P<cfg>\S+)$`       test 7 µs, captures 52 µs (V8 RegExp: never returns)
 *   a pattern that does not match            test 0.2 µs
 *   `(a+)+$` on 4,096 a's then b             test 0.05 ms, captures 13 ms (V8 RegExp: never returns)
 *   `(a+)+$` on 131,072 a's then b           test 1.7 ms, captures 36 ms
 * (compile: 30-400 µs per pattern). re2-wasm 1.0.2 (C++ RE2 in WebAssembly)
 * took 5-10x longer on the same lines, and its compiled patterns are never
 * freed: its heap is fixed at 16 MiB and the process aborted after 4,800 to
 * 8,600 compiles of one pattern (reloads compile again). It also rewrites
 * JavaScript escapes (`\u0041`) into RE2 ones, accepting patterns Go refuses.
 *
 * One difference from Go is bridged here: Go accepts a capture name used
 * twice (`(?P<v>a)|(?P<v>b)`; the last group of that name fills the map
 * process-exporter builds), re2js refuses it, so duplicates are compiled
 * under unique internal names and mapped back.
 */
import type { RE2JS } from 're2js';
import { re2js } from '../util/lazy';

export class GoRegexpError extends Error {}

/** A compiled Go regular expression: unanchored search, as Go's MatchString and FindStringSubmatch. */
export interface GoRegexp {
  readonly source: string;
  /** Go's SubexpNames: index 0 is the whole match, '' for it and for unnamed groups. */
  readonly subexpNames: readonly string[];
  /** MatchString: whether the pattern matches anywhere in `s` (the fast path: no captures). */
  test(s: string): boolean;
  /** FindStringSubmatch: undefined, or one string per subexpression ('' for a group that took no part). */
  findSubmatch(s: string): string[] | undefined;
}

const DUPLICATE = 'duplicate capture group name';

/** What RE2 leaves out on purpose, named in the error so the config's author knows it is not a typo. */
function hint(message: string): string {
  if (/`\(\?(=|!|<=|<!)/.test(message)) return ' (RE2 has no lookaround; process-exporter refuses it too)';
  if (/`\\[1-9]`/.test(message)) return ' (RE2 has no backreferences; process-exporter refuses them too)';
  return '';
}

function compileRaw(source: string): RE2JS {
  try {
    return re2js().RE2JS.compile(source);
  } catch (err) {
    if (err instanceof re2js().RE2JSException) {
      const message = err.message.replace(/^error parsing regexp: /, '');
      throw new GoRegexpError(message + hint(message));
    }
    throw err;
  }
}

/**
 * Renames every `(?P<name>` / `(?<name>` text to a unique internal name, compiles, and keeps
 * the renames that became groups (text inside a class or `\Q…\E` is literal and is restored).
 * Returns the compiled pattern and internal name -> the name written in the config.
 */
function compileWithDuplicateNames(source: string): { re: RE2JS; aliases: Map<string, string> } {
  let prefix = 'ohr_dup';
  while (source.includes(prefix)) prefix += '_';
  const opener = /\(\?P?<([A-Za-z0-9_]+)>/g;
  const sites: Array<{ at: number; text: string; name: string; alias: string }> = [];
  for (let m = opener.exec(source); m; m = opener.exec(source)) sites.push({ at: m.index, text: m[0], name: m[1]!, alias: `${prefix}${sites.length}` });
  const rewrite = (keep: ReadonlySet<string>): string => {
    let out = '';
    let from = 0;
    for (const s of sites) {
      out += source.slice(from, s.at) + (keep.has(s.alias) ? s.text.replace(`<${s.name}>`, `<${s.alias}>`) : s.text);
      from = s.at + s.text.length;
    }
    return out + source.slice(from);
  };
  const all = new Set(sites.map((s) => s.alias));
  const groups = new Set(Object.keys(compileRaw(rewrite(all)).namedGroups()).filter((n) => all.has(n)));
  const re = compileRaw(rewrite(groups));
  const aliases = new Map(sites.filter((s) => groups.has(s.alias)).map((s) => [s.alias, s.name]));
  return { re, aliases };
}

/** Compiles a Go (RE2) pattern as regexp.Compile does; GoRegexpError carries Go's message. */
export function compileGoRegexp(source: string): GoRegexp {
  let re: RE2JS;
  let aliases = new Map<string, string>();
  try {
    re = compileRaw(source);
  } catch (err) {
    if (!(err instanceof GoRegexpError && err.message.startsWith(DUPLICATE))) throw err;
    ({ re, aliases } = compileWithDuplicateNames(source));
  }
  const subexpNames: string[] = new Array<string>(re.groupCount() + 1).fill('');
  for (const [name, index] of Object.entries(re.namedGroups())) subexpNames[index] = aliases.get(name) ?? name;
  return {
    source,
    subexpNames,
    test: (s) => re.test(s),
    findSubmatch(s) {
      const m = re.exec(s);
      if (!m) return undefined;
      return subexpNames.map((_, i) => (m[i] as string | null | undefined) ?? '');
    },
  };
}

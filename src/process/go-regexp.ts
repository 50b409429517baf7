/**
 * process-exporter's cmdline matchers are Go RE2 regular expressions. This
 * translates the RE2 syntax people write in those configs to a JavaScript
 * RegExp with the same meaning, and refuses what either side cannot do the
 * same way (a config process-exporter rejects must not silently work here,
 * and vice versa):
 *
 * - `(?P<name>re)` and `(?<name>re)` named groups -> `(?<name>re)`
 * - leading flag groups `(?i)`, `(?s)`, `(?m)` -> RegExp flags
 * - `\A` -> `^` and `\z` -> `$` (JS `$` without the m flag is end of text, as in RE2)
 * - `\Q...\E` literal text -> escaped
 * - POSIX classes `[[:alpha:]]` inside brackets -> explicit ranges
 * - `\pL`, `\p{Greek}` -> Unicode property escapes (u flag)
 * - refused: lookaround and backreferences (not RE2), inline flags other than
 *   at the start, `(?U)` (ungreedy has no JS equivalent)
 *
 * Both engines pick the leftmost match and prefer the first alternative
 * (Go's regexp.Compile is leftmost-first, like a backtracking engine), so
 * captures agree.
 */

export class GoRegexpError extends Error {}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

export interface TranslatedRegexp {
  source: string;
  flags: string;
  /** Names of the named capture groups, in order. */
  names: string[];
}

/** Translates RE2 syntax to JavaScript; throws GoRegexpError for constructs that cannot mean the same. */
export function translateGoRegexp(re: string): TranslatedRegexp {
  let i = 0;
  const flags = new Set<string>();
  // leading flag groups: (?i), (?is), (?i)(?s)
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(re.slice(i));
    if (!m) break;
    for (const f of m[1]!) {
      if (f === 'i' || f === 's' || f === 'm') flags.add(f);
      else throw new GoRegexpError(`flag (?${f}) has no JavaScript equivalent`);
    }
    i += m[0].length;
  }
  let out = '';
  const names: string[] = [];
  let inClass = false;
  let unicode = false;
  while (i < re.length) {
    const c = re[i]!;
    if (c === '\\') {
      const n = re[i + 1];
      if (n === undefined) throw new GoRegexpError('trailing backslash');
      if (n === 'Q') {
        const end = re.indexOf('\\E', i + 2);
        const lit = end < 0 ? re.slice(i + 2) : re.slice(i + 2, end);
        out += escapeLiteral(lit);
        i = end < 0 ? re.length : end + 2;
        continue;
      }
      if (!inClass && n === 'A') {
        out += '^';
        i += 2;
        continue;
      }
      if (!inClass && n === 'z') {
        out += '$';
        i += 2;
        continue;
      }
      if (n >= '1' && n <= '9') throw new GoRegexpError(`backreference \\${n} is not supported by RE2`);
      if (n === 'p' || n === 'P') {
        unicode = true;
        const brace = re[i + 2] === '{';
        const end = brace ? re.indexOf('}', i + 3) : i + 2;
        if (end < 0) throw new GoRegexpError('unterminated \\p{...}');
        const name = brace ? re.slice(i + 3, end) : re[i + 2];
        if (name === undefined || name === '') throw new GoRegexpError('empty \\p class');
        out += `\\${n}{${name}}`;
        i = end + 1;
        continue;
      }
      out += c + n;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && re[i + 1] === ':') {
        const end = re.indexOf(':]', i + 2);
        if (end > 0) {
          const name = re.slice(i + 2, end);
          if (name.startsWith('^')) throw new GoRegexpError(`negated POSIX class [:${name}:] is not supported`);
          const ranges = POSIX_CLASSES[name];
          if (ranges === undefined) throw new GoRegexpError(`unknown POSIX class [:${name}:]`);
          out += ranges;
          i = end + 2;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      // a ']' right after '[' or '[^' is a literal in RE2
      if (re[i] === '^') {
        out += '^';
        i++;
      }
      if (re[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && re[i + 1] === '?') {
      const rest = re.slice(i + 2);
      const named = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named) {
        names.push(named[1]!);
        out += `(?<${named[1]}>`;
        i += 2 + named[0].length;
        continue;
      }
      if (rest.startsWith(':')) {
        out += '(?:';
        i += 3;
        continue;
      }
      if (/^(=|!|<=|<!)/.test(rest)) throw new GoRegexpError('lookaround is not supported by RE2');
      throw new GoRegexpError(`group syntax (?${rest.slice(0, 8)} is not supported (only (?P<name>...), (?:...) and leading flags)`);
    }
    out += c;
    i++;
  }
  if (inClass) throw new GoRegexpError('missing closing ]');
  let flagText = [...flags].sort().join('');
  if (unicode) flagText += 'u';
  return { source: out, flags: flagText, names };
}

/** Compiles an RE2 pattern; GoRegexpError says what is wrong. */
export function compileGoRegexp(re: string): RegExp {
  const t = translateGoRegexp(re);
  try {
    return new RegExp(t.source, t.flags);
  } catch (err) {
    throw new GoRegexpError(err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err));
  }
}

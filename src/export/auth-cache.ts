/**
 * Basic-auth verdicts, so a scraper's password costs one bcrypt check, not
 * one per scrape (exporter-toolkit caches them too). Keyed by a SHA-256 of
 * (user, stored hash, password): a changed hash or a removed user can never
 * match an old entry, and no password is kept in memory.
 *
 * Successes and failures are kept apart, each bounded. Anyone can create
 * failures (one per wrong password), so they live in their own first-in
 * first-out list and can never push a verified credential out; successes
 * need the password, and are evicted least recently used among themselves.
 */
import { createHash } from 'node:crypto';

/** Verified credentials kept; a handful of scrapers use a handful of credentials. */
export const GOOD_VERDICTS = 256;
/** Failed credentials kept, so a client repeating a wrong password costs a lookup. */
export const BAD_VERDICTS = 1024;

interface Entry {
  user: string;
  hash: string;
}

export function verdictKey(user: string, hash: string, password: string): string {
  return createHash('sha256').update(JSON.stringify([user, hash, password])).digest('hex');
}

export class VerdictCache {
  private readonly good = new Map<string, Entry>();
  private readonly bad = new Map<string, Entry>();

  constructor(
    private readonly goodMax = GOOD_VERDICTS,
    private readonly badMax = BAD_VERDICTS,
  ) {}

  /** true/false for a cached verdict, undefined when the credential was never checked (or forgotten). */
  get(key: string): boolean | undefined {
    const g = this.good.get(key);
    if (g) {
      // Map order is insertion order: move it to the end, the most recently used
      this.good.delete(key);
      this.good.set(key, g);
      return true;
    }
    return this.bad.has(key) ? false : undefined;
  }

  set(key: string, ok: boolean, user: string, hash: string): void {
    const map = ok ? this.good : this.bad;
    map.delete(key);
    if (map.size >= (ok ? this.goodMax : this.badMax)) map.delete(map.keys().next().value!);
    map.set(key, { user, hash });
  }

  /** Drops every verdict for which `keep(user, hash)` is false (a reload that changed users). */
  retain(keep: (user: string, hash: string) => boolean): void {
    for (const map of [this.good, this.bad]) {
      for (const [key, e] of map) if (!keep(e.user, e.hash)) map.delete(key);
    }
  }

  get size(): { good: number; bad: number } {
    return { good: this.good.size, bad: this.bad.size };
  }
}

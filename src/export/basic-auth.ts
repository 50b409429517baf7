/**
 * Password checks for basic auth, built so that an unauthenticated flood
 * cannot starve scrapers that already authenticated:
 *
 * - A credential with a cached verdict is answered at once, from the cache
 *   (auth-cache.ts), never behind a bcrypt check.
 * - A credential that misses the cache is checked in the bcrypt worker, and
 *   at most MAX_UNCACHED_CHECKS such checks are queued or running at a time;
 *   beyond that the request is refused at once ('busy', a 429), instead of
 *   waiting seconds behind someone else's guesses. The same credential sent
 *   twice while its check runs waits for that one check.
 * - Unknown users are checked against a dummy hash of the users' own cost, so
 *   the answer takes as long as for a wrong password: timing does not tell
 *   which user names exist.
 */
import { VerdictCache, verdictKey } from './auth-cache';
import { BcryptWorker } from './bcrypt-worker';

/**
 * Checks that missed the cache, queued or running. Small: at cost 10 (~100 ms
 * per check, one at a time) the last in line waits under a second.
 */
export const MAX_UNCACHED_CHECKS = 8;

export type AuthVerdict = 'ok' | 'denied' | 'busy';

/**
 * A well-formed bcrypt hash that no password matches, at the highest cost
 * among `users` (10 when there are none). Comparing a password with it costs
 * what comparing it with a real hash of that cost does.
 */
export function dummyHashFor(users: ReadonlyMap<string, string>): string {
  let cost = 0;
  for (const h of users.values()) cost = Math.max(cost, Number(h.slice(4, 6)));
  // salt and digest of a bcrypt hash of "fakepassword": whatever matches it, the user is unknown and refused
  return `$2b$${String(cost || 10).padStart(2, '0')}$zWdHDXkDTm5El7KQ.u6/O.zxxKo8xs0iNItNmWKV4RHEDRKczVM1W`;
}

export interface AuthCounts {
  /** bcrypt checks started. */
  bcrypt: number;
  /** Requests answered from the verdict cache. */
  cacheHits: number;
  /** Requests refused because the queue of uncached checks was full. */
  authBusy: number;
}

export class PasswordChecker {
  private readonly cache = new VerdictCache();
  /** verdict key -> the check running for it. */
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly worker = new BcryptWorker();

  constructor(private readonly counts: AuthCounts) {}

  /** Checks `password` for `user` against `users` (dummy: dummyHashFor(users)). */
  async check(users: ReadonlyMap<string, string>, dummy: string, user: string, password: string): Promise<AuthVerdict> {
    const stored = users.get(user);
    const hash = stored ?? dummy;
    const key = verdictKey(user, hash, password);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.counts.cacheHits++;
      return cached ? 'ok' : 'denied';
    }
    let running = this.checking.get(key);
    if (!running) {
      if (this.checking.size >= MAX_UNCACHED_CHECKS) {
        this.counts.authBusy++;
        return 'busy';
      }
      this.counts.bcrypt++;
      running = this.worker
        .compare(password, hash)
        .then((match) => {
          const ok = match && stored !== undefined;
          this.cache.set(key, ok, user, hash);
          return ok;
        })
        .finally(() => this.checking.delete(key));
      this.checking.set(key, running);
    }
    try {
      return (await running) ? 'ok' : 'denied';
    } catch {
      return 'denied'; // the worker died mid-check: refused this once (not cached), a new worker serves the next
    }
  }

  /** After a reload: keeps the verdicts whose user and hash are unchanged (and unknown-user verdicts of the same dummy). */
  retain(users: ReadonlyMap<string, string>, dummy: string): void {
    this.cache.retain((user, hash) => users.get(user) === hash || (!users.has(user) && hash === dummy));
  }

  /** Stops the worker thread (it is unref'd, so this is only needed for tidy tests). */
  close(): Promise<void> {
    return this.worker.stop();
  }
}

/** `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

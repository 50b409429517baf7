/**
 * uid -> user name, for the {{.Username}} template variable and the
 * effective_username family. process-exporter asks Go's os/user, which (built
 * without cgo, as the Debian package is) reads /etc/passwd and falls back to
 * the uid as text; we do the same. The file is the only host file outside
 * procfs that the process metrics read; the composition root hands in the
 * function that reads it (src/config reads operator files). It is re-read at
 * most once a minute, and only when a uid is not in it, so a user created
 * after start is named.
 */

/** Parses passwd(5) lines `name:x:uid:gid:gecos:home:shell`; the first entry for a uid wins. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || f[0] === '') continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && uid >= 0 && !out.has(uid)) out.set(uid, f[0]!);
  }
  return out;
}

const REREAD_MS = 60_000;

export class UserNames {
  private names = new Map<number, string>();
  private readAt = -Infinity;

  constructor(
    /** Returns the passwd text; throws when there is none (then every user is its uid). */
    private readonly readPasswd: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  name(uid: number): string {
    const known = this.names.get(uid);
    if (known !== undefined) return known;
    if (this.now() - this.readAt >= REREAD_MS) {
      this.readAt = this.now();
      try {
        this.names = parsePasswd(this.readPasswd());
      } catch {
        // no passwd (distroless container): every user is its uid, as in Go's os/user fallback
      }
      const found = this.names.get(uid);
      if (found !== undefined) return found;
    }
    return String(uid);
  }
}

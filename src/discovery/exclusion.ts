/**
 * Which processes are not worth watching: the host's own plumbing and the
 * monitoring agents themselves. Matching is "the process name
 * contains the entry", case-sensitive: `systemd`
 * also excludes systemd-resolved and systemd-networkd.
 *
 * The built-in entries exclude only a process that is what its name claims,
 * because any process can name itself: an unprivileged user running a
 * listener renamed `systemd-backdoor` must not vanish from port monitoring.
 * A built-in entry therefore also requires
 * - the file name of the real executable (the exe link, which a rename does
 *   not change) to contain the entry, and
 * - the process to run as root, or its executable to be a regular file owned
 *   by root and writable by nobody else: a package-installed binary such as
 *   /usr/bin/prometheus run by its own service account. A copy of a binary
 *   under a new name belongs to whoever made it.
 * When the exe link cannot be read, a built-in entry does not apply.
 * Entries the operator adds (EXCLUDED_PROCESS_NAMES, the exclusion file) keep
 * the plain "name contains" rule: the operator decides what they hide.
 */
import type { ExecutableIdentity } from '../procfs/pid-exe-file';

/** Built-in entries. EXCLUDED_PROCESS_NAMES adds to these; it cannot remove them. */
export const BUILTIN_EXCLUDED_NAMES: readonly string[] = [
  'systemd',
  'zabbix',
  'prometheus', // also Debian's prometheus-process-exporter, whose comm is "prometheus-proc"
  'node_exporter',
  'process-exporte',
  'otelcol',
  'alloy',
  'grafana-agent',
  'telegraf',
  'datadog-agent',
  'vmagent',
  'filebeat',
  'metricbeat',
  'fluent-bit',
  'chronyd',
  'dhclient',
];

/** Basename of a path (exe links are absolute; a fallback argv[0] might not be). */
function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** A built-in entry applies: the name matched, and the executable shows the process is that program. */
export function isGenuine(entry: string, id: ExecutableIdentity): boolean {
  if (id.exePath === undefined || !baseName(id.exePath).includes(entry)) return false;
  if (id.uid === 0 && id.euid === 0) return true;
  const f = id.exeFile;
  return f !== undefined && f.regular && f.uid === 0 && (f.mode & 0o022) === 0;
}

export class ExclusionList {
  /** Every entry, built-in first (for logs and the status page). */
  readonly entries: readonly string[];
  /** Entries from the operator: plain "name contains" matches. */
  private readonly extra: ReadonlySet<string>;

  constructor(extra: readonly string[] = []) {
    this.extra = new Set(extra.filter((e) => e !== ''));
    this.entries = [...new Set([...BUILTIN_EXCLUDED_NAMES, ...this.extra])];
  }

  /**
   * The first entry that excludes the process, or undefined when it is
   * watched. `identity` is read only when a built-in entry's name matches.
   */
  match(processName: string, identity: () => ExecutableIdentity): string | undefined {
    let id: ExecutableIdentity | undefined;
    return this.entries.find((e) => {
      if (!processName.includes(e)) return false;
      if (this.extra.has(e)) return true;
      id ??= identity();
      return isGenuine(e, id);
    });
  }
}

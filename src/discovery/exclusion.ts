/**
 * Which processes are not worth watching: the host's own plumbing and the
 * monitoring agents themselves (seed 000). Matching is "the process name
 * contains the entry", case-sensitive, as the seed specifies: `systemd`
 * also excludes systemd-resolved and systemd-networkd.
 */

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

export class ExclusionList {
  readonly entries: readonly string[];

  constructor(extra: readonly string[] = []) {
    this.entries = [...new Set([...BUILTIN_EXCLUDED_NAMES, ...extra.filter((e) => e !== '')])];
  }

  /** The first entry contained in `processName`, or undefined when the process is watched. */
  match(processName: string): string | undefined {
    return this.entries.find((e) => processName.includes(e));
  }
}

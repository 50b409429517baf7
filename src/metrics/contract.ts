/**
 * The metric contract, declared once as data. Names, label names, types and
 * HELP are what users' dashboards and alerts are written against (the
 * node_*_port_alive names an existing port exporter made common;
 * process-exporter 0.7.10 for namedprocess_*), so they live here and nowhere
 * else: the producer builds data points from these specs, the README table is
 * checked against them, and tests compare the exposition with them.
 *
 * Naming rules that keep names identical in Prometheus and through every
 * OTLP -> Prometheus translator (the Collector's prometheus exporter and
 * prometheusremotewrite exporter, Prometheus' own OTLP receiver, Alloy, VictoriaMetrics):
 * counters are cumulative monotonic sums whose names end in `_total`; a unit
 * is set only when its Prometheus word already ends the name (`s` for
 * *_seconds, `By` for *_bytes), so no translator appends a suffix.
 */

/** Which `collect[]` / `exclude[]` group a family belongs to (node_exporter-style filters). */
export type FamilyGroup = 'ports' | 'http' | 'udp' | 'process_alive' | 'namedprocess' | 'self';
export const FAMILY_GROUPS: readonly FamilyGroup[] = ['ports', 'http', 'udp', 'process_alive', 'namedprocess', 'self'];

export interface FamilySpec {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** UCUM unit for OTLP; '' unless the name already ends with the unit's word. */
  unit: '' | 's' | 'By';
  labels: readonly string[];
  group: FamilyGroup;
  /** Where the value comes from, for the README. */
  source: string;
}

const PORT_LABELS = ['process_name', 'exe_path', 'port'] as const;

/**
 * Labels added to the port families and node_process_alive only for ports
 * outside the host's network namespace (containers, pods, `ip netns`): the
 * host's series keep exactly the labels above, and two containers serving the
 * same program on the same port stay two series. Prometheus allows series of
 * one family to have different label sets. `container_id` is the runtime's id
 * from the owner's cgroup, else `netns-<namespace inode>`; `pod_uid` only
 * under a Kubernetes pod cgroup (kube_pod_info{uid} joins on it).
 */
export const NAMESPACE_LABELS = ['container_id', 'pod_uid'] as const;

export const PORT_FAMILIES = {
  tcpAlive: {
    name: 'node_tcp_port_alive',
    type: 'gauge',
    help: 'Whether the listening TCP port accepts a connection (1) or not (0), from the last cached probe.',
    unit: '',
    labels: PORT_LABELS,
    group: 'ports',
    source: 'TCP connect every PORT_STATUS_INTERVAL',
  },
  tcpResponse: {
    name: 'node_tcp_port_response_seconds',
    type: 'gauge',
    help: 'TCP connect time of the last cached probe in seconds (0 when the connect failed).',
    unit: 's',
    labels: PORT_LABELS,
    group: 'ports',
    source: 'TCP connect every PORT_STATUS_INTERVAL',
  },
  httpAlive: {
    name: 'node_http_port_alive',
    type: 'gauge',
    help: 'Whether the port answered an HTTP request with a status line (1) or is down or hung (0); only ports that once answered HTTP.',
    unit: '',
    labels: PORT_LABELS,
    group: 'http',
    source: 'HEAD / every PORT_HTTP_STATUS_INTERVAL',
  },
  udpAlive: {
    name: 'node_udp_port_alive',
    type: 'gauge',
    help: 'Whether a UDP socket is still bound to the port (1) or not (0).',
    unit: '',
    labels: PORT_LABELS,
    group: 'udp',
    source: '/proc/net/udp{,6} every PORT_UDP_STATUS_INTERVAL',
  },
  processAlive: {
    name: 'node_process_alive',
    type: 'gauge',
    help: 'Whether a process with this name and executable that owns a discovered port is running (1) or not (0).',
    unit: '',
    labels: ['process_name', 'exe_path'],
    group: 'process_alive',
    source: '/proc/<pid>/stat every PROCESS_ALIVE_STATUS_INTERVAL',
  },
} as const satisfies Record<string, FamilySpec>;

/**
 * Why a port reads 0 (issue 10). Kept apart from PORT_FAMILIES, whose five
 * families are the original contract and do not change.
 */
export const PORT_DIAGNOSTIC_FAMILIES = {
  tcpProbeFailures: {
    name: 'node_tcp_port_probe_failures_total',
    type: 'counter',
    help: 'Failed TCP probes of the port by reason (refused, timeout, unreachable, reset, error), counted while the port is in the pool; a reason appears at its first failure.',
    unit: '',
    labels: [...PORT_LABELS, 'reason'],
    group: 'ports',
    source: 'TCP connect every PORT_STATUS_INTERVAL',
  },
  httpStatusCode: {
    name: 'node_http_port_status_code',
    type: 'gauge',
    help: 'HTTP status code of the last HTTP probe (0 when nothing answered); only ports that once answered HTTP.',
    unit: '',
    labels: PORT_LABELS,
    group: 'http',
    source: 'HEAD / every PORT_HTTP_STATUS_INTERVAL',
  },
} as const satisfies Record<string, FamilySpec>;

/**
 * --compat.port-exporter (off by default): the family of the small Go port
 * exporter many teams copied, for their existing dashboards. Its type there
 * is untyped; OpenTelemetry has no such type, so it is a gauge.
 */
export const COMPAT_FAMILIES = {
  portExporter: {
    name: 'custom_port_exporter',
    type: 'gauge',
    help: 'Listening TCP socket (one series per socket); the value is the owning pid. --compat.port-exporter.',
    unit: '',
    labels: ['host', 'app', 'port', 'state', 'pid'],
    group: 'ports',
    source: 'socket tables and fd scan every PORT_STATUS_INTERVAL',
  },
} as const satisfies Record<string, FamilySpec>;

/**
 * Every option the daemon accepts, declared once as data: its flag, its
 * environment variable, its default and how to parse it. `loadConfig` is a
 * pure function of (argv, env); `--help` and the README's option table are
 * rendered from the same table, so they cannot drift apart.
 *
 * Precedence: flag > environment > default. Flags follow the node_exporter
 * style (`--web.listen-address=:9464` or `--web.listen-address :9464`;
 * booleans as `--threads`, `--no-threads` or `--threads=false`). Go's single
 * dash (`-threads=false`, as process-exporter documents it) is accepted too.
 */
import { formatDuration, parseDuration } from './duration';
import { redactUrl } from './redact';
import { MAX_TIMER_MS } from '../util/long-timer';

export type ExporterName = 'prometheus' | 'otlp';
export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  listenAddress: string;
  telemetryPath: string;
  webConfigFile: string | undefined;
  maxRequests: number;
  maxConnections: number;
  enableLifecycle: boolean;
  procfs: string;
  rootfs: string;
  /** Directory of the pool state file; undefined: the default directory when usable; '': off. */
  storagePath: string | undefined;
  portStatusIntervalMs: number;
  httpStatusIntervalMs: number;
  udpStatusIntervalMs: number;
  processAliveIntervalMs: number;
  portLabelIntervalMs: number;
  portCheckTimeoutMs: number;
  maxParallelIpChecks: number;
  httpDetectionConcurrency: number;
  portCheckConcurrency: number;
  enableHttpDetection: boolean;
  excludedProcessNames: string[];
  excludedProcessNamesFile: string | undefined;
  expectFile: string | undefined;
  processMetrics: boolean;
  processSampleIntervalMs: number;
  processConfigPath: string | undefined;
  procnames: string[];
  children: boolean;
  threads: boolean;
  gatherSmaps: boolean;
  removeEmptyGroups: boolean;
  netstatMaxPerProcess: number;
  /** Add container_id to namedprocess_namegroup_* of processes in containers (off: process-exporter's label set). */
  processContainerLabel: boolean;
  labelValueMaxLength: number;
  compatPortExporter: boolean;
  exporters: ExporterName[];
  otlpEndpoint: string;
  otlpHeaders: Record<string, string>;
  otlpCompression: 'none' | 'gzip';
  otlpProtocol: OtlpProtocol;
  otlpTimeoutMs: number;
  exportIntervalMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  logLevel: LogLevel;
  once: boolean;
}

/** A configuration value that cannot be used. `key` names the flag or env var as the user wrote it. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key}: ${detail}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string) => T;

interface OptionSpec<K extends keyof Config = keyof Config> {
  key: K;
  /** Flag name without dashes, e.g. `web.listen-address`. */
  flag?: string;
  env?: string;
  /** Further env vars read when `env` is unset, in order (e.g. the OTLP generic vs signal-specific pair). */
  envFallback?: string[];
  /** Default value, or a function of the already-resolved config (e.g. intervals that follow another). */
  def: Config[K] | ((c: Config) => Config[K]);
  /** How the default reads in --help. */
  defText?: string;
  parse: Parser<Config[K]>;
  /** Accepted values, for --help and error messages. */
  accepts: string;
  boolean?: boolean;
  /** The value may carry credentials: an error never echoes it (URLs are shown redacted). */
  secret?: boolean;
  help: string;
  section: 'web' | 'discovery' | 'probes' | 'process' | 'export' | 'general';
}

/** `detail` replaces the default message; it never carries the raw value of a secret option. */
class InvalidValue extends Error {
  constructor(readonly detail?: string) {
    super(detail);
  }
}

/**
 * Upper bounds. Periods above 2^31 ms are waited for as chained timers (see
 * src/util/long-timer.ts), so a 30d rebuild works; a year is where a period
 * stops being a period and becomes a typo. A single connect or HTTP exchange
 * waiting more than an hour is a typo too. The OTLP interval and timeout go
 * to the OpenTelemetry SDK's own timers, which cannot wait beyond 2^31-1 ms.
 */
const MAX_PERIOD_MS = 365 * 86_400_000;
const MAX_CHECK_TIMEOUT_MS = 3_600_000;

function durationAtMost(max: number): Parser<number> {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms === undefined || ms <= 0 || ms > max) throw new InvalidValue();
    return ms;
  };
}
const duration = durationAtMost(MAX_PERIOD_MS);
const checkTimeout = durationAtMost(MAX_CHECK_TIMEOUT_MS);
const positiveInt: Parser<number> = (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidValue();
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidValue();
  return n;
};
const timerMs: Parser<number> = (raw) => {
  const n = positiveInt(raw);
  if (n > MAX_TIMER_MS) throw new InvalidValue();
  return n;
};
const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new InvalidValue();
};
const optionalPath: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : raw);
const nonEmpty: Parser<string> = (raw) => {
  if (raw.trim() === '') throw new InvalidValue();
  return raw;
};
const commaList: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (raw) => {
    const v = raw.trim().toLowerCase() as T;
    if (!values.includes(v)) throw new InvalidValue();
    return v;
  };
}

const exporterList: Parser<ExporterName[]> = (raw) => {
  const names = commaList(raw.toLowerCase());
  if (names.length === 0) throw new InvalidValue();
  const out = new Set<ExporterName>();
  for (const n of names) {
    if (n === 'none') continue;
    if (n !== 'prometheus' && n !== 'otlp') throw new InvalidValue();
    out.add(n);
  }
  if (names.includes('none') && out.size > 0) throw new InvalidValue();
  return [...out];
};

/**
 * `k=v,k2=v2` with percent-decoding, as the OpenTelemetry spec defines for headers and resource attributes.
 * An error names the item (by position, and by key where there is one) and never echoes a value: these
 * lists carry API keys.
 */
function keyValueList(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  const items = raw.split(',');
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InvalidValue(`item ${i + 1} is not key=value (expected k=v,k2=v2, percent-encoded)`);
    let key: string;
    try {
      key = decodeURIComponent(item.slice(0, eq).trim());
    } catch {
      throw new InvalidValue(`item ${i + 1} has a key that is not valid percent-encoding`);
    }
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new InvalidValue(`the value of ${JSON.stringify(key.slice(0, 64))} is not valid percent-encoding`);
    }
  }
  return out;
}

const httpUrl: Parser<string> = (raw) => {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new InvalidValue();
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidValue();
  return u.toString();
};

const listenAddress: Parser<string> = (raw) => {
  // host:port, :port, [v6]:port
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[3]) > 65535) throw new InvalidValue();
  return raw.trim();
};

const urlPath: Parser<string> = (raw) => {
  if (!raw.startsWith('/') || raw.length < 2 || /\s/.test(raw)) throw new InvalidValue();
  return raw;
};

const DURATION = `a duration like 500ms, 1s, 1m, 8h (at most ${formatDuration(MAX_PERIOD_MS)})`;
const CHECK_TIMEOUT = `a duration like 500ms, 1s (at most ${formatDuration(MAX_CHECK_TIMEOUT_MS)})`;
const TIMER_MS = `milliseconds (integer, at most ${MAX_TIMER_MS})`;

export const OPTIONS: readonly OptionSpec[] = [
  // --- web
  { key: 'listenAddress', flag: 'web.listen-address', def: ':9464', parse: listenAddress, accepts: '[host]:port', section: 'web',
    help: 'Address to serve /metrics, /healthz and the status page on. ":9464" is every interface; "127.0.0.1:9464" loopback only.' },
  { key: 'telemetryPath', flag: 'web.telemetry-path', def: '/metrics', parse: urlPath, accepts: 'a URL path starting with /', section: 'web',
    help: 'Path under which the Prometheus exposition is served.' },
  { key: 'webConfigFile', flag: 'web.config.file', def: undefined, defText: '(none)', parse: optionalPath, accepts: 'a file path', section: 'web',
    help: 'Exporter-toolkit web config (TLS, basic auth, headers), as every Prometheus exporter takes it.' },
  { key: 'maxRequests', flag: 'web.max-requests', def: 40, parse: positiveInt, accepts: 'a positive integer', section: 'web',
    help: 'Concurrent HTTP requests served; beyond it requests get 503.' },
  { key: 'maxConnections', flag: 'web.max-connections', def: 512, parse: positiveInt, accepts: 'a positive integer', section: 'web',
    help: 'Open HTTP connections; beyond it the oldest connection with no request in progress is closed (or the new one, when all are busy).' },
  { key: 'enableLifecycle', flag: 'web.enable-lifecycle', def: false, parse: bool, boolean: true, accepts: 'true|false', section: 'web',
    help: 'Enable POST /-/reload.' },
  // --- discovery
  { key: 'procfs', flag: 'path.procfs', env: 'PROC_PREFIX', def: '/proc', parse: nonEmpty, accepts: 'a directory', section: 'discovery',
    help: 'procfs mount point. In a container mount the host /proc (e.g. at /host/proc) and point this at it.' },
  { key: 'rootfs', flag: 'path.rootfs', env: 'ROOTFS_PATH', def: '/', parse: nonEmpty, accepts: 'a directory', section: 'discovery',
    help: "Host root filesystem (node_exporter's flag): its etc/passwd resolves effective_username. In a container mount the host / (e.g. at /host) and point this at it." },
  { key: 'storagePath', flag: 'storage.path', env: 'STORAGE_PATH', def: undefined, defText: '/var/lib/otel-host-receiver when it exists and is writable, else off', parse: (raw) => raw.trim(), accepts: 'a writable directory, or empty for off', section: 'discovery',
    help: 'Where the port pool is kept across restarts (pool.json), so a service that died while the agent was down reads 0 at once after a restart.' },
  { key: 'portLabelIntervalMs', flag: 'port.label-interval', env: 'PORT_LABEL_INTERVAL', def: 8 * 3_600_000, parse: duration, accepts: DURATION, section: 'discovery',
    help: 'Full rebuild of the port<->process pool. Ports gone at a rebuild lose their series; new listeners are added every PORT_STATUS_INTERVAL.' },
  { key: 'excludedProcessNames', flag: 'exclude.process-names', env: 'EXCLUDED_PROCESS_NAMES', def: [], defText: '(built-in list only)', parse: commaList, accepts: 'comma-separated names', section: 'discovery',
    help: 'Extra process names to ignore, merged with the built-in list of system and monitoring agents. A process is excluded when its name contains any entry.' },
  { key: 'excludedProcessNamesFile', flag: 'exclude.process-names-file', env: 'EXCLUDED_PROCESS_NAMES_FILE', def: undefined, defText: '(none)', parse: optionalPath, accepts: 'a file path', section: 'discovery',
    help: 'More exclusion entries, one per line (# comments), re-read on SIGHUP and POST /-/reload.' },
  { key: 'expectFile', flag: 'expect.file', env: 'EXPECT_FILE', def: undefined, defText: '(none)', parse: optionalPath, accepts: 'a file path', section: 'discovery',
    help: 'YAML list of the ports and process groups that must exist: they read 0 from the start until they do. Re-read on SIGHUP and POST /-/reload.' },
  // --- probes
  { key: 'portStatusIntervalMs', flag: 'port.status-interval', env: 'PORT_STATUS_INTERVAL', def: 60_000, parse: duration, accepts: DURATION, section: 'probes',
    help: 'TCP connect probe period (node_tcp_port_alive, node_tcp_port_response_seconds); also how often new listeners are looked for.' },
  { key: 'httpStatusIntervalMs', flag: 'port.http-status-interval', env: 'PORT_HTTP_STATUS_INTERVAL', def: (c) => c.portStatusIntervalMs, defText: 'PORT_STATUS_INTERVAL', parse: duration, accepts: DURATION, section: 'probes',
    help: 'HTTP probe period (node_http_port_alive).' },
  { key: 'udpStatusIntervalMs', flag: 'port.udp-status-interval', env: 'PORT_UDP_STATUS_INTERVAL', def: (c) => c.portStatusIntervalMs, defText: 'PORT_STATUS_INTERVAL', parse: duration, accepts: DURATION, section: 'probes',
    help: 'UDP socket presence check period (node_udp_port_alive).' },
  { key: 'processAliveIntervalMs', flag: 'process.alive-interval', env: 'PROCESS_ALIVE_STATUS_INTERVAL', def: 60_000, parse: duration, accepts: DURATION, section: 'probes',
    help: 'Process presence check period (node_process_alive).' },
  { key: 'portCheckTimeoutMs', flag: 'port.check-timeout', env: 'PORT_CHECK_TIMEOUT', def: 1000, parse: checkTimeout, accepts: CHECK_TIMEOUT, section: 'probes',
    help: 'Bound on every single TCP connect and HTTP exchange.' },
  { key: 'maxParallelIpChecks', flag: 'port.max-parallel-ip-checks', env: 'MAX_PARALLEL_IP_CHECKS', def: 8, parse: positiveInt, accepts: 'a positive integer', section: 'probes',
    help: 'Concurrent connects when a port must be tried on every local address.' },
  { key: 'portCheckConcurrency', flag: 'port.check-concurrency', env: 'PORT_CHECK_CONCURRENCY', def: 64, parse: positiveInt, accepts: 'a positive integer', section: 'probes',
    help: 'Ports probed at once during a TCP sweep.' },
  { key: 'httpDetectionConcurrency', flag: 'http.detection-concurrency', env: 'HTTP_DETECTION_CONCURRENCY', def: 10, parse: positiveInt, accepts: 'a positive integer', section: 'probes',
    help: 'Ports probed at once during an HTTP sweep.' },
  { key: 'enableHttpDetection', flag: 'http.detection', env: 'ENABLE_HTTP_DETECTION', def: true, parse: bool, boolean: true, accepts: 'true|false', section: 'probes',
    help: 'Probe TCP ports for HTTP (node_http_port_alive).' },
  // --- process metrics (namedprocess_namegroup_*)
  { key: 'processMetrics', flag: 'collector.namedprocess', env: 'ENABLE_PROCESS_METRICS', def: true, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'Per-process resource metrics (namedprocess_namegroup_*).' },
  { key: 'processSampleIntervalMs', flag: 'process.sample-interval', env: 'PROCESS_SAMPLE_INTERVAL', def: 15_000, parse: duration, accepts: DURATION, section: 'process',
    help: 'How often every process is sampled; exports read the last sample.' },
  { key: 'processConfigPath', flag: 'config.path', def: undefined, defText: '(one group per process: <comm>_<pid>)', parse: optionalPath, accepts: 'a file path', section: 'process',
    help: 'process-exporter YAML config (process_names matchers and name templates).' },
  { key: 'procnames', flag: 'procnames', def: [], defText: '(none)', parse: commaList, accepts: 'comma-separated names', section: 'process',
    help: 'process-exporter style: group only processes whose comm is in this list (each name its own group).' },
  { key: 'children', flag: 'children', def: true, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'process-exporter style: processes not matched themselves join the group of a matched ancestor.' },
  { key: 'threads', flag: 'threads', def: true, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'Per-thread-name families (namedprocess_namegroup_thread_*); off means task files are not read for them.' },
  { key: 'gatherSmaps', flag: 'gather-smaps', def: true, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'Read smaps_rollup for proportionalResident/proportionalSwapped memory; off means it is not read at all.' },
  { key: 'removeEmptyGroups', flag: 'remove-empty-groups', def: false, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'Forget configured groups once they have no member (per-process groups are always removed).' },
  { key: 'netstatMaxPerProcess', flag: 'process.netstat-max', env: 'PROCESS_NETSTAT_MAX', def: 256, parse: positiveInt, accepts: 'a positive integer', section: 'process',
    help: 'At most this many namedprocess_namegroup_netstat series per process; the rest are counted as dropped.' },
  { key: 'processContainerLabel', flag: 'process.container-label', def: false, parse: bool, boolean: true, accepts: 'true|false', section: 'process',
    help: 'Add container_id (from the process cgroup) to namedprocess_namegroup_* of processes in containers; off keeps the process-exporter label set.' },
  // --- export
  { key: 'exporters', flag: 'metrics.exporter', env: 'OTEL_METRICS_EXPORTER', def: ['prometheus', 'otlp'], defText: 'prometheus,otlp', parse: exporterList, accepts: 'comma list of prometheus, otlp, or none', section: 'export',
    help: 'Which exports run. Both read the same MeterProvider.' },
  { key: 'otlpEndpoint', flag: 'otlp.endpoint', env: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', def: 'http://localhost:4318/v1/metrics', parse: httpUrl, accepts: 'an http(s) URL', section: 'export', secret: true,
    help: 'Full OTLP/HTTP metrics URL. OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, /v1/metrics appended) is used when this is unset.' },
  { key: 'otlpHeaders', flag: 'otlp.headers', env: 'OTEL_EXPORTER_OTLP_HEADERS', def: {}, defText: '(none)', parse: keyValueList, accepts: 'k=v,k2=v2 (percent-encoded)', section: 'export', secret: true,
    help: 'Headers on every OTLP request (API keys). OTEL_EXPORTER_OTLP_METRICS_HEADERS is merged over them. Never logged.' },
  { key: 'otlpCompression', flag: 'otlp.compression', env: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', envFallback: ['OTEL_EXPORTER_OTLP_COMPRESSION'], def: 'none', parse: oneOf(['none', 'gzip'] as const), accepts: 'none|gzip', section: 'export',
    help: 'OTLP request compression.' },
  { key: 'otlpProtocol', flag: 'otlp.protocol', env: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', envFallback: ['OTEL_EXPORTER_OTLP_PROTOCOL'], def: 'http/protobuf', parse: oneOf(['http/protobuf', 'http/json'] as const), accepts: 'http/protobuf|http/json (grpc is not supported)', section: 'export',
    help: 'OTLP encoding.' },
  { key: 'otlpTimeoutMs', flag: 'otlp.timeout', env: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', envFallback: ['OTEL_EXPORTER_OTLP_TIMEOUT'], def: 10_000, parse: timerMs, accepts: TIMER_MS, section: 'export',
    help: 'Bound on one OTLP export including retries.' },
  { key: 'exportIntervalMs', flag: 'otlp.interval', env: 'OTEL_METRIC_EXPORT_INTERVAL', def: 60_000, parse: timerMs, accepts: TIMER_MS, section: 'export',
    help: 'OTLP push period.' },
  { key: 'serviceName', flag: 'service.name', env: 'OTEL_SERVICE_NAME', def: 'otel-host-receiver', parse: nonEmpty, accepts: 'a non-empty string', section: 'export',
    help: 'Resource service.name (the job in Prometheus terms).' },
  { key: 'resourceAttributes', flag: 'resource.attributes', env: 'OTEL_RESOURCE_ATTRIBUTES', def: {}, defText: '(none)', parse: keyValueList, accepts: 'k=v,k2=v2 (percent-encoded)', section: 'export',
    help: 'Extra resource attributes.' },
  { key: 'labelValueMaxLength', flag: 'label.max-length', env: 'LABEL_VALUE_MAX_LENGTH', def: 512, parse: positiveInt, accepts: 'a positive integer', section: 'export',
    help: 'Label values taken from the host (names, paths) are cut to this many characters.' },
  { key: 'compatPortExporter', flag: 'compat.port-exporter', env: 'COMPAT_PORT_EXPORTER', def: false, parse: bool, boolean: true, accepts: 'true|false', section: 'export',
    help: 'Also export custom_port_exporter{host,app,port,state,pid} (value: pid), one series per listening TCP socket, as the small Go port exporter does, for dashboards built on it.' },
  // --- general
  { key: 'logLevel', flag: 'log.level', env: 'LOG_LEVEL', def: 'info', parse: oneOf(['debug', 'info', 'warn', 'error'] as const), accepts: 'debug|info|warn|error', section: 'general',
    help: 'Log verbosity (logs go to stderr, one line each).' },
  { key: 'once', flag: 'once', def: false, parse: bool, boolean: true, accepts: 'true|false', section: 'general',
    help: 'Run one full cycle (discovery, probes, process sample), print the exposition to stdout and exit.' },
] as OptionSpec[];

export type LoadResult = { kind: 'config'; config: Config } | { kind: 'help' } | { kind: 'version' };

function normaliseFlag(arg: string): string | undefined {
  if (arg.startsWith('--')) return arg.slice(2);
  if (arg.startsWith('-') && arg.length > 2) return arg.slice(1);
  return undefined;
}

/** Pure: argv (without node and script) and env in, a complete Config out, or a ConfigError naming the key. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LoadResult {
  const fromFlags = new Map<OptionSpec, string>();
  const byFlag = new Map(OPTIONS.filter((o) => o.flag).map((o) => [o.flag!, o]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const body = normaliseFlag(arg);
    if (body === undefined) throw new ConfigError(arg, 'unexpected argument (options start with --; see --help)');
    if (body === 'help' || body === 'h') return { kind: 'help' };
    if (body === 'version') return { kind: 'version' };
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let spec = byFlag.get(name);
    if (!spec && name.startsWith('no-') && value === undefined) {
      spec = byFlag.get(name.slice(3));
      if (spec?.boolean) {
        name = name.slice(3);
        value = 'false';
      } else {
        spec = undefined;
      }
    }
    if (!spec) throw new ConfigError(`--${name}`, 'unknown flag (see --help)');
    if (value === undefined) {
      if (spec.boolean) value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new ConfigError(`--${name}`, `needs a value (${spec.accepts})`);
        value = next;
        i++;
      }
    }
    fromFlags.set(spec, value);
  }

  const config = {} as Config;
  const deferred: OptionSpec[] = [];
  const setFrom = (spec: OptionSpec, key: string, raw: string): void => {
    try {
      (config as unknown as Record<string, unknown>)[spec.key] = spec.parse(raw);
    } catch (err) {
      if (err instanceof InvalidValue) {
        if (err.detail !== undefined) throw new ConfigError(key, `invalid value: ${err.detail}`);
        // a secret option's value is shown only as a redacted URL, or not at all
        const shown = !spec.secret ? JSON.stringify(raw) : spec.parse === httpUrl ? JSON.stringify(redactUrl(raw.trim())) : '(not shown: it may hold a credential)';
        throw new ConfigError(key, `invalid value ${shown}: expected ${spec.accepts}`);
      }
      throw err;
    }
  };
  for (const spec of OPTIONS) {
    const flagValue = fromFlags.get(spec);
    if (flagValue !== undefined) {
      setFrom(spec, `--${spec.flag}`, flagValue);
      continue;
    }
    const envName = [spec.env, ...(spec.envFallback ?? [])].find((n) => n !== undefined && env[n] !== undefined && env[n] !== '');
    if (envName !== undefined) {
      setFrom(spec, envName, env[envName]!);
      continue;
    }
    if (typeof spec.def === 'function') deferred.push(spec);
    else (config as unknown as Record<string, unknown>)[spec.key] = spec.def;
  }
  for (const spec of deferred) {
    (config as unknown as Record<string, unknown>)[spec.key] = (spec.def as (c: Config) => unknown)(config);
  }

  // OTLP endpoint: the signal-specific URL is used as is; the generic one is a base with /v1/metrics appended.
  if (!fromFlags.has(OPTIONS.find((o) => o.key === 'otlpEndpoint')!) && !env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (base) {
      let u: URL;
      try {
        u = new URL(base.trim());
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      } catch {
        throw new ConfigError('OTEL_EXPORTER_OTLP_ENDPOINT', `invalid value ${JSON.stringify(redactUrl(base))}: expected an http(s) URL`);
      }
      config.otlpEndpoint = `${u.origin}${u.pathname.replace(/\/$/, '')}/v1/metrics`;
    }
  }
  // Signal-specific headers merge over the generic ones (OTLP exporter spec).
  if (env.OTEL_EXPORTER_OTLP_METRICS_HEADERS && !fromFlags.has(OPTIONS.find((o) => o.key === 'otlpHeaders')!)) {
    try {
      config.otlpHeaders = { ...config.otlpHeaders, ...keyValueList(env.OTEL_EXPORTER_OTLP_METRICS_HEADERS) };
    } catch (err) {
      const detail = err instanceof InvalidValue && err.detail !== undefined ? err.detail : 'expected k=v,k2=v2 (percent-encoded)';
      throw new ConfigError('OTEL_EXPORTER_OTLP_METRICS_HEADERS', `invalid value: ${detail}`);
    }
  }
  if (config.exporters.includes('otlp') && config.exportIntervalMs < config.otlpTimeoutMs) {
    // The SDK refuses a timeout above the interval; clamp instead of failing, as the spec allows.
    config.otlpTimeoutMs = config.exportIntervalMs;
  }
  return { kind: 'config', config };
}

/** Text for --help, grouped by section, every option with its env var and default. */
export function renderHelp(version: string): string {
  const titles: Record<OptionSpec['section'], string> = {
    web: 'Web server',
    discovery: 'Port and process discovery',
    probes: 'Probes',
    process: 'Per-process metrics (process-exporter compatible)',
    export: 'Export (OpenTelemetry)',
    general: 'General',
  };
  const lines = [
    `otel-host-receiver ${version}`,
    'Discovers listening ports and their processes, probes them, reports per-process resource use,',
    'and exports through one OpenTelemetry MeterProvider to Prometheus (pull) and OTLP (push).',
    '',
    'Usage: otel-host-receiver [--flag=value ...]   (flags win over environment variables)',
  ];
  for (const section of Object.keys(titles) as Array<OptionSpec['section']>) {
    lines.push('', `${titles[section]}:`);
    for (const o of OPTIONS.filter((x) => x.section === section)) {
      const names = [o.flag ? `--${o.flag}${o.boolean ? '' : '=<value>'}` : undefined, ...[o.env, ...(o.envFallback ?? [])].map((e) => (e ? `$${e}` : undefined))]
        .filter(Boolean)
        .join('  ');
      lines.push(`  ${names}`);
      lines.push(`      ${o.help}`);
      lines.push(`      accepts: ${o.accepts}; default: ${defaultText(o)}`);
    }
  }
  lines.push('', '  --help      this text', '  --version   print the version and exit', '');
  return lines.join('\n');
}

export function defaultText(o: OptionSpec): string {
  if (o.defText !== undefined) return o.defText;
  if (typeof o.def === 'function') return '(derived)';
  if (o.parse === duration || o.parse === checkTimeout) {
    return formatDuration(o.def as number);
  }
  return Array.isArray(o.def) ? o.def.join(',') : String(o.def);
}

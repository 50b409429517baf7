/**
 * A page for people: what the daemon sees right now. Plain server-rendered
 * HTML, no scripts (its Content-Security-Policy allows none), readable on a phone, reloading itself every 30 s; the same
 * data as JSON at /api/status. Every interpolated string is escaped, not only
 * the ones from the host (process names, paths, which any local user chooses):
 * a browser test (test/pipelines/status-page.test.ts) loads pages built from
 * hostile values and checks nothing in them runs. Names and paths are cut to
 * --label.max-length, as in the exposition.
 *
 * Both are built once per data version (StatusCache), like the exposition: on
 * a host with 3,000 ports /api/status is ~1 MB and took ~50 ms to build, on
 * every request.
 */
import { createHash } from 'node:crypto';
import type { Route } from './server';
import { NO_CONTENT_CSP, send } from './server';
import { capLabel, type CacheMetricProducer } from '../metrics/producer';
import type { Config } from '../config/options';
import type { PortPool } from '../discovery/port-pool';
import type { SelfStats } from '../self-stats';
import type { Telemetry } from './telemetry';
import { VERSION } from '../version';
import { redactUrl } from '../config/redact';

export interface StatusPort {
  protocol: 'tcp' | 'udp';
  port: number;
  processName: string;
  exePath: string;
  pid: number;
  addresses: string[];
  tcpAlive?: 0 | 1;
  responseSeconds?: number;
  httpAlive?: 0 | 1;
  isHttp: boolean;
  udpAlive?: 0 | 1;
  lastCheck?: string;
  /** Last failed TCP probe: why (refused, timeout, unreachable, reset, error) and when. */
  lastFailureReason?: string;
  lastFailureAt?: string;
  /** Status code of the last HTTP probe; 0 when nothing answered. */
  httpStatus?: number;
  /** Outside the host network namespace: its nsfs inode, and the container_id / pod_uid labels. */
  netns?: { inode: number; containerId?: string; podUid?: string };
  /** How the port is checked: a TCP connect, or its socket's presence in its namespace's table (UDP; loopback-only or unreachable namespace ports). */
  check?: 'connect' | 'socket';
}

/** Main figures of one process group, read from the namedprocess_namegroup_* families. */
export interface StatusGroup {
  groupname: string;
  procs?: number;
  threads?: number;
  /** user + system, cumulative. */
  cpuSeconds?: number;
  residentBytes?: number;
  virtualBytes?: number;
  openFds?: number;
  worstFdRatio?: number;
}

/** The page lists at most this many groups (by resident memory) unless asked for all (`/?groups=all`); /api/status has them all. */
export const STATUS_PAGE_MAX_GROUPS = 50;

export interface StatusData {
  version: string;
  /** service.name: the `job` on every export path. */
  service: string;
  now: string;
  ports: StatusPort[];
  /** `labels`: container_id / pod_uid of a process outside the host network namespace. */
  processes: Array<{ processName: string; exePath: string; pids: number[]; alive?: 0 | 1; labels?: Record<string, string> }>;
  /** Process groups, largest resident memory first; empty when per-process metrics are off or not sampled yet. */
  groups: StatusGroup[];
  excluded: Array<{ protocol: string; port: number; processName: string; pid: number; reason: string }>;
  stages: Record<string, { durationSeconds: number; success: 0 | 1; lastRun: string; runs: number; failures: number; lastError?: string }>;
  otlp: { enabled: boolean; endpoint?: string; up: 0 | 1; exports: number; failures: number; lastError?: string; lastSuccess?: string };
  discovery: { unownedSockets: number; unreadableProcesses: number };
}

const iso = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString() : undefined);

const GROUP_PREFIX = 'namedprocess_namegroup_';

/**
 * Groups from the same families the exports carry (the metric contract), not from the
 * collector's internals: what the page shows is what Prometheus gets.
 */
/**
 * What the page reads: the caches, counters and a few settings, never the
 * daemon itself (the composition root depends on this file, not the other way).
 */
export interface StatusSource {
  readonly config: Pick<Config, 'labelValueMaxLength' | 'serviceName' | 'otlpEndpoint' | 'telemetryPath'>;
  readonly pool: PortPool;
  readonly stats: SelfStats;
  readonly producer: Pick<CacheMetricProducer, 'families'>;
  readonly telemetry: Pick<Telemetry, 'otlp'>;
}

export function processGroups(d: StatusSource): StatusGroup[] {
  const groups = new Map<string, StatusGroup>();
  for (const f of d.producer.families()) {
    const family = f.spec.name;
    if (!family.startsWith(GROUP_PREFIX)) continue;
    for (const p of f.points) {
      const groupname = p.attributes.groupname;
      if (groupname === undefined) continue;
      // with --process.container-label one name can be a group per container
      const cid = p.attributes.container_id;
      const key = cid === undefined ? groupname : `${groupname} [${cid}]`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { groupname: key }));
      switch (family.slice(GROUP_PREFIX.length)) {
        case 'num_procs':
          g.procs = p.value;
          break;
        case 'num_threads':
          g.threads = p.value;
          break;
        case 'cpu_seconds_total':
          g.cpuSeconds = (g.cpuSeconds ?? 0) + p.value;
          break;
        case 'memory_bytes':
          if (p.attributes.memtype === 'resident') g.residentBytes = p.value;
          else if (p.attributes.memtype === 'virtual') g.virtualBytes = p.value;
          break;
        case 'open_filedesc':
          g.openFds = p.value;
          break;
        case 'worst_fd_ratio':
          g.worstFdRatio = p.value;
          break;
      }
    }
  }
  return [...groups.values()].sort((a, b) => (b.residentBytes ?? 0) - (a.residentBytes ?? 0) || a.groupname.localeCompare(b.groupname));
}

export function statusData(d: StatusSource): StatusData {
  const max = d.config.labelValueMaxLength;
  const cut = (v: string): string => capLabel(v, max);
  const ports = [...d.pool.ports()]
    .sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port)
    .map<StatusPort>((p) => ({
      protocol: p.protocol,
      port: p.port,
      processName: cut(p.processName),
      exePath: cut(p.exePath),
      pid: p.pid,
      addresses: p.addresses,
      ...(p.netns ? { netns: { inode: p.netns.inode, containerId: p.identityLabels?.container_id, podUid: p.identityLabels?.pod_uid } } : {}),
      check: p.protocol === 'udp' ? 'socket' : (p.check ?? 'connect'),
      tcpAlive: p.tcp?.alive,
      responseSeconds: p.tcp?.responseSeconds,
      httpAlive: p.http?.everAnswered ? p.http.alive : undefined,
      isHttp: p.http?.everAnswered ?? false,
      udpAlive: p.udp?.alive,
      lastCheck: iso(Math.max(p.tcp?.checkedAt ?? 0, p.udp?.checkedAt ?? 0, p.http?.checkedAt ?? 0) || undefined),
      lastFailureReason: p.tcp?.lastFailure?.reason,
      lastFailureAt: iso(p.tcp?.lastFailure?.at),
      httpStatus: p.http?.everAnswered ? (p.http.status ?? 0) : undefined,
    }));
  const stages: StatusData['stages'] = {};
  for (const [stage, s] of d.stats.stages) {
    stages[stage] = {
      durationSeconds: s.durationSeconds,
      success: s.success,
      lastRun: new Date(s.lastRunSeconds * 1000).toISOString(),
      runs: s.runs,
      failures: s.failures,
      lastError: s.lastError,
    };
  }
  const o = d.stats.otlp;
  return {
    version: VERSION,
    service: d.config.serviceName,
    now: new Date().toISOString(),
    ports,
    processes: d.pool
      .processes()
      .map((p) => ({ processName: cut(p.processName), exePath: cut(p.exePath), pids: p.refs.map((r) => r.pid), alive: p.alive?.alive, ...(p.identityLabels ? { labels: p.identityLabels } : {}) })),
    groups: processGroups(d).map((g) => ({ ...g, groupname: cut(g.groupname) })),
    excluded: d.pool.excluded().map((x) => ({ ...x, processName: cut(x.processName) })),
    stages,
    otlp: {
      enabled: d.telemetry.otlp !== undefined,
      endpoint: d.telemetry.otlp ? redactUrl(d.config.otlpEndpoint) : undefined,
      up: o.up,
      exports: o.exports,
      failures: o.failures,
      lastError: o.lastError,
      lastSuccess: iso(o.lastSuccessAt),
    },
    discovery: { unownedSockets: d.stats.discovery.unowned, unreadableProcesses: d.stats.discovery.deniedPids },
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const state = (v: 0 | 1 | undefined, up = 'up', down = 'DOWN'): string =>
  v === undefined ? '<span class="na">–</span>' : v === 1 ? `<span class="up">${up}</span>` : `<span class="down">${down}</span>`;

function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const num = (n: number | undefined, digits = 0): string => (n === undefined ? '' : n.toFixed(digits));

/** The page's only style sheet, inline; allowed by its hash in PAGE_CSP. */
const STYLE = `
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}
.wrap{overflow-x:auto}.path{word-break:break-all}
.up{color:#176b2c;font-weight:600}.down{color:#b00020;font-weight:700}.na{color:#888}
`;

/**
 * The page's Content-Security-Policy: nothing may load or run but its own
 * style element (CSP Level 2 hash source, https://www.w3.org/TR/CSP2/#source-list-valid-hashes).
 * It has no script, so script injection has nothing to ride on even if an
 * escape were missed.
 */
export const PAGE_CSP = NO_CONTENT_CSP.replace("default-src 'none';", `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}';`);

/** Seconds between automatic reloads of the page. */
export const STATUS_REFRESH_SECONDS = 30;

export function renderStatusPage(s: StatusData, telemetryPath: string, opts: { allGroups?: boolean } = {}): string {
  const e = escapeHtml;
  const ms = (seconds: number): string => `${(seconds * 1000).toFixed(2)} ms`;
  const rows = s.ports
    .map(
      (p) =>
        `<tr><td>${e(p.protocol)}</td><td>${p.port}</td><td>${e(p.processName)}</td><td class="path">${e(p.exePath)}</td><td>${p.pid}</td>` +
        `<td class="path">${e(p.addresses.join(' '))}</td>` +
        `<td>${p.protocol === 'tcp' ? state(p.tcpAlive) : state(p.udpAlive)}</td>` +
        `<td>${p.responseSeconds !== undefined && p.tcpAlive === 1 ? ms(p.responseSeconds) : ''}</td>` +
        `<td>${p.isHttp ? state(p.httpAlive) : ''}</td><td>${e(p.lastCheck ?? '')}</td>` +
        `<td>${p.lastFailureReason ? `${e(p.lastFailureReason)} at ${e(p.lastFailureAt ?? '')}` : ''}</td>` +
        `<td class="path">${p.netns ? e(`${p.netns.containerId ?? ''}${p.netns.podUid ? ` pod ${p.netns.podUid}` : ''} (net:[${p.netns.inode}])`) : 'host'}</td><td>${p.check ?? ''}</td></tr>`,
    )
    .join('\n');
  const excluded = s.excluded.map((x) => `<tr><td>${e(x.protocol)}</td><td>${x.port}</td><td>${e(x.processName)}</td><td>${x.pid}</td><td>${e(x.reason)}</td></tr>`).join('\n');
  const procs = s.processes.map((p) => `<tr><td>${e(p.processName)}</td><td class="path">${e(p.exePath)}</td><td>${p.pids.join(', ')}</td><td>${state(p.alive)}</td></tr>`).join('\n');
  const stages = Object.entries(s.stages)
    .map(([k, v]) => `<tr><td>${e(k)}</td><td>${state(v.success, 'ok', 'FAILED')}</td><td>${(v.durationSeconds * 1000).toFixed(1)} ms</td><td>${e(v.lastRun)}</td><td>${v.runs}</td><td>${v.failures}</td><td>${e(v.lastError ?? '')}</td></tr>`)
    .join('\n');
  const otlp = s.otlp.enabled
    ? `${state(s.otlp.up, 'healthy', 'FAILING')} to <code>${e(s.otlp.endpoint ?? '')}</code>: ${s.otlp.exports} exports, ${s.otlp.failures} failed` +
      `${s.otlp.lastSuccess ? `; last success ${e(s.otlp.lastSuccess)}` : ''}${s.otlp.lastError ? `; last error: ${e(s.otlp.lastError)}` : ''}`
    : 'disabled (OTEL_METRICS_EXPORTER)';
  const shownGroups = opts.allGroups ? s.groups : s.groups.slice(0, STATUS_PAGE_MAX_GROUPS);
  const groups = shownGroups
    .map(
      (g) =>
        `<tr><td>${e(g.groupname)}</td><td>${num(g.procs)}</td><td>${num(g.threads)}</td><td>${g.cpuSeconds === undefined ? '' : `${g.cpuSeconds.toFixed(2)} s`}</td>` +
        `<td>${bytes(g.residentBytes)}</td><td>${bytes(g.virtualBytes)}</td><td>${num(g.openFds)}</td>` +
        `<td${(g.worstFdRatio ?? 0) > 0.9 ? ' class="down"' : ''}>${g.worstFdRatio === undefined ? '' : `${(g.worstFdRatio * 100).toFixed(1)} %`}</td></tr>`,
    )
    .join('\n');
  const groupsSection =
    s.groups.length === 0
      ? '<p id="groups-none">No per-process metrics: --collector.namedprocess is off, or the first sample has not run yet.</p>'
      : `${s.groups.length > shownGroups.length ? `<p>The ${shownGroups.length} largest by resident memory; <a href="/?groups=all">show all ${s.groups.length}</a>.</p>` : ''}` +
        `<div class="wrap"><table id="groups"><thead><tr><th>Group</th><th>Procs</th><th>Threads</th><th>CPU time</th><th>Resident</th><th>Virtual</th><th>Open fds</th><th>Worst fd ratio</th></tr></thead><tbody>${groups}</tbody></table></div>`;
  const down = s.ports.filter((p) => (p.protocol === 'tcp' ? p.tcpAlive : p.udpAlive) === 0).length;
  const hung = s.ports.filter((p) => p.isHttp && p.httpAlive === 0 && p.tcpAlive === 1).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<title>otel-host-receiver</title>
<style>${STYLE}</style></head><body>
<h1>otel-host-receiver ${e(s.version)}</h1>
<p>job <code>${e(s.service)}</code> · <a href="${e(telemetryPath)}">Metrics</a> · <a href="/api/status">JSON</a> · <a href="/healthz">Health</a> · ${e(s.now)}</p>
<p id="summary">${s.ports.length} ports: ${down === 0 ? '<span class="up">none down</span>' : `<span class="down">${down} down</span>`}${hung > 0 ? `, <span class="down">${hung} HTTP hung</span>` : ''}.</p>
<h2>Ports (${s.ports.length})</h2>
<div class="wrap"><table id="ports"><thead><tr><th>Proto</th><th>Port</th><th>Process</th><th>Executable</th><th>PID</th><th>Bound on</th><th>State</th><th>Connect</th><th>HTTP</th><th>Last check</th><th>Last failure</th><th>Namespace</th><th>Checked by</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<h2>Processes (${s.processes.length})</h2>
<div class="wrap"><table id="processes"><thead><tr><th>Process</th><th>Executable</th><th>PIDs</th><th>Alive</th></tr></thead><tbody>${procs}</tbody></table></div>
<h2>Process groups (${s.groups.length})</h2>
${groupsSection}
<h2>Excluded (${s.excluded.length})</h2>
<div class="wrap"><table id="excluded"><thead><tr><th>Proto</th><th>Port</th><th>Process</th><th>PID</th><th>Matched</th></tr></thead><tbody>${excluded}</tbody></table></div>
<p>Unowned listening sockets: ${s.discovery.unownedSockets}; processes with unreadable fd tables: ${s.discovery.unreadableProcesses}${s.discovery.unreadableProcesses > 0 ? ' (run as root or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)' : ''}.</p>
<h2>OTLP export</h2><p id="otlp">${otlp}</p>
<h2>Stages</h2>
<div class="wrap"><table id="stages"><thead><tr><th>Stage</th><th>Last</th><th>Duration</th><th>Last run</th><th>Runs</th><th>Failures</th><th>Last error</th></tr></thead><tbody>${stages}</tbody></table></div>
</body></html>
`;
}

/** Stands for `now` in a cached rendering; each answer puts the current time in its place. */
const NOW_MARK = '\u0000now\u0000';

/** A rendering split around its `now`: [before, after]. */
type Split = readonly [Buffer, Buffer];

function splitAt(text: string, mark: string): Split {
  const at = text.indexOf(mark);
  return [Buffer.from(text.slice(0, at)), Buffer.from(text.slice(at + mark.length))];
}

/**
 * The status JSON and pages, rebuilt only when the data behind them changed:
 * the pool's generation and result versions, the stages' run counts (every
 * process sample and discovery is a run) and the OTLP counters. `now` is
 * filled in per answer, so it is always the time of the request.
 */
export class StatusCache {
  private version: string | undefined;
  private data: StatusData | undefined;
  private json: Split | undefined;
  private readonly pages = new Map<boolean, Split>();
  /** How many times the data was built (tests). */
  builds = 0;

  constructor(private readonly d: StatusSource) {}

  private dataVersion(): string {
    const { pool, stats } = this.d;
    let runs = 0;
    for (const s of stats.stages.values()) runs += s.runs;
    const o = stats.otlp;
    return `${pool.generation}/${pool.versions.tcp}/${pool.versions.http}/${pool.versions.udp}/${pool.versions.process}/${runs}/${o.exports}/${o.failures}/${o.up}`;
  }

  private fresh(): StatusData {
    const version = this.dataVersion();
    if (this.data === undefined || version !== this.version) {
      this.data = { ...statusData(this.d), now: NOW_MARK };
      this.version = version;
      this.json = undefined;
      this.pages.clear();
      this.builds++;
    }
    return this.data;
  }

  /** /api/status: the body, in parts. */
  jsonParts(): Buffer[] {
    const data = this.fresh();
    this.json ??= splitAt(JSON.stringify(data, null, 2) + '\n', JSON.stringify(NOW_MARK));
    return [this.json[0], Buffer.from(JSON.stringify(new Date().toISOString())), this.json[1]];
  }

  /** The page (the largest groups, or all of them), in parts. */
  pageParts(allGroups: boolean): Buffer[] {
    const data = this.fresh();
    let page = this.pages.get(allGroups);
    if (!page) {
      page = splitAt(renderStatusPage(data, this.d.config.telemetryPath, { allGroups }), NOW_MARK);
      this.pages.set(allGroups, page);
    }
    return [page[0], Buffer.from(escapeHtml(new Date().toISOString())), page[1]];
  }
}

export function statusRoutes(d: StatusSource, cache = new StatusCache(d)): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      handle: (_req, res, url) => {
        // the server's default policy allows no style; a policy from the web config stays as it is
        const csp: Record<string, string> = res.getHeader('Content-Security-Policy') === NO_CONTENT_CSP ? { 'Content-Security-Policy': PAGE_CSP } : {};
        send(res, 200, cache.pageParts(url.searchParams.get('groups') === 'all'), 'text/html; charset=utf-8', csp);
      },
    },
    { method: 'GET', path: '/api/status', handle: (_req, res) => send(res, 200, cache.jsonParts(), 'application/json') },
  ];
}

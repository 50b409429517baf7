/**
 * The port<->process pool: the memory of what should be listening on this
 * host, and the cache every probe writes into and every export reads from.
 *
 * Life cycle of a port (what an alert writer relies on):
 * - a full rebuild (at start, then every PORT_LABEL_INTERVAL) sets the pool to
 *   exactly what listens now; ports no longer found leave the pool, and with
 *   them every series they had, in both exports at once;
 * - between rebuilds, a cheap pass every PORT_STATUS_INTERVAL adds new
 *   listeners and re-binds a port whose socket now belongs to another process
 *   (a restarted service gets new inodes, often a new pid);
 * - a port that stops listening stays in the pool and its probes read 0 until
 *   the next rebuild: that 0 is what "service down" alerts fire on.
 *
 * Probe results live on the entries and survive passes for the same
 * protocol+port+process identity.
 */
import type { ExcludedPort, ListeningPort, ProcessRef } from './listeners';
import { portKey } from './listeners';

/**
 * Why a TCP probe failed, as the `reason` label of
 * node_tcp_port_probe_failures_total (src/probes/failure-reason.ts maps
 * connect errors to these). Declared with the pool, which keeps the counts,
 * so that data flows from discovery to probes and never back.
 */
export const FAILURE_REASONS = ['refused', 'timeout', 'unreachable', 'reset', 'error'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface TcpState {
  alive: 0 | 1;
  /** Connect time of the last probe, in seconds (0 when the connect failed). */
  responseSeconds: number;
  checkedAt: number;
  /** Address that answered last; tried first next time. */
  address?: string;
  error?: string;
  /** Failed probes by reason, counted while the port is in the pool (node_tcp_port_probe_failures_total). */
  failures?: Partial<Record<FailureReason, number>>;
  /** When the first failure was counted: the counter series' start time. */
  failuresSince?: number;
  lastFailure?: { reason: FailureReason; at: number };
}

export interface HttpState {
  /** Answered HTTP at least once while in the pool: only such ports have a node_http_port_alive series. */
  everAnswered: boolean;
  /** Detection has run for this port (since it entered the pool or since the last rebuild). */
  detected: boolean;
  alive: 0 | 1;
  checkedAt: number;
  status?: number;
  error?: string;
}

export interface UdpState {
  alive: 0 | 1;
  checkedAt: number;
}

export interface PortEntry extends ListeningPort {
  /**
   * How a port outside the host namespace is checked: a connect to `targets`
   * (its namespace's addresses the host routes to), or its socket's presence
   * in its namespace's table. Host ports are always connect-probed.
   */
  check?: 'connect' | 'socket';
  targets?: string[];
  /**
   * Remembered from the state file (--storage.path) and not found listening
   * since the start: no process (pid 0), no socket; its probes read 0 and are
   * not run. Leaves at the first rebuild after the start's, or becomes a live
   * entry when a listener for it appears.
   */
  remembered?: true;
  tcp?: TcpState;
  http?: HttpState;
  udp?: UdpState;
}

export interface ProcessEntry {
  processName: string;
  exePath: string;
  /** Extra identity labels (container_id, pod_uid) of a process outside the host network namespace. */
  identityLabels?: Record<string, string>;
  /** The processes behind this identity that own pool ports. */
  refs: ProcessRef[];
  alive?: { alive: 0 | 1; checkedAt: number };
}

export function processKey(p: { processName: string; exePath: string; identityLabels?: Record<string, string> }): string {
  return p.identityLabels ? `${p.processName}\0${p.exePath}\0${labelsKey(p.identityLabels)}` : `${p.processName}\0${p.exePath}`;
}

function labelsKey(labels: Record<string, string> | undefined): string {
  return labels ? Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join('\0') : '';
}

/**
 * Key of a pool entry: its series identity. A port of the host namespace is
 * protocol/port (portKey); one of another namespace also has its identity
 * labels (container_id, pod_uid), which, unlike the namespace's inode, a
 * port remembered in the state file (--storage.path) still has after a
 * restart.
 */
export function entryKey(p: { protocol: 'tcp' | 'udp'; port: number; identityLabels?: Record<string, string> }): string {
  const base = portKey({ protocol: p.protocol, port: p.port });
  return p.identityLabels ? `${base}\0${labelsKey(p.identityLabels)}` : base;
}

/** Same series identity: process and extra labels (a restarted container has a new id: a new series). */
function sameOwner(a: ProcessRef & { identityLabels?: Record<string, string> }, b: ProcessRef & { identityLabels?: Record<string, string> }): boolean {
  return a.processName === b.processName && a.exePath === b.exePath && labelsKey(a.identityLabels) === labelsKey(b.identityLabels);
}

export class PortPool {
  private entries = new Map<string, PortEntry>();
  private processMap = new Map<string, ProcessEntry>();
  private excludedList: ExcludedPort[] = [];
  /** Inodes already looked at and found excluded or unowned; skipped by the cheap pass until the next rebuild. */
  private ignoredInodes = new Set<number>();
  /** Bumped on every membership change; exports cache on it. */
  generation = 0;
  /**
   * Bumped by each stage when it has finished writing its results (publish).
   * A sweep in progress is not visible to exports until it completes, so an
   * export never mixes two sweeps.
   */
  readonly versions = { tcp: 0, http: 0, udp: 0, process: 0 };

  publish(kind: keyof PortPool['versions']): void {
    this.versions[kind]++;
  }
  lastRebuildAt = 0;

  private portList: PortEntry[] = [];
  private countsByProtocol = { tcp: 0, udp: 0 };

  /** The pool's ports (a shared array, rebuilt on membership changes: do not modify). */
  ports(): readonly PortEntry[] {
    return this.portList;
  }

  counts(): Readonly<{ tcp: number; udp: number }> {
    return this.countsByProtocol;
  }

  get(protocol: 'tcp' | 'udp', port: number): PortEntry | undefined {
    return this.entries.get(entryKey({ protocol, port }));
  }

  processes(): ProcessEntry[] {
    return [...this.processMap.values()];
  }

  excluded(): readonly ExcludedPort[] {
    return this.excludedList;
  }

  /** Every inode the pool knows, owned or ignored. */
  knownInodes(): Set<number> {
    const known = new Set(this.ignoredInodes);
    for (const e of this.entries.values()) for (const i of e.inodes) known.add(i);
    return known;
  }

  /**
   * Full rebuild: the pool becomes exactly `found`. Probe state is kept for
   * ports whose owner identity did not change. HTTP detection is reset for
   * ports that never answered HTTP, so a service that became HTTP is found
   * within one rebuild.
   */
  rebuild(found: ListeningPort[], excluded: ExcludedPort[], ignoredInodes: Iterable<number>, now: number): void {
    const next = new Map<string, PortEntry>();
    for (const p of found) {
      const old = this.entries.get(entryKey(p));
      next.set(entryKey(p), old && sameOwner(old, p) ? { ...old, ...p, remembered: undefined, http: resetDetection(old.http) } : { ...p });
    }
    // the first rebuild after remember() keeps the remembered ports it did not find (reading 0); the next forgets them
    if (this.keepRemembered) {
      for (const [key, e] of this.entries) if (e.remembered && !next.has(key)) next.set(key, withZeroState(e, now));
      this.keepRemembered = false;
    }
    this.entries = next;
    this.excludedList = excluded;
    this.ignoredInodes = new Set(ignoredInodes);
    this.lastRebuildAt = now;
    this.refreshProcesses();
  }

  /**
   * The cheap pass: adds ports not in the pool and re-binds ports whose
   * sockets changed owner. Never removes anything.
   */
  merge(found: ListeningPort[], excluded: ExcludedPort[], ignoredInodes: Iterable<number>): void {
    for (const p of found) {
      const key = entryKey(p);
      const old = this.entries.get(key);
      this.entries.set(key, old && sameOwner(old, p) ? { ...old, ...p, remembered: undefined } : { ...p });
    }
    for (const x of excluded) {
      if (!this.excludedList.some((e) => e.protocol === x.protocol && e.port === x.port)) this.excludedList.push(x);
    }
    for (const i of ignoredInodes) this.ignoredInodes.add(i);
    this.refreshProcesses();
  }

  private keepRemembered = false;

  /**
   * Adds ports remembered from the state file, before the first discovery.
   * `listeningNow` says which of them have a listening socket at this moment:
   * those wait for discovery and their first probe (no series meanwhile);
   * the others have no listener, a true 0 from the first scrape on.
   */
  remember(ports: PortEntry[], listeningNow: (p: PortEntry) => boolean, now: number): void {
    const pending = new Set<string>();
    for (const p of ports) {
      const key = entryKey(p);
      if (this.entries.has(key)) continue;
      const listening = listeningNow(p);
      if (listening) pending.add(processKey(p));
      this.entries.set(key, listening ? { ...p, remembered: true } : withZeroState({ ...p, remembered: true }, now));
    }
    this.keepRemembered = true;
    this.refreshProcesses();
    for (const [key, pe] of this.processMap) if (pe.refs.length === 0 && !pe.alive && !pending.has(key)) pe.alive = { alive: 0, checkedAt: now };
    this.publish('tcp');
    this.publish('udp');
    this.publish('process');
  }

  private refreshProcesses(): void {
    const next = new Map<string, ProcessEntry>();
    for (const e of this.entries.values()) {
      const key = processKey(e);
      let pe = next.get(key);
      if (!pe) {
        const old = this.processMap.get(key);
        pe = { processName: e.processName, exePath: e.exePath, refs: [], alive: old?.alive, ...(e.identityLabels ? { identityLabels: e.identityLabels } : {}) };
        next.set(key, pe);
      }
      if (!e.remembered && !pe.refs.some((r) => r.pid === e.pid && r.startTicks === e.startTicks)) {
        pe.refs.push({ pid: e.pid, startTicks: e.startTicks, processName: e.processName, exePath: e.exePath });
      }
    }
    this.processMap = next;
    this.portList = [...this.entries.values()];
    this.countsByProtocol = {
      tcp: this.portList.filter((p) => p.protocol === 'tcp').length,
      udp: this.portList.filter((p) => p.protocol === 'udp').length,
    };
    this.generation++;
  }
}

/** A port known to have no listener: its probes read 0 (a true 0) without being run. */
function withZeroState(e: PortEntry, now: number): PortEntry {
  if (e.protocol === 'udp') return { ...e, udp: e.udp ?? { alive: 0, checkedAt: now } };
  return { ...e, tcp: e.tcp ?? { alive: 0, responseSeconds: 0, checkedAt: now } };
}

function resetDetection(http: HttpState | undefined): HttpState | undefined {
  if (!http || http.everAnswered) return http;
  return { ...http, detected: false };
}

/**
 * The port side of the daemon: keeps the pool current and runs the probes
 * into it. Each method is one stage, run by its own StageRunner; none of them
 * is ever called from a scrape.
 */
import type { ProcFs } from '../procfs/proc-fs';
import { isVanished } from '../procfs/proc-fs';
import { readPidStatSync } from '../procfs/pid-stat';
import type { ExclusionList } from '../discovery/exclusion';
import { portKey, readListeningSockets, resolvePorts, type DiscoveryResult } from '../discovery/listeners';
import type { PortEntry, PortPool } from '../discovery/port-pool';
import { mapLimit } from '../util/concurrency';
import type { SelfStats } from '../self-stats';
import type { LocalAddresses } from './local-addresses';
import { probeTcpPort } from './tcp';
import { probeHttp } from './http';

export interface ProbeSettings {
  portStatusIntervalMs: number;
  portCheckTimeoutMs: number;
  maxParallelIpChecks: number;
  portCheckConcurrency: number;
  httpDetectionConcurrency: number;
  enableHttpDetection: boolean;
}

export class PortMonitor {
  constructor(
    private readonly fs: ProcFs,
    readonly pool: PortPool,
    private exclusion: ExclusionList,
    private readonly local: LocalAddresses,
    private readonly settings: ProbeSettings,
    private readonly stats: SelfStats,
  ) {}

  /** Takes effect at the next discovery pass (reload). */
  setExclusion(exclusion: ExclusionList): void {
    this.exclusion = exclusion;
  }

  /** Full rebuild of the pool (start, then every PORT_LABEL_INTERVAL). */
  async rebuild(): Promise<void> {
    const sockets = await readListeningSockets(this.fs);
    const result = await resolvePorts(this.fs, sockets, this.exclusion);
    this.pool.rebuild(result.ports, result.excluded, ignoredInodes(sockets, result), Date.now());
    this.recordDiscovery(result);
  }

  /** Ports remembered from the state file join the pool (before the first discovery); see PortPool.remember. */
  async remember(ports: PortEntry[]): Promise<void> {
    const sockets = await readListeningSockets(this.fs);
    this.pool.remember(ports, (p) => sockets.has(portKey(p)), Date.now());
  }

  /**
   * The cheap pass (every PORT_STATUS_INTERVAL): four table reads; the fd scan
   * runs only when a port is new or its sockets changed.
   */
  async addNewListeners(): Promise<void> {
    const sockets = await readListeningSockets(this.fs);
    const known = this.pool.knownInodes();
    const changed = new Set<string>();
    for (const [key, list] of sockets) {
      if (list.some((s) => s.inode > 0 && !known.has(s.inode))) changed.add(key);
    }
    if (changed.size === 0) return;
    const result = await resolvePorts(this.fs, sockets, this.exclusion, changed);
    this.pool.merge(result.ports, result.excluded, ignoredInodes(sockets, result, changed));
    this.recordDiscovery(result, true);
  }

  private recordDiscovery(result: DiscoveryResult, incremental = false): void {
    const d = this.stats.discovery;
    d.ports = this.pool.ports().length;
    d.excluded = this.pool.excluded().length;
    d.unowned = incremental ? d.unowned + result.unowned : result.unowned;
    d.deniedPids = result.deniedPids;
  }

  /**
   * TCP connect probe of every TCP port in the pool. The connects are paced
   * over part of the interval (see sweepSpreadMs) rather than fired as one
   * burst: 3,000 handshakes in under a second kept the event loop busy enough
   * to add ~20 ms to every scrape in that second, and a burst of SYNs is not
   * what a polite agent sends its host's services either.
   */
  async tcpSweep(): Promise<void> {
    // a remembered port without a listener keeps its 0 until discovery finds one (it has no address to try)
    const ports = this.pool.ports().filter((p) => p.protocol === 'tcp' && !p.remembered);
    const spacing = sweepSpreadMs(ports.length, this.settings.portStatusIntervalMs) / Math.max(1, ports.length);
    const started = Date.now();
    await mapLimit(ports, this.settings.portCheckConcurrency, async (p, i) => {
      const wait = started + i * spacing - Date.now();
      if (wait >= 1) await sleep(wait);
      const r = await probeTcpPort(
        p.port,
        p.addresses,
        p.tcp?.address,
        this.local,
        this.settings.portCheckTimeoutMs,
        this.settings.maxParallelIpChecks,
      );
      const now = Date.now();
      const prev = p.tcp;
      p.tcp = {
        alive: r.ok ? 1 : 0,
        responseSeconds: r.ok ? r.seconds : 0,
        checkedAt: now,
        address: r.ok ? r.address : prev?.address,
        error: r.error,
        failures: prev?.failures,
        failuresSince: prev?.failuresSince,
        lastFailure: prev?.lastFailure,
      };
      if (!r.ok) {
        const reason = r.reason ?? 'error';
        p.tcp.failures = { ...prev?.failures, [reason]: (prev?.failures?.[reason] ?? 0) + 1 };
        p.tcp.failuresSince ??= now;
        p.tcp.lastFailure = { reason, at: now };
      }
      this.stats.countProbe('tcp', r.ok ? 'success' : r.error === 'timeout' ? 'timeout' : 'failure');
    });
    this.pool.publish('tcp');
  }

  /**
   * HTTP, the smart strategy (no HEAD to services that never spoke HTTP): a port is probed once to detect HTTP
   * (the full sweep after start; new ports as they appear; again after each
   * rebuild for ports that never answered); afterwards only ports that once
   * answered HTTP are probed, and they keep their series while they exist.
   */
  async httpSweep(): Promise<void> {
    if (!this.settings.enableHttpDetection) return;
    const due = this.pool.ports().filter((p) => p.protocol === 'tcp' && !p.remembered && (p.http?.everAnswered || !p.http?.detected));
    await mapLimit(due, this.settings.httpDetectionConcurrency, async (p) => this.probeHttpPort(p));
    this.pool.publish('http');
  }

  private async probeHttpPort(p: PortEntry): Promise<void> {
    const prev = p.http;
    if (p.tcp && p.tcp.alive === 0) {
      // Down for TCP means down for HTTP; an undetected port waits until it is up.
      if (prev?.everAnswered) p.http = { ...prev, alive: 0, checkedAt: Date.now(), status: undefined, error: 'tcp-down' };
      return;
    }
    const address = p.tcp?.address ?? (p.addresses.includes('::') && !p.addresses.includes('0.0.0.0') ? '::1' : '127.0.0.1');
    const r = await probeHttp(address, p.port, this.settings.portCheckTimeoutMs);
    p.http = {
      everAnswered: (prev?.everAnswered ?? false) || r.ok,
      detected: true,
      alive: r.ok ? 1 : 0,
      checkedAt: Date.now(),
      status: r.status,
      error: r.error,
    };
    this.stats.countProbe('http', r.ok ? 'success' : r.error === 'timeout' ? 'timeout' : 'failure');
  }

  /** UDP presence: a socket bound to the port is still in the kernel's tables. */
  async udpCheck(): Promise<void> {
    const ports = this.pool.ports().filter((p) => p.protocol === 'udp' && !p.remembered);
    if (ports.length === 0) return;
    const sockets = await readListeningSockets(this.fs);
    const now = Date.now();
    for (const p of ports) {
      const alive = sockets.has(`udp/${p.port}`) ? 1 : 0;
      p.udp = { alive, checkedAt: now };
      this.stats.countProbe('udp', alive ? 'success' : 'failure');
    }
    this.pool.publish('udp');
  }

  /**
   * Process presence: alive when any process behind the identity still
   * exists with the same start time (a reused pid is another process) and is
   * not a zombie.
   */
  async processAliveCheck(): Promise<void> {
    const dead = await this.checkProcesses();
    // A restarted service (new pid on the same port) is re-bound by the cheap discovery pass; run
    // it now rather than report the identity gone until the next TCP round while its new process
    // already serves.
    if (dead > 0 && this.rediscover) {
      await this.rediscover();
      await this.checkProcesses();
    }
    for (const pe of this.pool.processes()) if (pe.alive) this.stats.countProbe('process', pe.alive.alive ? 'success' : 'failure');
    this.pool.publish('process');
  }

  /**
   * Runs the cheap discovery pass (through its StageRunner, so it never overlaps itself); set by
   * the daemon.
   */
  rediscover: (() => Promise<void>) | undefined;

  /** Sets every pool identity's alive state; returns how many read 0. */
  private async checkProcesses(): Promise<number> {
    const now = Date.now();
    let dead = 0;
    for (const pe of this.pool.processes()) {
      let alive: 0 | 1 = 0;
      for (const ref of pe.refs) {
        try {
          const st = readPidStatSync(this.fs, ref.pid);
          if (st.startTicks === ref.startTicks && st.state !== 'Z' && st.state !== 'X') {
            alive = 1;
            break;
          }
        } catch (err) {
          if (!isVanished(err)) throw err;
        }
      }
      pe.alive = { alive, checkedAt: now };
      if (alive === 0) dead++;
    }
    return dead;
  }
}

/** Time a port may wait for its turn in a sweep: connects are spread, at most one per PACE_MS. */
const PACE_MS = 5;

/**
 * How long a sweep of `ports` is spread over: PACE_MS per port (200 connects
 * a second), but never more than a quarter of the interval, so results stay
 * fresh. 3,000 ports at the default 1m interval take 15 s; 20 ports take 100 ms.
 */
export function sweepSpreadMs(ports: number, intervalMs: number): number {
  return Math.min(ports * PACE_MS, intervalMs / 4);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Inodes of listening sockets that did not become pool ports (excluded or unowned). */
function ignoredInodes(sockets: Map<string, { inode: number }[]>, result: DiscoveryResult, only?: Set<string>): number[] {
  const owned = new Set(result.ports.flatMap((p) => p.inodes));
  const out: number[] = [];
  for (const [key, list] of sockets) {
    if (only && !only.has(key)) continue;
    for (const s of list) if (!owned.has(s.inode)) out.push(s.inode);
  }
  return out;
}

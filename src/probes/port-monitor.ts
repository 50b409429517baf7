/**
 * The port side of the daemon: keeps the pool current and runs the probes
 * into it. Each method is one stage, run by its own StageRunner; none of them
 * is ever called from a scrape.
 */
import type { ProcFs } from '../procfs/proc-fs';
import { isVanished } from '../procfs/proc-fs';
import { readPidStatSync } from '../procfs/pid-stat';
import type { ExclusionList } from '../discovery/exclusion';
import { portKey, readAllListeningSockets, readListeningSockets, resolvePorts, type AllSockets, type DiscoveryResult } from '../discovery/listeners';
import type { PortEntry, PortPool } from '../discovery/port-pool';
import { listNetNamespaces, readThroughMembers, type NetNamespace, type NetNamespaces } from '../discovery/netns';
import { readFibTrieLocalSync, readRoutesSync, type Ipv4Route } from '../procfs/net-addresses';
import { namespaceTargets, probeNamespacePort } from './netns-targets';
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

  /** The network namespaces as last enumerated, and the IPv4 addresses of each (read once per namespace). */
  private namespaces: NetNamespaces | undefined;
  private nsAddresses = new Map<number, string[]>();

  /** Full rebuild of the pool (start, then every PORT_LABEL_INTERVAL). */
  async rebuild(): Promise<void> {
    const namespaces = await this.refreshNamespaces(true);
    const all = await readAllListeningSockets(this.fs, namespaces);
    const result = await resolvePorts(this.fs, all.sockets, this.exclusion, undefined, all.nsOf);
    this.pool.rebuild(result.ports, result.excluded, ignoredInodes(all.sockets, result), Date.now());
    this.assignChecks(true);
    this.recordDiscovery(result);
  }

  /** Ports remembered from the state file join the pool (before the first discovery); see PortPool.remember. */
  async remember(ports: PortEntry[]): Promise<void> {
    const all = await readAllListeningSockets(this.fs, await listNetNamespaces(this.fs));
    // a remembered port of another namespace has no namespace yet (its inode changes with a restart): any namespace will do
    const anywhere = new Set([...all.sockets.keys()].map((k) => k.replace(/@\d+$/, '')));
    this.pool.remember(ports, (p) => (p.identityLabels ? anywhere.has(portKey({ protocol: p.protocol, port: p.port })) : all.sockets.has(portKey(p))), Date.now());
  }

  /**
   * The cheap pass (every PORT_STATUS_INTERVAL): four table reads per network
   * namespace (new namespaces included); the fd scan runs only when a port is
   * new or its sockets changed.
   */
  async addNewListeners(): Promise<void> {
    const namespaces = await this.refreshNamespaces(false);
    const all: AllSockets = await readAllListeningSockets(this.fs, namespaces);
    const known = this.pool.knownInodes();
    const changed = new Set<string>();
    for (const [key, list] of all.sockets) {
      if (list.some((s) => s.inode > 0 && !known.has(s.inode))) changed.add(key);
    }
    if (changed.size === 0) return;
    const result = await resolvePorts(this.fs, all.sockets, this.exclusion, changed, all.nsOf);
    this.pool.merge(result.ports, result.excluded, ignoredInodes(all.sockets, result, changed));
    this.assignChecks(false);
    this.recordDiscovery(result, true);
  }

  /** Re-enumerates namespaces; reads the addresses of new ones (of all, on a rebuild). */
  private async refreshNamespaces(all: boolean): Promise<NetNamespaces> {
    const namespaces = await listNetNamespaces(this.fs);
    const next = new Map<number, string[]>();
    for (const ns of namespaces.byKey.values()) {
      if (ns.host) continue;
      const known = all ? undefined : this.nsAddresses.get(ns.key);
      next.set(ns.key, known ?? (await readThroughMembers(this.fs, ns, async (dir) => readFibTrieLocalSync(this.fs, dir))) ?? []);
    }
    this.nsAddresses = next;
    this.namespaces = namespaces;
    return namespaces;
  }

  /** Decides how each TCP port outside the host namespace is checked (see netns-targets.ts); `all` on a rebuild, else new ports only. */
  private assignChecks(all: boolean): void {
    let routes: Ipv4Route[] | undefined;
    for (const p of this.pool.ports()) {
      if (!p.netns || p.protocol !== 'tcp' || (p.check && !all)) continue;
      routes ??= this.namespaces ? readRoutesSync(this.fs, this.namespaces.host.dir) : [];
      p.targets = namespaceTargets(p.addresses, this.nsAddresses.get(p.netns.key) ?? [], routes, this.local);
      p.check = p.targets.length > 0 ? 'connect' : 'socket';
    }
  }

  /**
   * The listening sockets of the namespaces some of `ports` live in, for
   * socket-state checks: one read per namespace. A namespace that is gone
   * has none.
   */
  private async socketsOf(ports: readonly PortEntry[]): Promise<{ live: Set<number>; sockets: Set<string> }> {
    // a host without other namespaces in the pool: no need to enumerate them again
    const namespaces = !ports.some((p) => p.netns) && this.namespaces ? this.namespaces : await listNetNamespaces(this.fs);
    const live = new Set(namespaces.byKey.keys());
    const sockets = new Set<string>();
    const wanted = new Set<number>();
    // a connect-checked port needs only its namespace to be alive, not its table
    for (const p of ports) if (p.check !== 'connect') wanted.add(p.netns ? p.netns.key : namespaces.host.key);
    for (const key of wanted) {
      const ns: NetNamespace | undefined = namespaces.byKey.get(key);
      if (!ns) continue;
      const ref = ns.host ? undefined : { key: ns.key, inode: ns.inode };
      let found: Map<string, unknown> | undefined;
      try {
        found = await readThroughMembers(this.fs, ns, (dir) => readListeningSockets(this.fs, dir, ref));
      } catch (err) {
        // an unreadable namespace reads as gone; the host's tables fail the stage as before
        if (!ref) throw err;
      }
      if (found) for (const k of found.keys()) sockets.add(k);
    }
    return { live, sockets };
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
    const all = this.pool.ports().filter((p) => p.protocol === 'tcp' && !p.remembered);
    const inNamespaces = all.filter((p) => p.netns);
    const state = inNamespaces.length > 0 ? await this.socketsOf(inNamespaces) : undefined;
    if (state) {
      const now = Date.now();
      for (const p of inNamespaces) {
        if (p.check === 'connect' && state.live.has(p.netns!.key)) continue;
        // socket state: alive while the LISTEN socket is in its namespace's table (no connect, no response time)
        const alive = state.sockets.has(portKey(p)) ? 1 : 0;
        p.tcp = { ...p.tcp, alive, responseSeconds: 0, checkedAt: now, address: undefined, error: alive ? undefined : 'gone' };
        this.stats.countProbe('tcp', alive ? 'success' : 'failure');
      }
    }
    // a connect-checked port of a namespace that is gone reads 0 above and is not connected to
    const ports = all.filter((p) => !p.netns || (p.check === 'connect' && state?.live.has(p.netns.key)));
    const spacing = sweepSpreadMs(ports.length, this.settings.portStatusIntervalMs) / Math.max(1, ports.length);
    const started = Date.now();
    await mapLimit(ports, this.settings.portCheckConcurrency, async (p, i) => {
      const wait = started + i * spacing - Date.now();
      if (wait >= 1) await sleep(wait);
      const r = p.netns
        ? await probeNamespacePort(p.port, p.targets ?? [], p.tcp?.address, this.settings.portCheckTimeoutMs)
        : await probeTcpPort(p.port, p.addresses, p.tcp?.address, this.local, this.settings.portCheckTimeoutMs, this.settings.maxParallelIpChecks);
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
    // outside the host namespace only where a connect is possible, at the address that answered
    const due = this.pool
      .ports()
      .filter((p) => p.protocol === 'tcp' && !p.remembered && (p.http?.everAnswered || !p.http?.detected) && (!p.netns || (p.check === 'connect' && p.tcp?.address)));
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
    if (p.netns && (p.check !== 'connect' || !p.tcp?.address)) return;
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
    const { sockets } = await this.socketsOf(ports);
    const now = Date.now();
    for (const p of ports) {
      const alive = sockets.has(portKey(p)) ? 1 : 0;
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
    const newlyDead = await this.checkProcesses();
    // A restarted service (new pid on the same port) is re-bound by the cheap discovery pass; run
    // it now rather than report the identity gone until the next TCP round while its new process
    // already serves. Only when an identity has just gone: one that stays dead (a stopped service
    // waiting for the rebuild) is left to the TCP round's pass, not looked for again every check.
    if (newlyDead > 0 && this.rediscover) {
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

  /** Sets every pool identity's alive state; returns how many went from 1 (or unchecked) to 0. */
  private async checkProcesses(): Promise<number> {
    const now = Date.now();
    let newlyDead = 0;
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
      if (alive === 0 && pe.alive?.alive !== 0) newlyDead++;
      pe.alive = { alive, checkedAt: now };
    }
    return newlyDead;
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

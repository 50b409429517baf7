/**
 * Wires the parts together, in the direction data flows:
 * procfs -> discovery and process sampling -> probes -> caches -> metric
 * contract (producer) -> export (one MeterProvider; Prometheus and OTLP
 * readers; our HTTP server). Touches no argv, env, signals or exit: that is
 * main.ts's job, so tests can run a whole daemon in-process.
 */
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ConfigError, type Config } from './config/options';
import type { Logger } from './log';
import { ProcFs } from './procfs/proc-fs';
import { procfsRootProblem } from './procfs/root-check';
import { ExclusionList } from './discovery/exclusion';
import { PortPool } from './discovery/port-pool';
import { LocalAddresses } from './probes/local-addresses';
import { PortMonitor } from './probes/port-monitor';
import { SelfStats } from './self-stats';
import { StageRunner } from './scheduler';
import { CacheMetricProducer } from './metrics/producer';
import { portFamilies } from './metrics/port-families';
import { registerSelfMetrics } from './metrics/self-metrics';
import { buildResource } from './export/resource';
import { Telemetry } from './export/telemetry';
import { atMostEvery } from './util/at-most-every';
import { HttpServer, type Route } from './export/server';
import { statusRoutes } from './export/status-page';
import { lifecycleRoutes } from './export/lifecycle';
import type { WebAccess } from './export/web-access';
import { ProcessCollector } from './process/collector';
import { loadExclusionFile } from './config/exclusions';
import { readPasswdFile } from './config/process-names';
import { loadNamer, type LoadedNamer } from './process/namer-loader';
import { Coalescer } from './util/coalescer';
import { PoolFile, storageDirProblem } from './storage/pool-file';
import { loadExpectFile } from './config/expect-file';
import { ExpectedPorts } from './discovery/expected';
import { ListeningSocketOwners } from './discovery/port-exporter-compat';
import { compatFamilies } from './metrics/compat-families';
import * as os from 'node:os';
import { PoolPersistence } from './storage/pool-persistence';

/** Where the pool state file goes when --storage.path is not given, if that directory exists and is writable. */
export const DEFAULT_STORAGE_DIR = '/var/lib/otel-host-receiver';

/**
 * Where the agent reads its own process figures (process_* self-metrics): the
 * /proc of the namespace it runs in, which is not --path.procfs when that
 * points at the host's /proc mounted into a container.
 */
const OWN_PROCFS = '/proc';

export interface DaemonDeps {
  /** Interface addresses (tests pin them); defaults to os.networkInterfaces(). */
  localAddresses?: LocalAddresses;
  hostName?: string;
  machineId?: string;
  /**
   * A full garbage collection, run right after each process sample has
   * rendered its families (main.ts hands in V8's `gc` when the launcher
   * passes --expose-gc; undefined: V8 alone decides). That is when the most
   * garbage exists: the replaced family texts (2.5 MB at 1,000 processes,
   * outside V8's heap, so they do not hasten a collection) and the cycle's
   * parse strings. A pause of 45-80 ms at 1,000 processes, in the sample
   * stage; at most once every GC_MIN_INTERVAL_MS, so a short
   * --process.sample-interval does not pay it every sample.
   */
  collectGarbage?: () => void;
}

/**
 * The shortest time between two collections after a sample
 * (DaemonDeps.collectGarbage): samples 5 s apart or more get one each; at
 * --process.sample-interval=1s every fourth does, so the pause (up to 80 ms
 * at 1,000 processes) stays under 2% of the main thread's time.
 */
export const GC_MIN_INTERVAL_MS = 4_000;

export class Daemon {
  readonly stats = new SelfStats();
  readonly fs: ProcFs;
  readonly pool = new PortPool();
  /** Expected ports (--expect.file): placeholders reading 0 until a matching listener is in the pool. */
  readonly expected = new ExpectedPorts();
  readonly monitor: PortMonitor;
  readonly producer: CacheMetricProducer;
  readonly telemetry: Telemetry;
  private readonly runners: Record<'discovery' | 'discoveryNew' | 'tcp' | 'http' | 'udp' | 'processAlive' | 'processSample', StageRunner>;
  /** namedprocess_namegroup_* (process-exporter compatible); undefined with --no-collector.namedprocess. */
  readonly processes: ProcessCollector | undefined;
  private server: HttpServer | undefined;
  private webAccess: WebAccess | undefined;
  private disposeSelfMetrics: (() => void) | undefined;
  /** The pool state file (--storage.path); undefined when off. Set by start(). */
  persistence: PoolPersistence | undefined;
  /** Resolves when the first discovery and the first round of probes have finished. */
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly config: Config,
    private readonly log: Logger,
    deps: DaemonDeps = {},
  ) {
    this.fs = new ProcFs(config.procfs);
    this.monitor = new PortMonitor(
      this.fs,
      this.pool,
      // throws ConfigError naming --exclude.process-names-file when that file is unreadable
      new ExclusionList([...config.excludedProcessNames, ...loadExclusionFile(config.excludedProcessNamesFile)]),
      deps.localAddresses ?? new LocalAddresses(),
      config,
      this.stats,
    );
    // throws ConfigError naming --expect.file, the file and the entry when it is unusable
    const expectations = loadExpectFile(config.expectFile);
    this.expected.set(expectations.ports);
    const resource = buildResource(config, deps.hostName, deps.machineId);
    this.producer = new CacheMetricProducer(resource, config.labelValueMaxLength);
    this.producer.addCached(portFamilies(this.pool, this.expected));
    // --compat.port-exporter: every listening TCP socket, refreshed with each TCP round
    const compat = config.compatPortExporter ? new ListeningSocketOwners(this.fs) : undefined;
    if (compat) this.producer.addCached(compatFamilies(compat, deps.hostName ?? os.hostname()));
    // throws ConfigError naming --config.path when the process_names file is unusable
    if (config.processMetrics) {
      // the namer and the passwd reader are built here, once, and handed in; reload builds a new namer the same way
      const passwd = path.join(config.rootfs, 'etc', 'passwd');
      this.processes = new ProcessCollector(this.fs, config, this.stats, log, {
        namer: this.loadNaming().namer,
        readPasswd: () => readPasswdFile(passwd),
        expectedGroups: expectations.processGroups,
      });
    }
    if (this.processes) this.producer.addCached(this.processes.cachedFamilies());
    else if (expectations.processGroups.length > 0) log.warn('--expect.file lists process_groups, but --no-collector.namedprocess is set: they are not reported');
    this.telemetry = new Telemetry(config, resource, this.producer, this.stats, log);
    this.disposeSelfMetrics = registerSelfMetrics(this.telemetry.meter, this.stats, this.pool, new ProcFs(OWN_PROCFS), this.telemetry.otlp !== undefined);

    const collectGarbage = deps.collectGarbage && atMostEvery(GC_MIN_INTERVAL_MS, deps.collectGarbage);
    const m = this.monitor;
    const runner = (stage: ConstructorParameters<typeof StageRunner>[0], ms: number, task: () => Promise<void>): StageRunner =>
      new StageRunner(stage, ms, task, this.stats, log);
    const discoveryNew = runner('discovery_new', config.portStatusIntervalMs, async () => {
      await m.addNewListeners();
      this.afterDiscovery();
    });
    m.rediscover = () => discoveryNew.run();
    this.runners = {
      discovery: runner('discovery', config.portLabelIntervalMs, async () => {
        await m.rebuild();
        this.afterDiscovery();
      }),
      discoveryNew,
      // new listeners are looked for right before each TCP sweep, so they are probed in the same round
      tcp: runner('tcp_probe', config.portStatusIntervalMs, async () => {
        await discoveryNew.run();
        await compat?.refresh();
        await m.tcpSweep();
      }),
      http: runner('http_probe', config.httpStatusIntervalMs, () => m.httpSweep()),
      udp: runner('udp_probe', config.udpStatusIntervalMs, () => m.udpCheck()),
      processAlive: runner('process_alive', config.processAliveIntervalMs, () => m.processAliveCheck()),
      processSample: runner('process_sample', config.processSampleIntervalMs, async () => {
        if (!this.processes) return;
        await this.processes.sample();
        // render the new families' Prometheus text here, in the background stage, not in the next scrape
        if (this.telemetry.prometheus) await this.telemetry.prerender();
        collectGarbage?.();
      }),
    };
  }

  private afterDiscovery(): void {
    this.expected.observe(this.pool);
    this.persistence?.changed();
  }

  /** One full cycle: discovery, then every probe. Used at start, by --once and by tests. */
  async cycle(): Promise<void> {
    const r = this.runners;
    const ports = async (): Promise<void> => {
      await r.discovery.run();
      await r.tcp.run();
      await Promise.all([r.http.run(), r.udp.run(), r.processAlive.run()]);
    };
    await Promise.all([ports(), r.processSample.run()]);
  }

  /** Throws ConfigError naming PROC_PREFIX/--path.procfs when the root is missing or not a procfs. */
  async assertProcfs(): Promise<void> {
    const problem = await procfsRootProblem(this.fs.root);
    if (problem) throw new ConfigError('PROC_PREFIX/--path.procfs', problem);
  }

  /**
   * --storage.path: opens the state file and puts the remembered ports in the
   * pool before anything is served. An explicit directory that cannot be used
   * is a ConfigError; the default one is used only when it exists and is
   * writable. One log line either way.
   */
  private async openStorage(): Promise<void> {
    const explicit = this.config.storagePath;
    if (explicit === '') {
      this.log.info('pool state file off (--storage.path is empty): the pool starts empty after each restart');
      return;
    }
    const dir = explicit ?? DEFAULT_STORAGE_DIR;
    const problem = await storageDirProblem(dir);
    if (problem !== undefined) {
      if (explicit !== undefined) throw new ConfigError('--storage.path/STORAGE_PATH', `${JSON.stringify(dir)} is not a writable directory (${problem})`);
      this.log.info('pool state file off: the default directory is not usable; set --storage.path to keep the pool across restarts', { dir, problem });
      return;
    }
    this.persistence = new PoolPersistence(new PoolFile(dir), this.pool, this.log, this.config.portLabelIntervalMs);
    const remembered = await this.persistence.restore(Date.now(), this.config.portLabelIntervalMs);
    if (remembered.length > 0) await this.monitor.remember(remembered);
  }

  /** Serves HTTP at once, then runs the first cycle in the background and starts the periods. */
  async start(extraRoutes: Route[] = [], webAccess?: WebAccess): Promise<AddressInfo> {
    await this.assertProcfs();
    await this.openStorage();
    this.webAccess = webAccess;
    const lifecycle = this.config.enableLifecycle ? lifecycleRoutes(() => this.reload()) : [];
    this.server = new HttpServer(
      {
        listenAddress: this.config.listenAddress,
        telemetryPath: this.config.telemetryPath,
        maxRequests: this.config.maxRequests,
        maxConnections: this.config.maxConnections,
        routes: [...statusRoutes(this), ...lifecycle, ...extraRoutes],
        ...webAccess?.serverOptions(), // --web.config.file: TLS, basic auth, headers on every endpoint
      },
      this.telemetry,
      this.stats,
      this.log,
    );
    webAccess?.bind(this.server);
    const address = await this.server.listen();
    this.ready = this.cycle().then(() => {
      this.logPrivilegeSummary();
      const r = this.runners;
      r.discovery.start();
      r.tcp.start();
      r.http.start();
      r.udp.start();
      r.processAlive.start();
      if (this.processes) r.processSample.start();
    });
    return address;
  }

  /**
   * One line after the first cycle when part of the host could not be read
   * (no root, no CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH, hidepid): what is
   * missing and what to grant. Per-read failures are counted in metrics, never
   * logged one by one.
   */
  private logPrivilegeSummary(): void {
    const unreadable = this.stats.discovery.deniedPids;
    const partial = this.processes?.errorCounts().partialErrors ?? 0;
    // as root a handful of partial reads is normal (PID 1's io is EACCES even for root on some kernels);
    // unreadable fd tables are the sign of missing privilege
    const root = process.getuid?.() === 0;
    if (unreadable === 0 && (partial === 0 || root)) return;
    this.log.warn('running with partial access to /proc: grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (or run as root) for the whole host', {
      unreadable_fd_tables: unreadable,
      unowned_listening_sockets: this.stats.discovery.unowned,
      partial_process_reads: partial,
      effect: 'ports of those processes are not reported; their io/smaps figures are left out, not zeroed',
    });
  }

  /**
   * Re-reads what can change without a restart: the process_names file
   * (--config.path), the exclusion file and the web config. Everything is
   * validated before anything is applied, so a bad file changes nothing and
   * the error says which. Counters, probe caches and the pool survive; the
   * pool is rebuilt at once so a newly excluded process leaves it now.
   * Requests coalesce (SIGHUP and POST /-/reload storms): one reload at a
   * time, at most one more waiting, which every later request joins.
   */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  /**
   * The process namer from --config.path / --procnames, with the file's
   * warnings logged; at start and on reload alike. Throws ConfigError naming
   * --config.path on a bad file (at start main exits 2; a reload keeps the old one).
   */
  private loadNaming(): LoadedNamer {
    const loaded = loadNamer(this.config);
    for (const w of loaded.warnings) this.log.warn('process_names config', { path: this.config.processConfigPath, warning: w });
    return loaded;
  }

  private readonly reloads = new Coalescer(() => this.reloadNow());

  private async reloadNow(): Promise<void> {
    const namer = this.processes && this.config.processConfigPath !== undefined ? this.loadNaming() : undefined;
    const exclusion = new ExclusionList([...this.config.excludedProcessNames, ...loadExclusionFile(this.config.excludedProcessNamesFile)]);
    const expectations = this.config.expectFile !== undefined ? loadExpectFile(this.config.expectFile) : undefined;
    await this.webAccess?.reload(); // validates, then swaps; throws and keeps the old one on a bad file
    if (namer) this.processes!.setNaming(namer.namer);
    this.monitor.setExclusion(exclusion);
    if (expectations) {
      this.expected.set(expectations.ports);
      this.processes?.setExpectedGroups(expectations.processGroups);
    }
    this.log.info('configuration reloaded', {
      exclusions: exclusion.entries.length,
      expected_ports: expectations?.ports.length,
      expected_groups: expectations?.processGroups.length,
    });
    void this.runners.discovery.run();
    if (expectations) void this.runners.processSample.run();
  }

  async stop(flushTimeoutMs = 5000): Promise<void> {
    await Promise.all(Object.values(this.runners).map((r) => r.stop()));
    await this.persistence?.flush();
    await this.server?.close();
    await this.telemetry.shutdown(flushTimeoutMs);
    this.disposeSelfMetrics?.();
  }
}

/**
 * Helpers for the pipeline tests (test/pipelines): real processes on loopback - the daemon,
 * Prometheus, Chromium, promtool - started and always stopped again (listener children are
 * in ./processes).
 *
 * Every child is tracked; whatever a test forgets (or a failed assertion skips) is killed at
 * process exit, so no Prometheus or daemon outlives a test run.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { get } from './http';
import { freePort } from './ports';
import { tempDir } from './tmp';
import { waitFor } from './wait';

/** Repository root, from dist/test/helpers (compiled) - the same depth as dist/test/pipelines. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'src', 'main.js');

export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

/** Absolute path of an executable on PATH (or at a fixed location), undefined when absent. */
export function which(cmd: string, extra: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of [...extra, ...dirs.map((d) => path.join(d, cmd))]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const children = new Set<ChildProcess>();

process.on('exit', () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** A started child process with its output kept for failure messages. */
export class Managed {
  private out = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    children.add(proc);
    const keep = (b: Buffer): void => {
      this.out = (this.out + b.toString('utf8')).slice(-20_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code) => {
        children.delete(proc);
        resolve(code);
      });
      proc.once('error', (err) => {
        this.out += `\nspawn error: ${err.message}`;
        children.delete(proc);
        resolve(null);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Last output lines, for assertion messages. */
  output(lines = 40): string {
    return this.out.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Waits until `url` answers 200; a child that exits first, or never answers, is stopped and the
 * wait fails with `output()` (its last log lines).
 */
export async function untilHealthy(m: Managed, url: string, timeoutMs: number, output: () => string): Promise<void> {
  try {
    await waitFor(`${m.name} ${new URL(url).pathname}`, async () => {
      if (!m.running) throw new Error(`${m.name} exited:\n${output()}`);
      const r = await get(url, {}, 1000);
      return r.status === 200 ? true : undefined;
    }, timeoutMs);
  } catch (err) {
    await m.stop();
    throw err;
  }
}

export interface Daemon extends Managed {
  port: number;
  baseUrl: string;
  scrape(): Promise<string>;
}

/**
 * Runs the built daemon (dist/src/main.js) on a free loopback port with short intervals, as
 * the pipeline tests need: TCP probes every second, a full discovery every 5 s, a process
 * sample every second, Prometheus export only. Resolves when /healthz answers.
 */
export async function startDaemon(opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<Daemon> {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run npx tsc -p . first`);
  const port = await freePort();
  const args = [
    MAIN_JS,
    `--web.listen-address=127.0.0.1:${port}`,
    '--port.status-interval=1s',
    '--port.label-interval=5s',
    '--process.sample-interval=1s',
    ...(opts.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus', ...opts.env },
  });
  const m = new Managed('otel-host-receiver', proc);
  const baseUrl = `http://127.0.0.1:${port}`;
  await untilHealthy(m, `${baseUrl}/healthz`, 15_000, () => m.output());
  return Object.assign(m, {
    port,
    baseUrl,
    async scrape(): Promise<string> {
      const r = await get(`${baseUrl}/metrics`);
      if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
      return r.body;
    },
  });
}

/** Label value escaping of the Prometheus text format. */
export function promLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export interface Prometheus extends Managed {
  url: string;
  dir: string;
  /** Instant query; throws with Prometheus' error message when the expression does not parse or fails. */
  query(expr: string): Promise<PromSample[]>;
  get<T>(apiPath: string): Promise<T>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Starts the Debian `prometheus` binary on a free loopback port with a temporary TSDB and
 * the given configuration (written to <tmp>/prometheus.yml), plus `extraArgs` (e.g.
 * --web.enable-remote-write-receiver). Resolves when /-/ready answers.
 */
export async function startPrometheus(configYaml: string, extraArgs: string[] = []): Promise<Prometheus> {
  const bin = which('prometheus');
  if (!bin) throw new Error('prometheus is not installed (Debian package "prometheus"; .ci/run installs it)');
  const dir = tempDir('prometheus').dir;
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, configYaml);
  const port = await freePort();
  const proc = spawn(
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  const m = new Managed('prometheus', proc);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('prometheus /-/ready', async () => {
      if (!m.running) throw new Error(`prometheus exited:\n${m.output()}`);
      const r = await get(`${url}/-/ready`, {}, 1000);
      return r.status === 200 ? true : undefined;
    }, 20_000);
  } catch (err) {
    await m.stop();
    throw err;
  }
  const api = async <T>(apiPath: string): Promise<T> => {
    const r = await get(`${url}${apiPath}`);
    let body: { status: string; data?: T; errorType?: string; error?: string };
    try {
      body = JSON.parse(r.body) as typeof body;
    } catch {
      throw new Error(`${apiPath}: HTTP ${r.status}, not JSON: ${r.body.slice(0, 200)}`);
    }
    if (body.status !== 'success') throw new Error(`${apiPath}: ${body.errorType ?? 'error'}: ${body.error ?? r.body.slice(0, 200)}`);
    return body.data as T;
  };
  return Object.assign(m, {
    url,
    dir,
    get: api,
    async query(expr: string): Promise<PromSample[]> {
      const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      // scalar / string results come back as one [time, value] pair
      if (data.resultType === 'scalar' || data.resultType === 'string') return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as PromSample[];
    },
  });
}

/** Runs promtool synchronously (it is quick); `input` goes to stdin. */
export function promtool(args: string[], input?: string): SpawnSyncReturns<string> {
  const bin = which('promtool');
  if (!bin) throw new Error('promtool is not installed (Debian package "prometheus"; .ci/run installs it)');
  return spawnSync(bin, args, { input, encoding: 'utf8', timeout: 60_000 });
}

/**
 * The one promtool finding process-exporter's contract forces on us: the gauge
 * namedprocess_namegroup_thread_count ends in _count (process-exporter 0.7.10 draws the same lint).
 */
const CONTRACT_LINT = /^namedprocess_namegroup_thread_count non-histogram and non-summary metrics should not have "_count" suffix$/;

/**
 * `promtool check metrics` over an exposition page: its findings (parse errors and lint) other
 * than CONTRACT_LINT, [] for a clean page. Exit 3 means lint findings only; anything but 0 or 3
 * with no finding printed is reported as a finding.
 */
export function promtoolFindings(page: string): string[] {
  const r = promtool(['check', 'metrics'], page);
  const findings = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const unexpected = findings.filter((l) => !CONTRACT_LINT.test(l));
  if (unexpected.length === 0 && r.status !== 0 && !(r.status === 3 && findings.length > 0)) unexpected.push(`promtool exited ${r.status ?? r.signal}`);
  return unexpected;
}

export function chromiumPath(): string | undefined {
  return process.env.CHROMIUM_BIN ?? which('chromium', ['/usr/bin/chromium']) ?? which('chromium-browser');
}

/**
 * Loads `url` in headless Chromium and returns the DOM after scripts ran and the page loaded
 * (`--dump-dom`). Scripts run as in a real browser, so injected markup would execute.
 */
export async function chromiumDumpDom(url: string, timeoutMs = 60_000): Promise<string> {
  const bin = chromiumPath();
  if (!bin) throw new Error('chromium is not installed (Debian package "chromium"; .ci/run installs it)');
  const profile = tempDir('chromium').dir;
  const proc = spawn(
    bin,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--dump-dom',
      url,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const m = new Managed('chromium', proc);
  let dom = '';
  proc.stdout?.on('data', (b: Buffer) => (dom += b.toString('utf8')));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await m.exited;
  clearTimeout(timer);
  if (code !== 0 || dom === '') throw new Error(`chromium --dump-dom ${url} exited with ${code}:\n${m.output(20)}`);
  return dom;
}

/** Decodes the five entities our status page's escaping produces, plus &amp;-style named ones. */
export function htmlText(s: string): string {
  return s
    .replace(/<[^>]*>/g, '')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * A Node binary reachable under a path of our choosing (a hard link, or a copy when the
 * filesystem refuses links), so a child's /proc/<pid>/exe shows that path.
 */
export function nodeAt(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'node');
  try {
    fs.linkSync(process.execPath, target);
  } catch {
    fs.copyFileSync(process.execPath, target);
    fs.chmodSync(target, 0o755);
  }
  return target;
}

/**
 * The OTLP push into real consumers: VictoriaMetrics single-node and vmagent from Debian
 * trixie's `victoria-metrics` package (fetched and unpacked by scripts/fetch-victoria-metrics.sh,
 * which .ci/run calls), vmagent remote-writing into Debian's Prometheus 2.42. Both run with the
 * shipped otel-config/victoriametrics/ files.
 *
 * Two daemons push OTLP/HTTP protobuf every 2 s for a shared window of more than 30 s, one to
 * VictoriaMetrics, one to vmagent; what the consumers stored is then read back and compared with
 * the daemons' own /metrics. A data point that carries a stale time instead of the time of its
 * export shows up here as too few distinct timestamps (VictoriaMetrics stores the duplicates,
 * Prometheus drops them), or as a batch Prometheus rejects.
 *
 * Skipped with a message when the binaries are absent (no Debian archive reachable, or the
 * script was not run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseExposition, type Exposition, type Sample } from '../helpers/exposition';
import { get as httpGet } from '../helpers/http';
import { Managed, repoPath, startDaemon, startPrometheus, untilHealthy, which, type Daemon, type Prometheus } from '../helpers/pipelines';
import { freePort } from '../helpers/ports';
import { startListener, type Child } from '../helpers/processes';
import { tempDir } from '../helpers/tmp';
import { sleep, waitFor } from '../helpers/wait';

const VM_DIR = process.env.VICTORIA_METRICS_DIR ?? repoPath('.cache', 'victoria-metrics');
const VM_BIN = path.join(VM_DIR, 'usr', 'bin', 'victoria-metrics');
const VMAGENT_BIN = path.join(VM_DIR, 'usr', 'bin', 'vmagent');
const CONFIG_DIR = repoPath('otel-config', 'victoriametrics');
/** Where the shipped *.env files expect relabel.yml to be installed. */
const RELABEL_INSTALLED = '/etc/victoria-metrics/otel-host-receiver-relabel.yml';

const JOB = 'otel-host-receiver';
const TITLE = 'vm-e2e-svc';
const INTERVAL_MS = 2000;
/** The push window shared by both daemons (issue 9: at least 30 s at 2 s). */
const WINDOW_MS = 32_000;
/** Distinct timestamps a series may lack against the pushes since it first arrived (none seen). */
const SLACK = 2;
/**
 * The push clock: a self-metric the SDK observes on every collection, present from the first
 * push on (value 0). Each push adds one sample of it, so its samples count the pushes the
 * consumer stored, and its timestamps say which push a sample of another series came with.
 */
const CLOCK = 'otel_host_receiver_otlp_exports_total';
const CLOCK_LABELS = { result: 'success' };

const executable = (p: string): boolean => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const vmSkip =
  executable(VM_BIN) && executable(VMAGENT_BIN)
    ? false
    : `victoria-metrics / vmagent not found under ${VM_DIR}: run scripts/fetch-victoria-metrics.sh (it fetches Debian trixie's victoria-metrics package; .ci/run does)`;
const promSkip = which('prometheus') ? false : 'prometheus is not installed (Debian package "prometheus"; .ci/run installs it)';

// --- the shipped files -------------------------------------------------------------------

/** The flags of a shipped *.env file (its ARGS="..." line, as the Debian unit passes it). */
function shippedArgs(file: string): string[] {
  const text = fs.readFileSync(path.join(CONFIG_DIR, file), 'utf8');
  const m = /^ARGS="([^"]*)"$/m.exec(text);
  assert.ok(m, `${file} has no ARGS="..." line`);
  return m[1]!.trim().split(/\s+/);
}

const flagName = (arg: string): string => arg.replace(/^-+/, '').split('=')[0]!;

/**
 * The shipped flags with the test's changes only: loopback ports, temporary directories, the
 * relabel file from the repository instead of its installed path, the test's remote-write URL.
 * Every other flag is passed as shipped; an override naming a flag the file lacks is added.
 */
function testArgs(file: string, relabelFlag: string, overrides: Record<string, string>): string[] {
  const args = shippedArgs(file);
  const relabel = args.find((a) => flagName(a) === relabelFlag);
  assert.equal(relabel, `-${relabelFlag}=${RELABEL_INSTALLED}`, `${file} must load relabel.yml through -${relabelFlag}`);
  const all: Record<string, string> = { ...overrides, [relabelFlag]: path.join(CONFIG_DIR, 'relabel.yml') };
  const out = args.map((a) => (flagName(a) in all ? `-${flagName(a)}=${all[flagName(a)]}` : a));
  for (const [k, v] of Object.entries(all)) if (!args.some((a) => flagName(a) === k)) out.push(`-${k}=${v}`);
  return out;
}

// --- processes ---------------------------------------------------------------------------

interface Server extends Managed {
  url: string;
  log: string;
}

/** Starts a VictoriaMetrics binary with its output in a log file; resolves when /health says OK. */
async function startVmBinary(name: string, bin: string, port: number, args: string[]): Promise<Server> {
  const log = path.join(tempDir(name).dir, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const proc = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const m = new Managed(name, proc);
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(m, `${url}/health`, 20_000, () => fs.readFileSync(log, 'utf8').slice(-2000));
  return Object.assign(m, { url, log });
}

function post(url: string, contentType: string, body: string): Promise<{ status: number; body: string }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body }).then(async (r) => ({ status: r.status, body: await r.text() }));
}

/** Sum of the samples of `name` on a /metrics page whose labels include `match` (VictoriaMetrics writes `, ` between labels). */
function metricSum(page: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

// --- what the consumers stored ------------------------------------------------------------

interface Series {
  labels: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** An instant query for a range vector: every stored sample of the matching series. */
interface RangeResult {
  result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
}

/**
 * Pushes from the one that carried `first` on: push-clock samples no earlier than half an
 * interval before it (the SDK stamps its own instruments and the producer's families within
 * milliseconds of each other in one collection).
 */
const pushesSince = (clock: number[], first: number): number => new Set(clock.filter((t) => t >= first - INTERVAL_MS / 2)).size;

const nameOf = (s: Series): string => s.labels.__name__!;
const distinct = (ts: number[]): number => new Set(ts).size;

/** Every raw sample VictoriaMetrics holds, through /api/v1/export (one JSON object per series per line). */
async function vmExport(url: string): Promise<Series[]> {
  await post(`${url}/internal/force_flush`, 'text/plain', '');
  const r = await fetch(`${url}/api/v1/export`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ 'match[]': '{__name__=~".+"}' }).toString(),
  });
  assert.equal(r.status, 200, `/api/v1/export answered ${r.status}`);
  const out: Series[] = [];
  for (const line of (await r.text()).split('\n')) {
    if (line.trim() === '') continue;
    const o = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    out.push({ labels: o.metric, values: o.values, timestamps: o.timestamps });
  }
  return out;
}

/** The series `name` whose labels include `match`: exactly one must exist. */
function one(series: Series[], name: string, match: Record<string, string>): Series {
  const found = series.filter((s) => nameOf(s) === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `${found.length} series ${name}${JSON.stringify(match)} stored`);
  return found[0]!;
}

/** Label set of a sample or series without the name and the labels the relabel file adds. */
function key(name: string, labels: Record<string, string>): string {
  const rest = Object.entries(labels)
    .filter(([k]) => k !== '__name__' && k !== 'job' && k !== 'instance')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}{${rest.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

const labelNames = (labels: Record<string, string>): string =>
  Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .join(',');

interface Scrape {
  at: number;
  page: Exposition;
}

async function scrapeAt(d: Daemon): Promise<Scrape> {
  const t0 = Date.now();
  const text = await d.scrape();
  return { at: (t0 + Date.now()) / 2, page: parseExposition(text) };
}

/** A sample's `key` also without job/instance (the scrape has neither). */
const sampleKey = (s: Sample): string => key(s.name, s.labels);

describe('OTLP push into VictoriaMetrics and through vmagent into Prometheus (Debian trixie victoria-metrics)', { skip: vmSkip, timeout: 170_000 }, () => {
  let svc: Child;
  let tcpPort: number;
  let udpPort: number;
  let vm: Server;
  let agent: Server | undefined;
  let prom: Prometheus | undefined;
  let toVm: Daemon | undefined;
  let toAgent: Daemon | undefined;
  let group: string;
  const scrapes: Scrape[] = [];
  // what the VictoriaMetrics run left
  let runMs = 0;
  let vmPushes = 0;
  let vmMetrics = '';
  let stored: Series[] = [];
  let types = new Map<string, string>();
  // what the vmagent -> Prometheus run left
  let agentPushes = 0;
  let agentMetrics = '';
  let promMetrics = '';
  let appended = 0;
  let rowsSent = 0;
  const figures: string[] = [];

  before(async () => {
    svc = await startListener('http', '127.0.0.1', 0, TITLE, { udp: true, busyMs: 20 });
    [tcpPort, udpPort] = svc.ports as [number, number];
    group = `${TITLE}_${svc.pid}`;

    const vmPort = await freePort();
    vm = await startVmBinary('victoria-metrics', VM_BIN, vmPort, testArgs('victoria-metrics.env', 'relabelConfig', {
      httpListenAddr: `127.0.0.1:${vmPort}`,
      storageDataPath: tempDir('vm-data').dir,
    }));
    if (!promSkip) {
      prom = await startPrometheus('global:\n  evaluation_interval: 1m\n', ['--web.enable-remote-write-receiver']);
      const agentPort = await freePort();
      agent = await startVmBinary('vmagent', VMAGENT_BIN, agentPort, testArgs('vmagent.env', 'remoteWrite.relabelConfig', {
        httpListenAddr: `127.0.0.1:${agentPort}`,
        'remoteWrite.url': `${prom.url}/api/v1/write`,
        'remoteWrite.tmpDataPath': tempDir('vmagent-queue').dir,
      }));
    }

    // As the shipped files tell a user: the base URL /opentelemetry, protobuf (the default).
    const daemonFor = (s: Server): Promise<Daemon> =>
      startDaemon({ env: { OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_EXPORTER_OTLP_ENDPOINT: `${s.url}/opentelemetry`, OTEL_METRIC_EXPORT_INTERVAL: String(INTERVAL_MS) } });
    toVm = await daemonFor(vm);
    if (agent) toAgent = await daemonFor(agent);
    for (const d of [toVm, toAgent]) {
      if (!d) continue;
      await waitFor('the daemon to report the test listener', async () => ((await d.scrape()).includes(`port="${tcpPort}"`) ? true : undefined), 20_000);
    }

    // The window: both daemons push for WINDOW_MS; two scrapes of the VictoriaMetrics daemon two
    // cycles apart in its middle.
    const start = Date.now();
    await sleep(WINDOW_MS / 2);
    scrapes.push(await scrapeAt(toVm));
    await sleep(2 * INTERVAL_MS);
    scrapes.push(await scrapeAt(toVm));
    types = new Map([...scrapes[0]!.page.types, ...scrapes[1]!.page.types]);
    await sleep(Math.max(0, start + WINDOW_MS - Date.now()));
    // SIGTERM flushes a last export: every push is sent once the daemons have exited.
    await toVm.stop();
    runMs = Date.now() - start;
    await toAgent?.stop();

    // The consumers count a request once they have handled it, and VictoriaMetrics makes rows
    // searchable in the background: wait until its count is stable and every counted push is
    // in what /api/v1/export returns (one sample of the push clock each).
    const pushesInto = async (srv: Server, counter: string): Promise<number> => metricSum((await httpGet(`${srv.url}/metrics`)).body, counter, { path: '/opentelemetry/v1/metrics' });
    let last = -1;
    await waitFor('VictoriaMetrics to store every push it counted', async () => {
      const n = await pushesInto(vm, 'vm_http_requests_total');
      stored = await vmExport(vm.url);
      const clock = stored.find((x) => nameOf(x) === CLOCK && x.labels.result === CLOCK_LABELS.result);
      const settled = n === last && clock?.timestamps.length === n;
      last = n;
      return settled ? true : undefined;
    }, 15_000, 1000).catch(() => undefined); // the assertions below say what is missing
    vmMetrics = (await httpGet(`${vm.url}/metrics`)).body;
    vmPushes = metricSum(vmMetrics, 'vm_http_requests_total', { path: '/opentelemetry/v1/metrics' });
    if (agent && prom) {
      // vmagent flushes every second; wait until its count is stable and Prometheus has appended
      // what vmagent sent.
      let lastPushes = -1;
      await waitFor('vmagent to deliver its queue', async () => {
        agentMetrics = (await httpGet(`${agent!.url}/metrics`)).body;
        promMetrics = (await httpGet(`${prom!.url}/metrics`)).body;
        rowsSent = metricSum(agentMetrics, 'vmagent_remotewrite_rows_pushed_after_relabel_total');
        appended = metricSum(promMetrics, 'prometheus_tsdb_head_samples_appended_total');
        const requests = metricSum(agentMetrics, 'vmagent_remotewrite_requests_total');
        const blocks = metricSum(agentMetrics, 'vmagent_remotewrite_blocks_sent_total');
        const pushes = metricSum(agentMetrics, 'vmagent_http_requests_total', { path: '/opentelemetry/v1/metrics' });
        const settled = pushes === lastPushes && blocks > 0 && requests === blocks && appended >= rowsSent;
        lastPushes = pushes;
        return settled ? true : undefined;
      }, 15_000, 1000).catch(() => undefined); // the assertions below say what is missing
      agentPushes = metricSum(agentMetrics, 'vmagent_http_requests_total', { path: '/opentelemetry/v1/metrics' });
    }
  });

  after(async () => {
    await toVm?.stop();
    await toAgent?.stop();
    await agent?.stop();
    await prom?.stop();
    await vm?.stop();
    await svc?.kill('SIGTERM');
    if (figures.length > 0) console.log(`victoriametrics figures:\n  ${figures.join('\n  ')}`);
  });

  const vmLog = (): string => fs.readFileSync(vm.log, 'utf8');

  it('VictoriaMetrics took every push: >= 15 protobuf pushes, no request error, no row dropped', () => {
    figures.push(`VictoriaMetrics: ${vmPushes} pushes received, ${Math.round(runMs / 1000)} s of pushing after the daemon was up`);
    assert.ok(vmPushes >= WINDOW_MS / INTERVAL_MS, `only ${vmPushes} pushes in ${runMs} ms`);
    assert.equal(metricSum(vmMetrics, 'vm_http_request_errors_total', { path: '/opentelemetry/v1/metrics' }), 0, vmLog().slice(-3000));
    assert.equal(metricSum(vmMetrics, 'vm_protoparser_rows_dropped_total', { type: 'opentelemetry' }), 0);
    assert.ok(metricSum(vmMetrics, 'vm_protoparser_rows_read_total', { type: 'opentelemetry' }) > 0);
  });

  it('a fresh timestamp on every push: distinct timestamps = pushes for unchanged gauges and for counters', () => {
    const clock = one(stored, CLOCK, CLOCK_LABELS);
    figures.push(`VictoriaMetrics: push clock ${CLOCK}${JSON.stringify(CLOCK_LABELS)}: ${distinct(clock.timestamps)} distinct timestamps in ${clock.timestamps.length} samples (${vmPushes} pushes)`);
    assert.equal(clock.timestamps.length, vmPushes, 'pushes counted and pushes stored differ');
    assert.equal(distinct(clock.timestamps), vmPushes, 'the self-metric repeats a timestamp');
    const checked: Array<[string, Record<string, string>]> = [
      ['node_tcp_port_alive', { port: String(tcpPort) }], // an unchanged gauge (the port stays up)
      ['node_process_alive', { process_name: TITLE }], // another one
      ['namedprocess_scrape_errors_total', {}], // an unchanged counter (0) of the contract families
      ['namedprocess_namegroup_major_page_faults_total', { groupname: group }], // one that rarely moves
      ['namedprocess_namegroup_cpu_seconds_total', { groupname: group, mode: 'user' }], // a moving counter
      ['otel_host_receiver_stage_failures_total', { stage: 'tcp_probe' }], // an unchanged self-metric counter
    ];
    const bad: string[] = [];
    for (const [name, match] of checked) {
      const s = one(stored, name, match);
      const n = distinct(s.timestamps);
      const pushes = pushesSince(clock.timestamps, Math.min(...s.timestamps));
      figures.push(`VictoriaMetrics: ${name}${JSON.stringify(match)}: ${n} distinct timestamps in ${s.timestamps.length} samples (${pushes} pushes since its first)`);
      if (n < pushes - SLACK || n > pushes) bad.push(`${name}${JSON.stringify(match)}: ${n} distinct timestamps, ${s.timestamps.length} samples, ${pushes} pushes since its first`);
    }
    assert.deepEqual(bad, [], 'series whose timestamps do not follow the pushes');
  });

  it('every family on /metrics arrives under the same name, and nothing else arrives', () => {
    const scraped = new Set([...types.keys()].filter((n) => n !== 'target_info')); // target_info is the exposition's carrier of the resource
    const names = new Set(stored.map(nameOf));
    figures.push(`VictoriaMetrics: families matched ${[...scraped].filter((n) => names.has(n)).length} of ${scraped.size}`);
    assert.ok(scraped.size >= 40, `only ${scraped.size} families scraped`);
    assert.deepEqual([...scraped].filter((n) => !names.has(n)).sort(), [], 'families missing in VictoriaMetrics');
    assert.deepEqual([...names].filter((n) => !scraped.has(n)).sort(), [], 'names in VictoriaMetrics the daemon does not expose');
  });

  it('label names are the exposition\'s plus job and instance (relabel.yml), label sets match', () => {
    const host = os.hostname();
    const wrong = stored.filter((s) => s.labels.job !== JOB || s.labels.instance !== host || Object.keys(s.labels).some((k) => k.includes('.')));
    assert.deepEqual(wrong.slice(0, 5).map((s) => s.labels), [], `${wrong.length} series without job="${JOB}", instance="${host}" or with a resource label left`);
    // Per family, the label-name sets seen on the scrape path and in VictoriaMetrics.
    const scrapedNames = new Map<string, Set<string>>();
    for (const s of scrapes.flatMap((x) => x.page.samples)) {
      if (s.name === 'target_info') continue;
      if (!scrapedNames.has(s.name)) scrapedNames.set(s.name, new Set());
      scrapedNames.get(s.name)!.add(labelNames({ ...s.labels, job: '', instance: '' }));
    }
    const storedNames = new Map<string, Set<string>>();
    for (const s of stored) {
      if (!storedNames.has(nameOf(s))) storedNames.set(nameOf(s), new Set());
      storedNames.get(nameOf(s))!.add(labelNames(s.labels));
    }
    const differ = [...scrapedNames].filter(([n, sets]) => [...sets].sort().join(' | ') !== [...(storedNames.get(n) ?? [])].sort().join(' | '));
    figures.push(`VictoriaMetrics: label names identical (plus job, instance) in ${scrapedNames.size - differ.length} of ${scrapedNames.size} families`);
    assert.deepEqual(differ.map(([n, sets]) => `${n}: scraped {${[...sets].join(' | ')}} stored {${[...(storedNames.get(n) ?? [])].join(' | ')}}`), []);
    // Every series present on both scrapes (two cycles apart) was pushed: its full label set is stored.
    const storedKeys = new Set(stored.map((s) => key(nameOf(s), s.labels)));
    const second = new Set(scrapes[1]!.page.samples.map(sampleKey));
    const steady = scrapes[0]!.page.samples.filter((s) => s.name !== 'target_info' && second.has(sampleKey(s)));
    const missing = steady.filter((s) => !storedKeys.has(sampleKey(s)));
    figures.push(`VictoriaMetrics: label sets matched ${steady.length - missing.length} of ${steady.length} (series on both scrapes)`);
    assert.ok(steady.length > 100, `only ${steady.length} steady series`);
    assert.deepEqual(missing.slice(0, 10).map(sampleKey), [], `${missing.length} scraped series not stored`);
  });

  it('five values equal to the scrape path within one cycle', () => {
    const { at, page } = scrapes[1]!;
    const checks: Array<[string, Record<string, string>]> = [
      ['node_tcp_port_alive', { port: String(tcpPort) }],
      ['node_http_port_alive', { port: String(tcpPort) }],
      ['node_udp_port_alive', { port: String(udpPort) }],
      ['namedprocess_namegroup_oldest_start_time_seconds', { groupname: group }],
      ['namedprocess_namegroup_open_filedesc', { groupname: group }],
    ];
    for (const [name, match] of checks) {
      const scraped = page.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
      assert.equal(scraped.length, 1, `${name}${JSON.stringify(match)} on the scrape`);
      const s = one(stored, name, match);
      // the pushes around the scrape: at most one cycle before or after it
      const near = s.timestamps.map((t, i) => [t, s.values[i]!] as const).filter(([t]) => Math.abs(t - at) <= INTERVAL_MS + 500);
      const want = scraped[0]!.value;
      assert.ok(near.length > 0, `${name}: no sample within one cycle of the scrape (${new Date(at).toISOString()}); timestamps ${[...new Set(s.timestamps)].map((t) => new Date(t).toISOString()).join(' ')}`);
      assert.ok(near.some(([, v]) => Math.abs(v - want) <= Math.abs(want) * 1e-12), `${name}: scraped ${want}, stored around it ${near.map(([, v]) => v).join(', ')}`);
    }
  });

  it('counters never decrease in VictoriaMetrics', () => {
    const counters = stored.filter((s) => types.get(nameOf(s)) === 'counter');
    assert.ok(counters.length > 20, `only ${counters.length} counter series`);
    const bad: string[] = [];
    for (const s of counters) {
      const points = s.timestamps.map((t, i) => [t, s.values[i]!] as const).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < points.length; i++) {
        if (points[i]![1] < points[i - 1]![1]) {
          bad.push(`${key(nameOf(s), s.labels)}: ${points[i - 1]![1]} -> ${points[i]![1]}`);
          break;
        }
      }
    }
    figures.push(`VictoriaMetrics: ${counters.length} counter series, ${bad.length} decreasing`);
    assert.deepEqual(bad, []);
  });

  it('VictoriaMetrics and vmagent take OTLP protobuf only: OTLP/JSON is a 400', async () => {
    const targets = [vm, ...(agent ? [agent] : [])];
    for (const t of targets) {
      const r = await post(`${t.url}/opentelemetry/v1/metrics`, 'application/json', JSON.stringify({ resourceMetrics: [] }));
      figures.push(`${t.name}: OTLP/JSON -> ${r.status} ${r.body.trim().slice(-80)}`);
      assert.equal(r.status, 400, `${t.name} answered ${r.status} to OTLP/JSON`);
      assert.match(r.body, /json encoding isn't supported/);
    }
  });

  it('vmagent -> Prometheus 2.42: every sample appended, none rejected as out of order, duplicate or out of bounds', { skip: promSkip }, async () => {
    assert.ok(agent && prom);
    const rejectedRequests = metricSum(promMetrics, 'prometheus_http_requests_total', { handler: '/api/v1/write' }) - metricSum(promMetrics, 'prometheus_http_requests_total', { handler: '/api/v1/write', code: '204' });
    const outOfOrder = metricSum(promMetrics, 'prometheus_tsdb_out_of_order_samples_total');
    const outOfBounds = metricSum(promMetrics, 'prometheus_tsdb_out_of_bound_samples_total');
    const tooOld = metricSum(promMetrics, 'prometheus_tsdb_too_old_samples_total');
    const agentFailed = metricSum(agentMetrics, 'vmagent_remotewrite_requests_total') - metricSum(agentMetrics, 'vmagent_remotewrite_requests_total', { status_code: '2XX' });
    const dropped = metricSum(agentMetrics, 'vmagent_remotewrite_packets_dropped_total') + metricSum(agentMetrics, 'vmagent_remotewrite_samples_dropped_total');
    figures.push(
      `vmagent -> Prometheus: ${agentPushes} pushes into vmagent, ${rowsSent} samples sent, ${appended} appended by Prometheus; rejected: ${rejectedRequests} write requests, ` +
        `${outOfOrder} out of order, ${outOfBounds} out of bounds, ${tooOld} too old; vmagent: ${agentFailed} failed requests, ${dropped} dropped`,
    );
    assert.ok(agentPushes >= WINDOW_MS / INTERVAL_MS, `only ${agentPushes} pushes into vmagent`);
    // Neither log reports a rejection (checked first: the lines name the series and timestamps).
    const promErrors = prom.output(100_000).split('\n').filter((l) => /level=error|out of order|out of bounds|duplicate sample/i.test(l));
    assert.deepEqual(promErrors, [], 'Prometheus log');
    const agentErrors = fs.readFileSync(agent.log, 'utf8').split('\n').filter((l) => /\terror\t|\tfatal\t|\tpanic\t|unexpected status code|out of order|out of bounds|duplicate/i.test(l));
    assert.deepEqual(agentErrors, [], 'vmagent log');
    assert.ok(rowsSent > 0 && appended > 0, `vmagent sent ${rowsSent}, Prometheus appended ${appended}`);
    assert.equal(rejectedRequests, 0, 'remote-write requests Prometheus refused');
    assert.equal(outOfOrder + outOfBounds + tooOld, 0, 'samples Prometheus rejected');
    assert.equal(agentFailed + dropped, 0, 'vmagent requests failed or data dropped');
    // Prometheus 2.42 drops a sample whose timestamp and value equal the last one without a
    // word: a stale time shows only as fewer samples appended than sent.
    assert.equal(appended, rowsSent, `Prometheus appended ${appended} of the ${rowsSent} samples vmagent sent`);
  });

  it('vmagent -> Prometheus: one stored sample per push, job and instance from relabel.yml', { skip: promSkip }, async () => {
    assert.ok(prom);
    const host = os.hostname();
    const checked: Array<[string, string]> = [
      ['node_tcp_port_alive', `port="${tcpPort}"`],
      ['namedprocess_scrape_errors_total', ''],
      ['namedprocess_namegroup_cpu_seconds_total', `groupname="${group}", mode="user"`],
      ['otel_host_receiver_stage_failures_total', 'stage="tcp_probe"'],
    ];
    const samples = async (selector: string): Promise<RangeResult['result']> =>
      (await prom!.get<RangeResult>(`/api/v1/query?query=${encodeURIComponent(`${selector}[10m]`)}`)).result;
    const clockSeries = await samples(`${CLOCK}{result="${CLOCK_LABELS.result}"}`);
    assert.equal(clockSeries.length, 1, `${CLOCK} in Prometheus`);
    const clock = clockSeries[0]!.values.map(([t]) => Math.round(t * 1000));
    figures.push(`Prometheus via vmagent: push clock: ${distinct(clock)} samples (${agentPushes} pushes)`);
    assert.equal(distinct(clock), agentPushes, 'pushes into vmagent and push-clock samples in Prometheus differ');
    const bad: string[] = [];
    for (const [name, match] of checked) {
      const r = await samples(`${name}{${match}}`);
      assert.equal(r.length, 1, `${name}{${match}} in Prometheus`);
      const s = r[0]!;
      assert.equal(s.metric.job, JOB);
      assert.equal(s.metric.instance, host);
      assert.ok(!Object.keys(s.metric).some((k) => k.includes('.') || k.startsWith('service_') || k.startsWith('host_')), `resource labels left: ${JSON.stringify(s.metric)}`);
      const ts = s.values.map(([t]) => Math.round(t * 1000));
      const n = distinct(ts);
      const pushes = pushesSince(clock, Math.min(...ts));
      figures.push(`Prometheus via vmagent: ${name}{${match}}: ${n} samples (${pushes} pushes since its first)`);
      if (n < pushes - SLACK || n > pushes) bad.push(`${name}{${match}}: ${n} samples for ${pushes} pushes since its first`);
    }
    assert.deepEqual(bad, [], 'series whose stored samples do not follow the pushes');
  });
});

/**
 * Prometheus for real: the Debian `prometheus` server, on loopback, runs the shipped scrape
 * config (otel-config/prometheus/scrape.yml) and the shipped alert rules against a running
 * otel-host-receiver, and the HTTP API must show what the daemon sees: a port this test opened
 * (a child process listening on loopback), its process, per-group CPU rates, up == 1. Then
 * every PromQL expression in the shipped rules and dashboard is executed: all must parse, and
 * all must return data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { repoPath, startDaemon, startPrometheus, type Daemon, type Prometheus, type PromSample } from '../helpers/pipelines';
import { startListener, type Child } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

const PROM_DIR = repoPath('otel-config', 'prometheus');
const JOB = 'otel-host-receiver';
const TITLE = 'pl-e2e-svc';

/**
 * The shipped scrape config targets localhost:9464 and scrapes every 30s. The test runs the
 * same file from a temporary copy with only these changes: the target is the daemon's
 * loopback test port, scrape and rule evaluation run every second (so the test takes seconds,
 * not minutes), and alerts.yml is referenced by absolute path (the copy lives elsewhere).
 */
function testScrapeConfig(daemonPort: number): string {
  const cfg = YAML.parse(fs.readFileSync(path.join(PROM_DIR, 'scrape.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; scrape_interval: string; scrape_timeout: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const job = cfg.scrape_configs.find((j) => j.job_name === JOB);
  assert.ok(job, `scrape.yml has a ${JOB} job`);
  assert.deepEqual(job.static_configs[0]!.targets, ['localhost:9464']);
  cfg.global.scrape_interval = '1s';
  cfg.global.evaluation_interval = '1s';
  job.scrape_interval = '1s';
  job.scrape_timeout = '1s';
  job.static_configs[0]!.targets = [`127.0.0.1:${daemonPort}`];
  cfg.rule_files = cfg.rule_files.map((f) => path.join(PROM_DIR, f));
  return YAML.stringify(cfg);
}

interface Rule {
  alert: string;
  expr: string;
}

/**
 * Alerts fire on failures, so on a healthy host their expressions are (mostly) empty. To prove
 * each one also selects real data, the test runs a "data exists" form next to the expression
 * itself. By default that is the expression with `bool` after every comparison operator: the
 * comparison then returns 0/1 for every series it compares instead of keeping only the failing
 * ones, so `node_tcp_port_alive == 0` becomes `node_tcp_port_alive == bool 0` (all TCP ports),
 * and `http == 0 and on (...) tcp == 1` becomes the HTTP ports that have a TCP series. Rules
 * whose shape is not a comparison get an explicit form here.
 */
const DATA_FORMS: Record<string, string> = {
  // `seen in the last hour unless seen now` is empty while the daemon reports; its left side
  // (the hosts seen in the last hour) must contain this daemon.
  OtelHostReceiverMissing: `max by (job, instance) (max_over_time(otel_host_receiver_build_info{job="${JOB}"}[1h]))`,
};

function dataForm(rule: Rule): string {
  const explicit = DATA_FORMS[rule.alert];
  if (explicit) return explicit;
  const withBool = rule.expr.replace(/\s(==|!=|>=|<=|>|<)\s+(?!bool\b)/g, ' $1 bool ');
  assert.notEqual(withBool, rule.expr, `${rule.alert}: no comparison to turn into a data form; add an entry to DATA_FORMS`);
  return withBool;
}

function value(s: PromSample): number {
  return Number(s.value[1]);
}

describe('Prometheus scraping otel-host-receiver with the shipped config', { timeout: 120_000 }, () => {
  let svc: Child;
  /** The test service's TCP (HTTP) and UDP ports. */
  let tcpPort: number;
  let udpPort: number;
  let otlp: OtlpReceiver;
  let daemon: Daemon;
  let prom: Prometheus;
  /** Waits until `expr` returns at least one sample (Prometheus needs a few scrapes for rates). */
  const data = (expr: string, timeoutMs = 20_000): Promise<PromSample[]> =>
    waitFor(`data for ${expr}`, async () => {
      const r = await prom.query(expr);
      return r.length > 0 ? r : undefined;
    }, timeoutMs, 500);

  /**
   * For the rule and dashboard loops: a query whose metric families Prometheus has never
   * ingested fails at once, naming them, instead of waiting; otherwise it gets 15 s for data.
   */
  const dataFor = async (expr: string): Promise<PromSample[]> => {
    const known = new Set(await prom.get<string[]>('/api/v1/label/__name__/values'));
    const names = [...new Set(expr.match(/\b(node|namedprocess|otel_host_receiver)_[a-z_]+\b|\b(up|target_info)\b(?=\s*\{)/g) ?? [])];
    const absent = names.filter((n) => !known.has(n));
    if (absent.length > 0) throw new Error(`metric ${absent.join(', ')} not ingested by Prometheus (query: ${expr})`);
    return data(expr, 15_000);
  };

  before(async () => {
    // A service of our own: HTTP on a loopback TCP port, a bound UDP port, some CPU use.
    svc = await startListener('http', '127.0.0.1', 0, TITLE, { udp: true, busyMs: 20 });
    [tcpPort, udpPort] = svc.ports as [number, number];
    // both exports on, as in production: OTLP goes to a real receiver on loopback
    otlp = new OtlpReceiver();
    const endpoint = await otlp.start();
    daemon = await startDaemon({ env: { OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '1000' } });
    await waitFor('the daemon to report the test listener', async () => {
      const page = await daemon.scrape();
      return page.includes(`port="${tcpPort}"`) ? true : undefined;
    }, 20_000);
    prom = await startPrometheus(testScrapeConfig(daemon.port));
  });

  after(async () => {
    await prom?.stop();
    await daemon?.stop();
    await otlp?.stop();
    await svc?.kill();
  });

  it('scrapes the daemon: up == 1, job and instance from the shipped config', async () => {
    const up = await data(`up{job="${JOB}"}`);
    assert.equal(up.length, 1);
    assert.equal(value(up[0]!), 1, `up is ${up[0]!.value[1]}\n${prom.output()}`);
    // relabel_configs strips the port: instance is the host, as on the OTLP paths.
    assert.equal(up[0]!.metric.instance, '127.0.0.1');
  });

  it('node_tcp_port_alive == 1 for the port the test opened, with its process name and executable', async () => {
    const r = await data(`node_tcp_port_alive{port="${tcpPort}"}`);
    assert.equal(r.length, 1);
    assert.deepEqual(r[0]!.metric, {
      __name__: 'node_tcp_port_alive',
      job: JOB,
      instance: '127.0.0.1',
      process_name: TITLE,
      exe_path: fs.realpathSync(process.execPath),
      port: String(tcpPort),
    });
    assert.equal(value(r[0]!), 1);
    const latency = await data(`node_tcp_port_response_seconds{port="${tcpPort}"}`);
    assert.ok(value(latency[0]!) > 0 && value(latency[0]!) < 1, `connect time ${latency[0]!.value[1]}`);
  });

  it('node_http_port_alive, node_udp_port_alive and node_process_alive for the test process', async () => {
    const httpAlive = await data(`node_http_port_alive{port="${tcpPort}"} == 1`);
    assert.equal(httpAlive[0]!.metric.process_name, TITLE);
    const udp = await data(`node_udp_port_alive{port="${udpPort}"}`);
    assert.equal(value(udp[0]!), 1);
    assert.equal(udp[0]!.metric.process_name, TITLE);
    const proc = await data(`node_process_alive{process_name="${TITLE}"}`);
    assert.equal(value(proc[0]!), 1);
  });

  it('names and labels arrive as emitted: no otel_scope_* labels, resource on target_info', async () => {
    assert.deepEqual(await prom.query(`{job="${JOB}", otel_scope_name!=""}`), []);
    assert.deepEqual(await prom.query(`{job="${JOB}", __name__=~".+_total_total|.+_seconds_seconds|.+_alive_ratio"}`), []);
    const info = await data(`target_info{job="${JOB}"}`);
    assert.equal(info[0]!.metric.service_name, 'otel-host-receiver');
    assert.equal(info[0]!.metric.service_instance_id, os.hostname());
  });

  it('namedprocess_namegroup_cpu_seconds_total: a rate for the test process group (needs the namedprocess collector)', async () => {
    // One group per process, named <comm>_<pid> (the default grouping).
    const group = `${TITLE}_${svc.pid}`;
    const rate = await data(`rate(namedprocess_namegroup_cpu_seconds_total{groupname="${group}"}[5s])`, 30_000);
    assert.deepEqual(rate.map((s) => s.metric.mode).sort(), ['system', 'user']);
    for (const s of rate) assert.deepEqual(Object.keys(s.metric).sort(), ['groupname', 'instance', 'job', 'mode']);
    // The child burns ~20% of a core; its user CPU rate must show it.
    const user = await data(`rate(namedprocess_namegroup_cpu_seconds_total{groupname="${group}", mode="user"}[5s]) > 0`, 20_000);
    assert.ok(value(user[0]!) > 0.01, `user CPU rate ${user[0]!.value[1]}`);
  });

  it('every alert rule: loaded and evaluated without error, its expression parses, its data form returns data', async () => {
    const file = YAML.parse(fs.readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> };
    const rules = file.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 8);
    // Prometheus loaded the shipped file and has evaluated every rule at least once, cleanly.
    await waitFor('every rule evaluated with health ok', async () => {
      const d = await prom.get<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('/api/v1/rules');
      const loaded = d.groups.flatMap((g) => g.rules);
      assert.deepEqual(loaded.map((r) => r.name).sort(), rules.map((r) => r.alert).sort());
      const bad = loaded.filter((r) => r.health === 'err');
      assert.deepEqual(bad, [], 'rules failing to evaluate');
      return loaded.every((r) => r.health === 'ok') ? true : undefined;
    }, 20_000);
    const failures: string[] = [];
    for (const rule of rules) {
      try {
        await prom.query(rule.expr); // throws with Prometheus' parse/eval error
        await dataFor(dataForm(rule));
      } catch (err) {
        failures.push(`${rule.alert}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, [], 'alert expressions without data');
    // A healthy daemon and a healthy test service: these alerts select nothing for them.
    const selects = async (expr: string, port: number): Promise<boolean> => (await prom.query(expr)).some((s) => s.metric.port === String(port));
    const byName = new Map(rules.map((r) => [r.alert, r.expr]));
    assert.deepEqual(await prom.query(byName.get('OtelHostReceiverDown')!), []);
    assert.deepEqual(await prom.query(byName.get('OtelHostReceiverMissing')!), []);
    assert.equal(await selects(byName.get('OtelHostReceiverTcpPortDown')!, tcpPort), false);
    assert.equal(await selects(byName.get('OtelHostReceiverHttpEndpointHung')!, tcpPort), false);
  });

  it('every dashboard query and template variable: parses and returns data', async () => {
    const dash = JSON.parse(fs.readFileSync(repoPath('otel-config', 'grafana', 'otel-host-receiver.json'), 'utf8')) as {
      templating: { list: Array<{ name: string; type: string; definition?: string }> };
      panels: Array<{ title: string; type: string; targets?: Array<{ refId: string; expr: string }> }>;
    };
    // Template variables `label_values(<selector>, <label>)`: run the selector, collect the label.
    const vars: Record<string, string> = {};
    for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition ?? '');
      assert.ok(m, `variable ${v.name}: ${v.definition}`);
      const selector = m[1]!.replace(/\$(\w+)/g, (_, n: string) => vars[n] ?? '.+');
      const values = [...new Set((await data(selector)).map((s) => s.metric[m[2]!]).filter(Boolean))];
      assert.ok(values.length > 0, `variable ${v.name} has no values`);
      vars[v.name] = values.join('|');
    }
    assert.equal(vars.job, JOB);
    assert.equal(vars.instance, '127.0.0.1');
    // Grafana substitutes $__rate_interval from the data source's scrape interval (at least
    // 4 scrapes); with this test's 1s scrapes, 10s.
    const substitute = (expr: string): string =>
      expr.replace(/\$__rate_interval/g, '10s').replace(/\$(\w+)/g, (_, n: string) => {
        assert.ok(n in vars, `unknown variable $${n}`);
        return vars[n]!;
      });
    let queries = 0;
    const failures: string[] = [];
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        queries++;
        try {
          const expr = substitute(t.expr);
          await prom.query(expr);
          await dataFor(expr);
        } catch (err) {
          failures.push(`panel "${p.title}" ${t.refId}: ${(err as Error).message}`);
        }
      }
    }
    assert.deepEqual(failures, [], 'dashboard queries without data');
    assert.ok(queries >= 25, `only ${queries} queries`);
  });
});

/**
 * Offline checks of every shipped pipeline configuration in otel-config/.
 *
 * Executed with real tools here: promtool check config (each Prometheus config, and the
 * Prometheus scrape config embedded in the Collector's prometheus receiver), promtool check
 * rules and promtool test rules (alerts.yml with alerts.test.yml).
 * Checked against documentation only (no Collector / Alloy / Prometheus 3.x binary here):
 * the Collector and Alloy files' structure, component references and option names against
 * allow-lists taken from the components' reference docs (versions named in each file), and
 * the Prometheus 3.x `otlp:` section. The rest of the 3.x file goes through promtool 2.42.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { OPTIONS } from '../../src/config/options';
import { PORT_FAMILIES } from '../../src/metrics/contract';
import { promtool, repoPath } from '../helpers/pipelines';
import { tempDir } from '../helpers/tmp';

const CONFIG_DIR = repoPath('otel-config');
const read = (rel: string): string => fs.readFileSync(path.join(CONFIG_DIR, rel), 'utf8');
const DEFAULT_PORT = String(OPTIONS.find((o) => o.key === 'listenAddress')!.def).split(':').pop();

function ok(r: ReturnType<typeof promtool>, what: string): void {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

test('every file in otel-config says which versions it targets', () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(CONFIG_DIR);
  assert.ok(files.length >= 11, `expected the shipped configs, found ${files.length}`);
  for (const f of files) {
    if (f.endsWith('README.md') || f.endsWith('.test.yml')) continue;
    assert.match(fs.readFileSync(f, 'utf8'), /Targets?:?\s|Targets Grafana/, `${path.relative(CONFIG_DIR, f)} does not name the versions it targets`);
  }
});

// --- Prometheus -------------------------------------------------------------------------

test('promtool check config passes on the shipped Prometheus scrape configs', () => {
  for (const f of ['prometheus/scrape.yml', 'prometheus/scrape-collector.yml']) {
    ok(promtool(['check', 'config', path.join(CONFIG_DIR, f)]), `promtool check config ${f}`);
  }
  const scrape = YAML.parse(read('prometheus/scrape.yml')) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
  const job = scrape.scrape_configs[0]!;
  assert.equal(job.job_name, 'otel-host-receiver', 'job must equal the default service.name, as the OTLP paths produce');
  assert.deepEqual(job.static_configs[0]!.targets, [`localhost:${DEFAULT_PORT}`], 'scrape target must be the default listen port');
  const viaCollector = YAML.parse(read('prometheus/scrape-collector.yml')) as { scrape_configs: Array<{ honor_labels?: boolean }> };
  assert.equal(viaCollector.scrape_configs[0]!.honor_labels, true, 'scraping the Collector needs honor_labels to keep job/instance from the resource');
});

/** The `otlp:` options of Prometheus 3.x (docs/configuration/configuration.md, 3.0-3.7). */
const PROM3_OTLP_KEYS = new Set([
  'promote_resource_attributes',
  'translation_strategy',
  'keep_identifying_resource_attributes',
  'convert_histograms_to_nhcb',
  'promote_all_resource_attributes',
  'ignore_resource_attributes',
  'promote_scope_metadata',
]);
const TRANSLATION_STRATEGIES = ['UnderscoreEscapingWithSuffixes', 'UnderscoreEscapingWithoutSuffixes', 'NoUTF8EscapingWithSuffixes', 'NoTranslation'];

test('Prometheus 3.x OTLP-receiver config: otlp section per the 3.x docs, the rest through promtool', () => {
  const doc = YAML.parse(read('prometheus/otlp-receiver.yml')) as Record<string, unknown> & { otlp: Record<string, unknown> };
  for (const k of Object.keys(doc.otlp)) assert.ok(PROM3_OTLP_KEYS.has(k), `otlp.${k} is not a Prometheus 3.x option`);
  assert.equal(doc.otlp.translation_strategy, 'UnderscoreEscapingWithoutSuffixes');
  assert.ok(!('promote_resource_attributes' in doc.otlp), 'promoting resource attributes would add labels the daemon does not emit');
  assert.match(read('prometheus/otlp-receiver.yml'), /--web\.enable-otlp-receiver/);
  assert.match(read('prometheus/otlp-receiver.yml'), /\/api\/v1\/otlp\/v1\/metrics/);
  // promtool 2.42 predates `otlp:`; everything else must still be valid.
  const dir = tempDir('prom3').dir;
  const rest: Record<string, unknown> = { ...doc };
  delete rest.otlp;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(rest));
  fs.copyFileSync(path.join(CONFIG_DIR, 'prometheus/alerts.yml'), path.join(dir, 'alerts.yml'));
  ok(promtool(['check', 'config', path.join(dir, 'prometheus.yml')]), 'promtool check config (otlp-receiver.yml without otlp:)');
});

test('alert rules: promtool check rules and the rule unit tests', () => {
  ok(promtool(['check', 'rules', path.join(CONFIG_DIR, 'prometheus/alerts.yml')]), 'promtool check rules');
  const r = promtool(['test', 'rules', path.join(CONFIG_DIR, 'prometheus/alerts.test.yml')]);
  ok(r, 'promtool test rules');
  // Every alert has at least one firing case in the unit tests.
  const rules = YAML.parse(read('prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
  const tests = read('prometheus/alerts.test.yml');
  for (const g of rules.groups) {
    for (const rule of g.rules) assert.match(tests, new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${rule.alert} has no firing test case`);
  }
});

// --- OpenTelemetry Collector ------------------------------------------------------------

/**
 * Options each component accepts, from the contrib READMEs / config.go (v0.154-v0.156). A key
 * outside these lists would make the Collector refuse to start ("has invalid keys").
 */
const COLLECTOR_OPTIONS: Record<string, readonly string[]> = {
  'receivers/otlp': ['protocols'],
  'receivers/prometheus': ['config', 'trim_metric_suffixes', 'target_allocator', 'api_server', 'report_extra_scrape_metrics', 'use_start_time_metric', 'start_time_metric_regex'],
  'processors/batch': ['timeout', 'send_batch_size', 'send_batch_max_size', 'metadata_keys', 'metadata_cardinality_limit'],
  'exporters/prometheus': ['endpoint', 'tls', 'const_labels', 'namespace', 'send_timestamps', 'metric_expiration', 'resource_to_telemetry_conversion', 'enable_open_metrics', 'add_metric_suffixes', 'translation_strategy', 'without_scope_info'],
  'exporters/prometheus_remote_write': ['endpoint', 'tls', 'headers', 'timeout', 'compression', 'auth', 'namespace', 'external_labels', 'add_metric_suffixes', 'translation_strategy', 'send_metadata', 'disable_scope_info', 'max_batch_size_bytes', 'max_batch_request_parallelism', 'protobuf_message', 'remote_write_queue', 'resource_to_telemetry_conversion', 'wal', 'target_info', 'retry_on_failure', 'export_created_metric'],
};
const OTLP_HTTP_OPTIONS = ['endpoint', 'tls', 'cors', 'include_metadata', 'max_request_body_size', 'metrics_url_path', 'traces_url_path', 'logs_url_path', 'auth', 'response_headers', 'compression_algorithms', 'read_header_timeout', 'read_timeout', 'write_timeout', 'idle_timeout', 'keep_alives_enabled'];

interface CollectorConfig {
  receivers: Record<string, Record<string, unknown> | null>;
  processors?: Record<string, Record<string, unknown> | null>;
  exporters: Record<string, Record<string, unknown> | null>;
  service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
}

function checkCollector(file: string): CollectorConfig {
  const cfg = YAML.parse(read(file)) as CollectorConfig;
  for (const kind of ['receivers', 'processors', 'exporters'] as const) {
    for (const [id, body] of Object.entries(cfg[kind] ?? {})) {
      const type = id.split('/')[0]!;
      const allowed = COLLECTOR_OPTIONS[`${kind}/${type}`];
      assert.ok(allowed, `${file}: ${kind}.${id} is not a component these configs are checked for`);
      for (const key of Object.keys(body ?? {})) assert.ok(allowed.includes(key), `${file}: ${kind}.${id}.${key} is not an option of ${type}`);
    }
  }
  for (const [name, p] of Object.entries(cfg.service.pipelines)) {
    assert.match(name, /^metrics(\/.+)?$/, `${file}: pipeline ${name}`);
    for (const r of p.receivers) assert.ok(r in cfg.receivers, `${file}: pipeline ${name} uses undefined receiver ${r}`);
    for (const r of p.processors ?? []) assert.ok(cfg.processors && r in cfg.processors, `${file}: pipeline ${name} uses undefined processor ${r}`);
    for (const r of p.exporters) assert.ok(r in cfg.exporters, `${file}: pipeline ${name} uses undefined exporter ${r}`);
    assert.deepEqual(p.processors, ['batch'], `${file}: pipeline ${name} should batch`);
  }
  for (const [id, body] of Object.entries(cfg.exporters)) {
    const e = body ?? {};
    // Names as we emit them, no otel_scope_* labels, no resource attributes copied onto series.
    assert.equal(e.translation_strategy, 'UnderscoreEscapingWithoutSuffixes', `${file}: ${id} must not add suffixes`);
    assert.ok(TRANSLATION_STRATEGIES.includes(e.translation_strategy as string));
    if (id.startsWith('prometheus_remote_write')) {
      assert.equal(e.disable_scope_info, true, `${file}: ${id} must drop otel_scope_* labels`);
      assert.match(String(e.endpoint), /^https?:\/\/.+\/api\/v1\/write$/);
    } else {
      assert.equal(e.without_scope_info, true, `${file}: ${id} must drop otel_scope_* labels`);
    }
    assert.deepEqual(e.resource_to_telemetry_conversion, { enabled: false }, `${file}: ${id} must keep resource attributes on target_info`);
  }
  const otlp = cfg.receivers.otlp as { protocols?: { http?: Record<string, unknown> } } | undefined;
  if (otlp) {
    const httpProto = otlp.protocols?.http;
    assert.ok(httpProto, `${file}: the daemon speaks OTLP/HTTP, the receiver must enable http`);
    for (const k of Object.keys(httpProto)) assert.ok(OTLP_HTTP_OPTIONS.includes(k), `${file}: otlp http.${k}`);
    assert.equal(httpProto.endpoint, '0.0.0.0:4318');
  }
  return cfg;
}

test('Collector: OTLP/HTTP -> batch -> prometheus exporter', () => {
  const cfg = checkCollector('collector/otlp-to-prometheus.yaml');
  assert.deepEqual(cfg.service.pipelines.metrics!.exporters, ['prometheus']);
  assert.equal((cfg.exporters.prometheus as { endpoint: string }).endpoint, '0.0.0.0:8889');
  // Prometheus scrapes the Collector where scrape-collector.yml says.
  assert.match(read('prometheus/scrape-collector.yml'), /:8889'/);
});

test('Collector: OTLP/HTTP -> batch -> prometheus_remote_write', () => {
  const cfg = checkCollector('collector/otlp-to-remotewrite.yaml');
  assert.deepEqual(cfg.service.pipelines.metrics!.exporters, ['prometheus_remote_write']);
});

test('Collector: prometheus receiver scraping the daemon; its scrape config passes promtool', () => {
  const cfg = checkCollector('collector/scrape.yaml');
  const recv = cfg.receivers.prometheus as { trim_metric_suffixes: boolean; config: { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> } };
  assert.equal(recv.trim_metric_suffixes, false, 'trimming would strip _total and units from our names');
  assert.equal(recv.config.scrape_configs[0]!.job_name, 'otel-host-receiver');
  assert.deepEqual(recv.config.scrape_configs[0]!.static_configs[0]!.targets, [`localhost:${DEFAULT_PORT}`]);
  // `$$` is the Collector's escape for a literal `$` in the embedded Prometheus config.
  const dir = tempDir('otelcol-scrape').dir;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(recv.config).replace(/\$\$/g, '$'));
  ok(promtool(['check', 'config', path.join(dir, 'prometheus.yml')]), 'promtool check config (collector/scrape.yaml receivers.prometheus.config)');
});

// --- Grafana Alloy ----------------------------------------------------------------------

type Tok = { t: 'id' | 'str' | 'num' | 'punct' | 'nl'; v: string };

/** Tokenizer for Alloy configuration syntax (enough of it for these files). */
function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      toks.push({ t: 'nl', v: c });
      i++;
    } else if (/\s/.test(c)) i++;
    else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      assert.ok(end >= 0, 'unterminated block comment');
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let v = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') j++;
        v += src[j];
        j++;
      }
      assert.ok(j < src.length, 'unterminated string');
      toks.push({ t: 'str', v });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      toks.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9.]+/.exec(src.slice(i))!;
      toks.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if ('{}[]()=,.:'.includes(c)) {
      toks.push({ t: 'punct', v: c });
      i++;
    } else assert.fail(`unexpected character ${JSON.stringify(c)} at offset ${i}`);
  }
  return toks;
}

interface AlloyBlock {
  name: string;
  label?: string;
  attrs: Map<string, Tok[]>;
  blocks: AlloyBlock[];
}

function parseAlloy(src: string): AlloyBlock {
  const toks = tokenize(src);
  let p = 0;
  const skipNl = (): void => {
    while (toks[p]?.t === 'nl') p++;
  };
  const body = (root: AlloyBlock, closing: boolean): void => {
    for (;;) {
      skipNl();
      const tok = toks[p];
      if (!tok) {
        assert.ok(!closing, 'missing }');
        return;
      }
      if (tok.t === 'punct' && tok.v === '}') {
        assert.ok(closing, 'unexpected }');
        p++;
        return;
      }
      assert.equal(tok.t, 'id', `expected a name, got ${tok.v}`);
      let name = tok.v;
      p++;
      if (toks[p]?.v === '=') {
        p++;
        const expr: Tok[] = [];
        let depth = 0;
        while (p < toks.length) {
          const x = toks[p]!;
          if (depth === 0 && (x.t === 'nl' || (x.t === 'punct' && x.v === '}'))) break;
          if (x.t === 'punct' && '[{('.includes(x.v)) depth++;
          if (x.t === 'punct' && ']})'.includes(x.v)) depth--;
          expr.push(x);
          p++;
        }
        assert.equal(depth, 0, `unbalanced brackets in ${name}`);
        assert.ok(expr.length > 0, `${name} has no value`);
        assert.ok(!root.attrs.has(name), `${name} set twice`);
        root.attrs.set(name, expr);
        continue;
      }
      while (toks[p]?.v === '.') {
        name += '.' + toks[p + 1]!.v;
        p += 2;
      }
      const block: AlloyBlock = { name, attrs: new Map(), blocks: [] };
      if (toks[p]?.t === 'str') block.label = toks[p++]!.v;
      assert.equal(toks[p]?.v, '{', `expected { after ${name}`);
      p++;
      body(block, true);
      root.blocks.push(block);
    }
  };
  const root: AlloyBlock = { name: '', attrs: new Map(), blocks: [] };
  body(root, false);
  return root;
}

/** Arguments and blocks of the components used, from the Alloy v1.20 component reference. */
const ALLOY_COMPONENTS: Record<string, { args: readonly string[]; blocks: Record<string, readonly string[]>; exports: readonly string[] }> = {
  'otelcol.receiver.otlp': { args: [], blocks: { http: ['endpoint', 'max_request_body_size', 'include_metadata', 'compression_algorithms', 'traces_url_path', 'metrics_url_path', 'logs_url_path'], grpc: ['endpoint'], output: ['metrics', 'logs', 'traces'] }, exports: [] },
  'otelcol.processor.batch': { args: ['timeout', 'send_batch_size', 'send_batch_max_size', 'metadata_keys', 'metadata_cardinality_limit'], blocks: { output: ['metrics', 'logs', 'traces'] }, exports: ['input'] },
  'otelcol.exporter.prometheus': { args: ['forward_to', 'add_metric_suffixes', 'gc_frequency', 'honor_metadata', 'include_scope_info', 'include_scope_labels', 'include_target_info', 'resource_to_telemetry_conversion'], blocks: {}, exports: ['input'] },
  'prometheus.remote_write': { args: ['external_labels'], blocks: { endpoint: ['url', 'name', 'remote_timeout', 'headers', 'send_exemplars', 'send_native_histograms', 'bearer_token', 'bearer_token_file'] }, exports: ['receiver'] },
  'prometheus.scrape': { args: ['targets', 'forward_to', 'job_name', 'extra_metrics', 'enable_protobuf_negotiation', 'honor_labels', 'honor_timestamps', 'track_timestamps_staleness', 'params', 'scrape_classic_histograms', 'scrape_interval', 'scrape_timeout', 'metrics_path', 'scheme', 'body_size_limit', 'sample_limit', 'target_limit', 'label_limit', 'label_name_length_limit', 'label_value_length_limit', 'bearer_token', 'bearer_token_file', 'proxy_url', 'follow_redirects', 'enable_http2', 'scrape_protocols'], blocks: {}, exports: [] },
};

function checkAlloy(file: string): AlloyBlock {
  const root = parseAlloy(read(file));
  assert.equal(root.attrs.size, 0, `${file}: attributes at top level`);
  const defined = new Set<string>();
  for (const b of root.blocks) {
    const spec = ALLOY_COMPONENTS[b.name];
    assert.ok(spec, `${file}: ${b.name} is not a component these configs are checked for`);
    assert.ok(b.label && /^[A-Za-z_][A-Za-z0-9_]*$/.test(b.label), `${file}: ${b.name} needs a label`);
    assert.ok(!defined.has(`${b.name}.${b.label}`), `${file}: ${b.name} "${b.label}" defined twice`);
    defined.add(`${b.name}.${b.label}`);
    for (const a of b.attrs.keys()) assert.ok(spec.args.includes(a), `${file}: ${b.name}.${a} is not an argument`);
    for (const inner of b.blocks) {
      const allowed = spec.blocks[inner.name];
      assert.ok(allowed, `${file}: ${b.name} has no ${inner.name} block`);
      for (const a of inner.attrs.keys()) assert.ok(allowed.includes(a), `${file}: ${b.name} ${inner.name}.${a} is not an argument`);
    }
  }
  // Every component reference resolves to a defined component and one of its exports.
  const refs: string[] = [];
  const collect = (b: AlloyBlock): void => {
    for (const expr of b.attrs.values()) {
      for (let i = 0; i < expr.length; i++) {
        if (expr[i]!.t !== 'id' || expr[i - 1]?.v === '.') continue;
        let r = expr[i]!.v;
        let j = i + 1;
        while (expr[j]?.v === '.' && expr[j + 1]?.t === 'id') {
          r += '.' + expr[j + 1]!.v;
          j += 2;
        }
        if (r.includes('.')) refs.push(r);
      }
    }
    b.blocks.forEach(collect);
  };
  root.blocks.forEach(collect);
  for (const r of refs) {
    if (r === 'constants.hostname') continue; // Alloy standard library
    const parts = r.split('.');
    const exp = parts.pop()!;
    const target = parts.join('.');
    assert.ok(defined.has(target), `${file}: reference ${r} points to an undefined component`);
    const comp = parts.slice(0, -1).join('.');
    assert.ok(ALLOY_COMPONENTS[comp]!.exports.includes(exp), `${file}: ${comp} exports no ${exp}`);
  }
  return root;
}

const attr = (b: AlloyBlock, name: string): string => (b.attrs.get(name) ?? []).map((t) => (t.t === 'str' ? JSON.stringify(t.v) : t.v)).join('');

test('Alloy OTLP path: receiver -> batch -> exporter.prometheus (no suffixes, no scope labels) -> remote_write', () => {
  const root = checkAlloy('alloy/otlp.alloy');
  const exporter = root.blocks.find((b) => b.name === 'otelcol.exporter.prometheus')!;
  assert.equal(attr(exporter, 'add_metric_suffixes'), 'false');
  assert.equal(attr(exporter, 'include_scope_labels'), 'false');
  assert.equal(attr(exporter, 'resource_to_telemetry_conversion'), 'false');
  const recv = root.blocks.find((b) => b.name === 'otelcol.receiver.otlp')!;
  assert.equal(attr(recv.blocks.find((b) => b.name === 'http')!, 'endpoint'), '"0.0.0.0:4318"');
  assert.ok(root.blocks.some((b) => b.name === 'prometheus.remote_write'));
});

test('Alloy scrape path: prometheus.scrape -> remote_write; labels distinct from the OTLP file', () => {
  const root = checkAlloy('alloy/scrape.alloy');
  const scrape = root.blocks.find((b) => b.name === 'prometheus.scrape')!;
  assert.equal(attr(scrape, 'job_name'), '"otel-host-receiver"');
  assert.match(attr(scrape, 'targets'), new RegExp(`"localhost:${DEFAULT_PORT}"`));
  const other = checkAlloy('alloy/otlp.alloy');
  const names = (r: AlloyBlock): string[] => r.blocks.map((b) => `${b.name}.${b.label}`);
  for (const n of names(root)) assert.ok(!names(other).includes(n), `${n} is defined in both Alloy files (they could not share a config directory)`);
});

// --- Grafana dashboard ------------------------------------------------------------------

interface Panel {
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string }>;
}

test('Grafana dashboard: valid JSON, templated data source, panels on the grid, contract metrics', () => {
  const dash = JSON.parse(read('grafana/otel-host-receiver.json')) as { uid: string; title: string; schemaVersion: number; templating: { list: Array<{ name: string; type: string }> }; panels: Panel[] };
  assert.equal(dash.uid, 'otel-host-receiver');
  assert.ok(dash.schemaVersion >= 36);
  assert.deepEqual(dash.templating.list.map((v) => v.name), ['datasource', 'job', 'instance']);
  const ids = new Set<string>();
  const exprs: string[] = [];
  for (const p of dash.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} is off the 24-column grid`);
    if (p.type === 'row') continue;
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: data source must be the template variable`);
    assert.ok(p.targets && p.targets.length > 0, `${p.title} has no query`);
    for (const t of p.targets) {
      assert.ok(!ids.has(`${p.title}/${t.refId}`));
      ids.add(`${p.title}/${t.refId}`);
      assert.match(t.expr, /job=~"\$job", instance=~"\$instance"/, `${p.title}: query must honour the job and host variables`);
      exprs.push(t.expr);
    }
  }
  // What the issue asks the dashboard to show.
  const all = exprs.join('\n');
  for (const name of [PORT_FAMILIES.tcpAlive.name, PORT_FAMILIES.tcpResponse.name, PORT_FAMILIES.httpAlive.name, PORT_FAMILIES.udpAlive.name, PORT_FAMILIES.processAlive.name, 'namedprocess_namegroup_cpu_seconds_total', 'namedprocess_namegroup_memory_bytes', 'namedprocess_namegroup_open_filedesc', 'namedprocess_namegroup_worst_fd_ratio']) {
    assert.ok(all.includes(name), `dashboard does not show ${name}`);
  }
  const table = dash.panels.find((p) => p.title === 'TCP ports')!;
  assert.equal(table.type, 'table');
});

/**
 * The binary as an operator meets it: exit codes, one-line errors, signals,
 * OTLP encodings and failure handling. Each test spawns `node dist/src/main.js`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value } from '../helpers/exposition';
import { OtlpReceiver, type ReceivedExport } from '../helpers/otlp-receiver';
import { killAndWait } from '../helpers/processes';

const MAIN = path.resolve(__dirname, '../../src/main.js');

/**
 * Exports from this test's daemon only: on a busy machine an ephemeral port
 * our receiver binds may have belonged to another run's collector a moment ago.
 */
const ours = (service: string) => (e: ReceivedExport): boolean => e.resource['service.name'] === service;

interface Run {
  proc: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const proc = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stdout, stderr }))),
  );
  return { proc, stderr: () => stderr, exit };
}

/** Starts the daemon on a free loopback port and waits for it to serve. */
async function serve(args: string[], env: Record<string, string>): Promise<Run & { base: string }> {
  const r = run(['--web.listen-address=127.0.0.1:0', '--no-collector.namedprocess', ...args], env);
  const port = await waitFor('serving log line', () => {
    const m = /msg=serving .*address=[^ ]*:(\d+)/.exec(r.stderr());
    return m ? Number(m[1]) : undefined;
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('healthz', async () => ((await get(`${base}/healthz`)).status === 200 ? true : undefined));
  return { ...r, base };
}

test('bad env var or flag: exit 2 and exactly one stderr line naming it', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], { PORT_STATUS_INTERVAL: 'soon' }, /^otel-host-receiver: PORT_STATUS_INTERVAL: invalid value "soon": expected a duration/],
    [[], { OTEL_METRICS_EXPORTER: 'jaeger' }, /^otel-host-receiver: OTEL_METRICS_EXPORTER: invalid value "jaeger"/],
    [['--web.listen-address=99999'], {}, /^otel-host-receiver: --web.listen-address: invalid value/],
    [['--bogus'], {}, /^otel-host-receiver: --bogus: unknown flag/],
    [['--web.config.file=/nonexistent/web.yml'], {}, /^otel-host-receiver: --web\.config\.file: /],
    [['--config.path=/nonexistent/pn.yml'], {}, /^otel-host-receiver: --config\.path: cannot read/],
    [[], { EXCLUDED_PROCESS_NAMES_FILE: '/nonexistent/x' }, /^otel-host-receiver: --exclude\.process-names-file: cannot read/],
  ];
  for (const [args, env, re] of cases) {
    const { code, stderr, stdout } = await run(args, env).exit;
    assert.equal(code, 2, `${args} ${JSON.stringify(env)}`);
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    assert.match(stderr, re);
    assert.equal(stdout, '');
  }
});

test('--help and --version exit 0', async () => {
  const help = await run(['--help']).exit;
  assert.equal(help.code, 0);
  assert.match(help.stdout, /PORT_LABEL_INTERVAL/);
  assert.match(help.stdout, /--web\.listen-address/);
  const version = await run(['--version']).exit;
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^otel-host-receiver \d+\.\d+\.\d+/);
});

test('a listen address in use: exit 1 with the reason', async () => {
  const first = await serve([], { OTEL_METRICS_EXPORTER: 'prometheus' });
  try {
    const port = new URL(first.base).port;
    const second = await run([`--web.listen-address=127.0.0.1:${port}`], { OTEL_METRICS_EXPORTER: 'prometheus' }).exit;
    assert.equal(second.code, 1);
    assert.match(second.stderr, /EADDRINUSE/);
  } finally {
    await killAndWait(first.proc, 'SIGKILL');
  }
});

test('SIGTERM flushes a last OTLP export and exits 0', async () => {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  try {
    // the periodic export is 10 minutes away: the export we see can only be the shutdown flush
    const d = await serve([], { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '600000', OTEL_SERVICE_NAME: 'ohr-sigterm' });
    const sentAt = Date.now();
    d.proc.kill('SIGTERM');
    const exp = await receiver.next(ours('ohr-sigterm'), 8000);
    assert.ok(exp.rows.some((r) => r.metric === 'otel_host_receiver_build_info'), JSON.stringify([...new Set(exp.rows.map((r) => r.metric))]));
    const { code } = await d.exit;
    assert.equal(code, 0);
    assert.ok(Date.now() - sentAt < 6000);
  } finally {
    await receiver.stop();
  }
});

test('SIGINT with the collector unreachable still exits 0 within the bounded flush time', async () => {
  const d = await serve([], { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:9/v1/metrics', OTEL_METRIC_EXPORT_INTERVAL: '600000' });
  const sentAt = Date.now();
  d.proc.kill('SIGINT');
  const { code } = await d.exit;
  assert.equal(code, 0);
  assert.ok(Date.now() - sentAt < 7000, `took ${Date.now() - sentAt} ms`);
});

test('OTLP http/json with gzip and headers; failures logged once per change of state, counted, never blocking /metrics', async () => {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  try {
    const d = await serve([], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint.replace('/v1/metrics', ''),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr3t-value',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_EXPORTER_OTLP_TIMEOUT: '250',
      OTEL_SERVICE_NAME: 'ohr-json',
    });
    try {
      const ok = await receiver.next(ours('ohr-json'));
      assert.equal(ok.encoding, 'json');
      assert.equal(ok.headers['content-encoding'], 'gzip');
      assert.equal(ok.headers['x-api-key'], 's3cr3t-value');
      assert.ok(ok.rows.some((r) => r.metric === 'otel_host_receiver_build_info'));

      receiver.behaviour = '503';
      const before = receiver.requests;
      await waitFor('several failed exports', () => (receiver.requests >= before + 4 ? true : undefined), 10_000);
      const res = await get(`${d.base}/metrics`);
      assert.equal(res.status, 200);
      const e = parseExposition(res.body);
      assert.ok((value(e, 'otel_host_receiver_otlp_exports_total', { result: 'failure' }) ?? 0) >= 2);
      assert.equal(value(e, 'otel_host_receiver_otlp_up'), 0);

      receiver.behaviour = 'ok';
      await waitFor('recovery logged', () => (/OTLP export recovered/.test(d.stderr()) ? true : undefined), 10_000);
      const log = d.stderr();
      assert.equal(log.match(/OTLP export failing/g)?.length, 1, log);
      assert.equal(log.match(/OTLP export recovered/g)?.length, 1, log);
      assert.ok(!log.includes('s3cr3t-value'), 'headers never logged');
      assert.ok(!/\n\s+at /.test(log), 'no stack traces');
    } finally {
      d.proc.kill('SIGTERM');
      await d.exit;
    }
  } finally {
    await receiver.stop();
  }
});

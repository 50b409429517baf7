/**
 * Durations longer than one Node timer can hold (2^31 ms, ~24.9 days).
 * Node turns such a delay into 1 ms with a TimeoutOverflowWarning, which
 * made `PORT_STATUS_INTERVAL=25d` a probe sweep every millisecond. Long
 * periods must be honoured (chained timers); absurd ones refused at start
 * with exit 2 naming the variable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/util/long-timer';
import { StageRunner } from '../../src/scheduler';
import { SelfStats } from '../../src/self-stats';
import { silentLogger } from '../../src/log';
import { ConfigError, loadConfig, type Config } from '../../src/config/options';

const MAIN = path.resolve(__dirname, '../../src/main.js');
const DAY = 86_400_000;

/** Collects process warnings (TimeoutOverflowWarning) emitted while `fn` runs. */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error): void => void seen.push(w.name);
  process.on('warning', onWarning);
  try {
    await fn();
    await sleep(50); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

test('setLongTimeout: a chain of short hops fires once, not before the delay', async () => {
  const started = performance.now();
  let fired = 0;
  let firedAfter = 0;
  // hops of at most 20 ms: a 150 ms delay takes eight of them
  setLongTimeout(
    () => {
      fired++;
      firedAfter = performance.now() - started;
    },
    150,
    { maxStepMs: 20, ref: true },
  );
  await sleep(100);
  assert.equal(fired, 0, 'fired before its delay');
  await sleep(400);
  assert.equal(fired, 1);
  assert.ok(firedAfter >= 149, `fired after ${firedAfter} ms`);
});

test('setLongTimeout: cancel in the middle of a chain stops it', async () => {
  let fired = 0;
  const t = setLongTimeout(() => fired++, 120, { maxStepMs: 15, ref: true });
  await sleep(50);
  t.cancel();
  await sleep(200);
  assert.equal(fired, 0);
});

test('setLongTimeout: 25 days and one beyond the timer limit neither fire now nor warn', async () => {
  let fired = 0;
  const warnings = await warningsDuring(async () => {
    const a = setLongTimeout(() => fired++, 25 * DAY);
    const b = setLongTimeout(() => fired++, MAX_TIMER_MS + 1);
    const c = setLongTimeout(() => fired++, Number.NaN, { ref: true }); // treated as 0, never a busy loop
    await sleep(300);
    a.cancel();
    b.cancel();
    c.cancel();
  });
  assert.equal(fired, 1, 'only the NaN (zero) delay fired');
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});

test('StageRunner with a 25d period: one run at start, then nothing (was a run every millisecond)', async () => {
  let runs = 0;
  const runner = new StageRunner('tcp_probe', 25 * DAY, async () => void runs++, new SelfStats(), silentLogger);
  const warnings = await warningsDuring(async () => {
    runner.start(0);
    await sleep(1000);
  });
  await runner.stop();
  assert.equal(runs, 1);
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});

test('loadConfig: long periods are accepted, absurd ones refused naming the variable', () => {
  const load = (env: Record<string, string>): Config => {
    const r = loadConfig([], env);
    assert.equal(r.kind, 'config');
    return (r as { config: Config }).config;
  };
  assert.equal(load({ PORT_LABEL_INTERVAL: '30d' }).portLabelIntervalMs, 30 * DAY);
  assert.equal(load({ PORT_STATUS_INTERVAL: '999h' }).portStatusIntervalMs, 999 * 3_600_000);
  assert.equal(load({ PORT_STATUS_INTERVAL: '365d' }).portStatusIntervalMs, 365 * DAY);
  const refused: Array<[Record<string, string>, string]> = [
    [{ PORT_STATUS_INTERVAL: '999999999d' }, 'PORT_STATUS_INTERVAL'],
    [{ PORT_LABEL_INTERVAL: '366d' }, 'PORT_LABEL_INTERVAL'],
    [{ PROCESS_SAMPLE_INTERVAL: '9'.repeat(400) + 'd' }, 'PROCESS_SAMPLE_INTERVAL'],
    // one connect or HTTP exchange: a timer of its own, bounded far below the timer limit
    [{ PORT_CHECK_TIMEOUT: '25d' }, 'PORT_CHECK_TIMEOUT'],
    // handed to the OpenTelemetry SDK's own setInterval/setTimeout, which cannot be chained from here
    [{ OTEL_METRIC_EXPORT_INTERVAL: String(MAX_TIMER_MS + 1) }, 'OTEL_METRIC_EXPORT_INTERVAL'],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: String(MAX_TIMER_MS + 1) }, 'OTEL_EXPORTER_OTLP_TIMEOUT'],
  ];
  for (const [env, key] of refused) {
    assert.throws(() => loadConfig([], env), (err: unknown) => err instanceof ConfigError && err.key === key, JSON.stringify(env));
  }
  assert.equal(load({ OTEL_METRIC_EXPORT_INTERVAL: String(MAX_TIMER_MS) }).exportIntervalMs, MAX_TIMER_MS);
});

test('the binary: PORT_STATUS_INTERVAL=999999999d exits 2 with one line naming it', async () => {
  const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, PORT_STATUS_INTERVAL: '999999999d' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^otel-host-receiver: PORT_STATUS_INTERVAL: invalid value "999999999d": expected a duration .*at most 365d/);
  assert.equal(r.stdout, '');
});

/**
 * pid 1 of the test's own pid namespace, inside the test's own network
 * namespace: listens on loopback, prints "conn" for every connection it
 * accepts, and runs the daemon as its child. The namespaces keep other
 * daemons on this machine (other test runs) away from the listener, and make
 * the listener's namespace the "host" one for the daemon.
 */
const NAMESPACE_INIT = `
const net = require('node:net');
const { spawn } = require('node:child_process');
const server = net.createServer((s) => { process.stdout.write('conn\\n'); s.on('error', () => {}); s.destroy(); });
server.listen(0, '127.0.0.1', () => {
  process.stdout.write('ready ' + server.address().port + '\\n');
  const d = spawn(process.execPath, JSON.parse(process.argv[1]), { stdio: ['ignore', 'ignore', 'inherit'] });
  d.on('exit', (code, signal) => { process.stdout.write('daemon-exit ' + code + ' ' + signal + '\\n'); });
});
`;

const canNamespace =
  process.getuid?.() === 0 &&
  spawnSync('ip', ['netns', 'list']).status === 0 &&
  spawnSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true']).status === 0;

test(
  'a real daemon with 25d and 30d periods probes a real loopback listener once, not once a millisecond',
  { skip: canNamespace ? false : 'needs root, ip netns and unshare (the listener must be out of reach of other daemons on the host)' },
  async () => {
    const ns = `ohr-timers-${process.pid}`;
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    assert.equal(spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']).status, 0);
    const args = [
      MAIN,
      '--web.listen-address=127.0.0.1:0',
      '--port.check-timeout=300ms',
    ];
    const env = {
      ...process.env,
      OTEL_METRICS_EXPORTER: 'prometheus',
      PORT_STATUS_INTERVAL: '25d', // HTTP and UDP periods follow it
      PORT_LABEL_INTERVAL: '30d',
      PROCESS_ALIVE_STATUS_INTERVAL: '999h',
      PROCESS_SAMPLE_INTERVAL: '25d',
    };
    const proc = spawn(
      'ip',
      ['netns', 'exec', ns, 'unshare', '--pid', '--kill-child', '--mount-proc', process.execPath, '-e', NAMESPACE_INIT, JSON.stringify(args)],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const connections = (): number => out.split('\n').filter((l) => l === 'conn').length;
    try {
      const deadline = Date.now() + 30_000;
      while (connections() === 0 && Date.now() < deadline && proc.exitCode === null) await sleep(50);
      assert.ok(connections() > 0, `the first cycle never probed the listener:\n${out}\n${err}`);
      // the first cycle: one TCP connect and one HTTP detection; then nothing for 25 days
      await sleep(6000);
      assert.ok(connections() <= 2, `${connections()} connections in 6 s with a 25d period`);
      assert.doesNotMatch(out, /daemon-exit/, err);
      assert.doesNotMatch(err, /TimeoutOverflowWarning/);
    } finally {
      // unshare ignores SIGTERM while it waits; its death kills pid 1, and with it the whole pid namespace
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
  },
);

/**
 * Untrusted input: every /proc parser against thousands of random, mutated
 * and truncated inputs. Any local user controls much of what /proc shows
 * (process names, command lines, socket tables fill up), so a parser must
 * return or throw an ordinary Error: never throw a non-Error, never hang,
 * never let an exception escape its boundary. Parsers documented never to
 * throw must not throw at all.
 *
 * The targets are found, not listed: every module in dist/src/procfs is
 * loaded and every exported function whose name starts with `parse` (plus
 * decodeAddress and socketInode) is called, so parsers added later are
 * fuzzed without touching this file.
 *
 * Runs in a worker thread watched from here: a parser stuck in a loop or a
 * catastrophic regex cannot be interrupted in its own thread, so the watchdog
 * terminates the worker and reports the function, the iteration and the
 * input, regenerated from the seed. Reproduce with OHR_FUZZ_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { readdirSync, readFileSync, statSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { fuzzArgs, type FuzzFailure, type FuzzReport } from '../helpers/hardening';

const PROCFS_DIST = path.join(__dirname, '..', '..', 'src', 'procfs');
const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures');
const ITERATIONS = Number(process.env.OHR_FUZZ_ITERATIONS ?? 3000);
const SEED = Number(process.env.OHR_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Exported functions documented never to throw ("a malformed line is skipped, never thrown", "returns undefined"). */
const NEVER_THROW = ['parseSocketLine', 'parseSocketTable', 'decodeAddress', 'socketInode', 'parseCmdline'];
/** Non-`parse` exports the brief names as parsers of untrusted text. */
const EXTRA_TARGETS = ['decodeAddress', 'socketInode'];
/** No progress for this long means a parser hangs. */
const HANG_MS = 10_000;

/** Real /proc text (this host's, now) and the fixture trees: the seeds mutations start from. */
function corpus(): string[] {
  const out: string[] = [];
  const add = (file: string): void => {
    try {
      const st = statSync(file);
      if (st.isFile() || file.startsWith('/proc/')) out.push(readFileSync(file, 'latin1').slice(0, 256 * 1024));
    } catch {
      // unreadable: skip
    }
  };
  for (const f of ['net/tcp', 'net/tcp6', 'net/udp', 'net/udp6', 'stat', 'meminfo', 'loadavg', 'uptime']) add(`/proc/${f}`);
  for (const f of ['stat', 'cmdline', 'status', 'io', 'limits', 'smaps_rollup', 'statm', 'comm', 'environ', 'mountinfo', 'net/netstat', 'schedstat']) add(`/proc/self/${f}`);
  for (const f of ['stat', 'status', 'comm']) add(`/proc/1/${f}`);
  try {
    out.push(`socket:[${readlinkSync('/proc/self/fd/0').length}]`, readlinkSync('/proc/self/exe'));
  } catch {
    // not Linux
  }
  const walk = (dir: string, depth: number): void => {
    if (depth > 6) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p, depth + 1);
        else if (st.size < 256 * 1024) out.push(readFileSync(p, 'latin1'));
      } catch {
        // dangling link in a fixture: skip
      }
    }
  };
  walk(FIXTURES, 0);
  out.push('', 'socket:[12345]', '  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0');
  return out;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readdirSync } = require('node:fs');
const path = require('node:path');
const { fuzzArgs, describeThrown } = require(workerData.helper);
const { dir, seed, iterations, corpus, neverThrow, extra, progress } = workerData;
const counter = new Int32Array(progress);
const targets = [];
const enums = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
  const mod = require(path.join(dir, file));
  for (const [name, v] of Object.entries(mod)) {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) enums.push(...v);
    if (typeof v === 'function' && (/^parse/.test(name) || extra.includes(name)) && !/^class /.test(Function.prototype.toString.call(v))) {
      targets.push({ id: file.replace(/\\.js$/, '') + '.' + name, name, fn: v });
    }
  }
}
parentPort.postMessage({ kind: 'targets', targets: targets.map((t) => ({ id: t.id, arity: t.fn.length })), enums });
const failures = [];
let calls = 0;
let pending = 0;
function record(t, i, args, thrown, why) {
  if (failures.length < 25) failures.push({ target: t.id, iteration: i, why, thrown: describeThrown(thrown), input: JSON.stringify(args).slice(0, 400) });
}
for (let ti = 0; ti < targets.length; ti++) {
  const t = targets[ti];
  for (let i = 0; i < iterations; i++) {
    Atomics.store(counter, 0, ti);
    Atomics.store(counter, 1, i);
    Atomics.add(counter, 2, 1);
    const args = fuzzArgs(seed, t.id, i, Math.max(1, t.fn.length), corpus, enums);
    calls++;
    try {
      const r = t.fn(...args);
      if (r && typeof r.then === 'function') {
        pending++;
        r.then(() => pending--, (e) => {
          pending--;
          if (!(e instanceof Error)) record(t, i, args, e, 'rejected with a non-Error');
          else if (neverThrow.includes(t.name)) record(t, i, args, e, 'documented never to throw, rejected');
        });
      }
    } catch (e) {
      if (!(e instanceof Error)) record(t, i, args, e, 'threw a non-Error');
      else if (neverThrow.includes(t.name)) record(t, i, args, e, 'documented never to throw, threw');
    }
  }
}
setTimeout(() => parentPort.postMessage({ kind: 'done', calls, failures, pending }), 50);
`;

test(`every /proc parser survives random and truncated input (seed ${SEED})`, { timeout: 120_000 }, async (t) => {
  t.diagnostic(`fuzz seed ${SEED}; reproduce with OHR_FUZZ_SEED=${SEED}`);
  process.stdout.write(`# fuzz seed ${SEED} (OHR_FUZZ_SEED=${SEED} to reproduce)\n`);
  const texts = corpus();
  const progress = new SharedArrayBuffer(12);
  const counter = new Int32Array(progress);
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      helper: path.join(__dirname, '..', 'helpers', 'hardening.js'),
      dir: PROCFS_DIST,
      seed: SEED,
      iterations: ITERATIONS,
      corpus: texts,
      neverThrow: NEVER_THROW,
      extra: EXTRA_TARGETS,
      progress,
    },
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  let targets: Array<{ id: string; arity: number }> = [];
  let enums: string[] = [];
  const report = await new Promise<FuzzReport>((resolve, reject) => {
    let lastCount = -1;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const count = Atomics.load(counter, 2);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
        return;
      }
      if (Date.now() - lastChange < HANG_MS) return;
      clearInterval(watchdog);
      const target = targets[Atomics.load(counter, 0)];
      const i = Atomics.load(counter, 1);
      const input = target ? JSON.stringify(fuzzArgs(SEED, target.id, i, Math.max(1, target.arity), texts, enums)).slice(0, 400) : '?';
      void worker.terminate();
      reject(new Error(`${target?.id ?? '?'} hangs (no progress for ${HANG_MS} ms) at iteration ${i}, seed ${SEED}; input ${input}`));
    }, 250);
    worker.on('message', (m: { kind: string } & Partial<FuzzReport> & { targets?: typeof targets; enums?: string[] }) => {
      if (m.kind === 'targets') {
        targets = m.targets!;
        enums = m.enums!;
      } else if (m.kind === 'done') {
        clearInterval(watchdog);
        resolve({ calls: m.calls!, failures: m.failures!, pending: m.pending! });
      }
    });
    worker.on('error', (err) => {
      clearInterval(watchdog);
      reject(new Error(`an exception escaped a parser's boundary (seed ${SEED}): ${err instanceof Error ? err.stack : String(err)}`));
    });
    worker.on('exit', (code) => {
      clearInterval(watchdog);
      reject(new Error(`fuzz worker exited with ${code} before finishing (seed ${SEED})`));
    });
  });
  await worker.terminate();

  const ids = targets.map((x) => x.id);
  t.diagnostic(`${report.calls} calls over ${ids.join(', ')}`);
  for (const must of ['net-sockets.parseSocketLine', 'net-sockets.parseSocketTable', 'net-sockets.decodeAddress', 'pid-stat.parsePidStat', 'pid-identity.parseCmdline', 'pid-identity.socketInode']) {
    assert.ok(ids.includes(must), `${must} not found among ${ids.join(', ')}`);
  }
  for (const name of NEVER_THROW) assert.ok(ids.some((id) => id.endsWith(`.${name}`)), `never-throw parser ${name} no longer exported`);
  assert.equal(report.calls, ids.length * ITERATIONS);
  assert.equal(report.pending, 0, 'a parser left a promise unsettled');
  const lines = report.failures.map((f: FuzzFailure) => `${f.target} #${f.iteration}: ${f.why}: ${f.thrown}; input ${f.input}`);
  assert.deepEqual(lines, [], `seed ${SEED}`);
});

test('the fuzzer is deterministic and its inputs are varied', () => {
  const texts = corpus();
  const a = fuzzArgs(42, 'x.parseThing', 7, 2, texts, ['tcp', 'udp']);
  assert.deepEqual(fuzzArgs(42, 'x.parseThing', 7, 2, texts, ['tcp', 'udp']), a);
  const seen = new Set<string>();
  let long = 0;
  let empty = 0;
  for (let i = 0; i < 2000; i++) {
    const s = fuzzArgs(1, 'x.parseThing', i, 1, texts, [])[0]!;
    seen.add(s);
    if (s.length > 10_000) long++;
    if (s === '') empty++;
  }
  assert.ok(seen.size > 1500, `only ${seen.size} distinct inputs`);
  assert.ok(long > 5 && empty > 0, `long ${long}, empty ${empty}`);
});

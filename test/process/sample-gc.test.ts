/**
 * The full collection handed in from main.ts (DaemonDeps.collectGarbage) runs
 * after a process sample of the sample stage, at most once every
 * GC_MIN_INTERVAL_MS, and not without the process collector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, GC_MIN_INTERVAL_MS } from '../../src/daemon';
import { atMostEvery } from '../../src/util/at-most-every';
import { silentLogger } from '../../src/log';
import { config } from '../helpers/hardening';

test('after each process sample of the stage, the injected collection runs once', async () => {
  const seen: number[] = [];
  const daemon = new Daemon(config(['--collector.namedprocess', '--process.sample-interval=1h']), silentLogger, {
    collectGarbage: () => seen.push(Date.now()),
  });
  try {
    await daemon.start();
    await daemon.ready;
    assert.equal(seen.length, 1, 'one sample, one collection');
    const page = await daemon.telemetry.scrape();
    assert.match(page, /^namedprocess_namegroup_num_procs\{/m);
    await daemon.processes!.sample(); // a sample outside the stage runner collects nothing
    assert.equal(seen.length, 1);
    // the stage again: within GC_MIN_INTERVAL_MS of the first collection it is skipped (the sample
    // starts as the cycle does; on a machine so slow that half the interval has gone, only the bound holds)
    const sinceFirst = Date.now() - seen[0]!;
    await daemon.cycle();
    if (sinceFirst < GC_MIN_INTERVAL_MS / 2) assert.equal(seen.length, 1, `a second collection ${sinceFirst} ms after the first`);
    else assert.ok(seen.length <= 2);
  } finally {
    await daemon.stop(0);
  }
});

test('without the process collector, nothing is collected', async () => {
  let calls = 0;
  const daemon = new Daemon(config([]), silentLogger, { collectGarbage: () => calls++ });
  try {
    await daemon.start();
    await daemon.ready;
    assert.equal(calls, 0);
  } finally {
    await daemon.stop(0);
  }
});

test('atMostEvery: the first call runs, calls within the interval are skipped, the next one after it runs', () => {
  let t = 1000;
  let runs = 0;
  const f = atMostEvery(10_000, () => runs++, () => t);
  f();
  assert.equal(runs, 1);
  t += 9_999;
  f();
  assert.equal(runs, 1);
  t += 1;
  f();
  assert.equal(runs, 2);
  t += 5_000;
  f();
  t += 4_999;
  f();
  assert.equal(runs, 2, 'the interval counts from the last run, not from the last call');
  t += 1;
  f();
  assert.equal(runs, 3);
});

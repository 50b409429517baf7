/**
 * The full collection handed in from main.ts (DaemonDeps.collectGarbage) runs
 * once per process sample of the sample stage, and not without the process
 * collector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon } from '../../src/daemon';
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

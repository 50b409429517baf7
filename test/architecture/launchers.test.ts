/**
 * The daemon's V8 flags live in src/main.ts's first line; every launcher we
 * ship must pass the same ones (a launcher without them runs with a young
 * generation up to 16x larger, 15-30 MiB more RSS, and lets garbage pile up
 * in the old generation to about 4x the live data).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DAEMON_ENV, daemonNodeFlags } from '../helpers/daemon-flags';

const ROOT = path.resolve(__dirname, '../../..');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

test('npm start, the Dockerfile and the systemd unit pass the flags of main.ts\'s first line and the same environment', () => {
  const flags = daemonNodeFlags();
  assert.ok(flags.length > 0 && flags.every((f) => f.startsWith('--')), `flags from the shebang: ${flags.join(' ')}`);
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
  const env = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`);
  assert.equal(start, `${env.join(' ')} node ${flags.join(' ')} dist/src/main.js`);
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
  assert.deepEqual(JSON.parse(entry ?? '[]'), ['node', ...flags, '/app/dist/src/main.js']);
  for (const e of env) assert.match(read('Dockerfile'), new RegExp(`^ENV ${e}$`, 'm'), 'Dockerfile ENV');
  const unit = read('deploy/systemd/otel-host-receiver.service');
  for (const e of env) assert.match(unit, new RegExp(`^Environment=${e}$`, 'm'), 'systemd Environment=');
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  assert.equal(exec, `/usr/bin/node ${flags.join(' ')} /opt/otel-host-receiver/dist/src/main.js`);
});

test('the built main.js keeps the first line, and node runs with it: the young generation stays at 2 MiB', () => {
  const built = readFileSync(path.join(ROOT, 'dist/src/main.js'), 'utf8').split('\n', 1)[0];
  assert.equal(built, read('src/main.ts').split('\n', 1)[0]);
  const flags = daemonNodeFlags();
  // allocate enough short-lived garbage that a default young generation would grow past 2 MiB
  const probe = "const v8=require('v8');let k=[];for(let i=0;i<300;i++){k.push(new Array(20000).fill(0).map((_,j)=>({j})));if(k.length>4)k.shift()}" +
    "process.stdout.write(String(v8.getHeapSpaceStatistics().find(s=>s.space_name==='new_space').space_size))";
  const sized = (args: string[]): number => Number(spawnSync(process.execPath, [...args, '-e', probe], { encoding: 'utf8' }).stdout);
  const withFlags = sized(flags);
  const without = sized([]);
  assert.ok(withFlags <= 2 * 2 ** 20, `new space with ${flags.join(' ')}: ${withFlags} bytes`);
  assert.ok(without > withFlags, `new space without the flags (${without}) should be larger than with them (${withFlags})`);
});

test('with the flags, the old generation is collected at 1.5x its live data: a churn of promoted garbage peaks far lower than without', () => {
  const flags = daemonNodeFlags();
  assert.ok(flags.includes('--heap-growing-percent=50'), `flags: ${flags.join(' ')}`);
  // 16 MiB-ish that stay alive, then arrays that outlive a few scavenges (so they reach the
  // old generation) and die there: the peak of heap used is what the growing factor allows
  const probe = 'const live=[];for(let i=0;i<16;i++)live.push(new Array(20000).fill(0).map((_,j)=>({j,s:"x"+j})));' +
    'let ring=[],peak=0;for(let i=0;i<400;i++){ring.push(new Array(20000).fill(0).map((_,j)=>({j})));if(ring.length>3)ring.shift();' +
    'const u=process.memoryUsage().heapUsed;if(u>peak)peak=u}process.stdout.write(String(peak+live.length*0))';
  const peak = (args: string[]): number => Number(spawnSync(process.execPath, [...args, '-e', probe], { encoding: 'utf8' }).stdout);
  const withFlags = peak(flags);
  const semiOnly = peak(flags.filter((f) => !f.startsWith('--heap-growing-percent')));
  assert.ok(Number.isFinite(withFlags) && withFlags > 0, `node ran the probe with ${flags.join(' ')}`);
  // measured here: about 46 MiB with the flag, 117-121 MiB without
  assert.ok(withFlags < semiOnly * 0.7, `peak heap used: ${Math.round(withFlags / 2 ** 20)} MiB with the flags, ${Math.round(semiOnly / 2 ** 20)} MiB without --heap-growing-percent`);
});

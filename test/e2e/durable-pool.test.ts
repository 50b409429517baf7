/**
 * The pool survives restarts (issue 10, item 1), with the real daemon binary
 * restarted and real listeners on loopback: a service that died while the
 * agent was down reads 0 from the first scrape after the restart; a service
 * still running never reads a false 0 meanwhile; a corrupt state file is
 * moved aside with one warning and the daemon serves; kill -9 in the middle
 * of writing loses at most the last change.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { get } from '../helpers/http';
import { sleep, waitFor } from '../helpers/wait';
import { find, parseExposition, value, type Exposition } from '../helpers/exposition';
import { killAndWait, startListener, NODE_EXE, type Child } from '../helpers/processes';
import { tempDir } from '../helpers/tmp';
import { parse } from '../../src/storage/pool-file';

const MAIN = path.resolve(__dirname, '../../src/main.js');
const children: Child[] = [];
const agents = new Set<ChildProcess>();

after(async () => {
  await Promise.all([...agents].map((a) => killAndWait(a, 'SIGKILL')));
  await Promise.all(children.map((c) => c.kill()));
});

interface Agent {
  proc: ChildProcess;
  base: string;
  stderr: () => string;
}

async function startAgent(dir: string, extra: string[] = []): Promise<Agent> {
  const proc = spawn(
    process.execPath,
    [MAIN, '--web.listen-address=127.0.0.1:0', `--storage.path=${dir}`, '--no-collector.namedprocess', '--port.status-interval=300ms', '--process.alive-interval=300ms', ...extra],
    { env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  agents.add(proc);
  proc.once('exit', () => agents.delete(proc));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await waitFor('serving', () => {
    if (proc.exitCode !== null) throw new Error(`agent exited ${proc.exitCode}: ${stderr}`);
    return /msg=serving .*address=[^ ]*:(\d+)/.exec(stderr)?.[1];
  });
  return { proc, base: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

async function scrape(a: Agent): Promise<Exposition> {
  return parseExposition((await get(`${a.base}/metrics`)).body);
}

function stored(dir: string): Array<{ port: number; processName: string }> {
  return parse(readFileSync(path.join(dir, 'pool.json'), 'utf8'));
}

test('a service killed while the agent is down reads 0 from the first scrape after the restart; one still running never reads 0', async () => {
  const dir = tempDir('durable').dir;
  const doomed = await startListener('http', '127.0.0.1', 0, 'ohr-doomed');
  const survivor = await startListener('http', '127.0.0.1', 0, 'ohr-survivor');
  children.push(doomed, survivor);
  const doomedPort = { process_name: 'ohr-doomed', port: String(doomed.ports[0]) };
  const survivorPort = { process_name: 'ohr-survivor', port: String(survivor.ports[0]) };

  let agent = await startAgent(dir, ['--port.label-interval=1m']);
  await waitFor('both ports alive', async () => {
    const e = await scrape(agent);
    return value(e, 'node_tcp_port_alive', doomedPort) === 1 && value(e, 'node_tcp_port_alive', survivorPort) === 1 ? true : undefined;
  });
  await killAndWait(agent.proc, 'SIGTERM');
  // the shutdown wrote the pool
  const file = stored(dir);
  assert.ok(file.some((p) => p.port === doomed.ports[0] && p.processName === 'ohr-doomed'), 'doomed port in the state file');
  await doomed.kill();

  agent = await startAgent(dir, ['--port.label-interval=1m']);
  assert.equal((await get(`${agent.base}/healthz`)).status, 200);
  const first = await scrape(agent);
  assert.equal(value(first, 'node_tcp_port_alive', doomedPort), 0, 'the dead service reads 0 on the first scrape');
  assert.equal(value(first, 'node_tcp_port_response_seconds', doomedPort), 0);
  assert.equal(value(first, 'node_process_alive', { process_name: 'ohr-doomed', exe_path: NODE_EXE }), 0, 'its process reads 0');
  // the live one: no series until probed, then 1, never 0
  let e = first;
  for (;;) {
    const v = value(e, 'node_tcp_port_alive', survivorPort);
    assert.notEqual(v, 0, 'a service still running must not read 0 while its first probe is pending');
    if (v === 1) break;
    await sleep(20);
    e = await scrape(agent);
  }
  // other listeners on this host are in the file too
  assert.match(agent.stderr(), /msg="pool state file read".* remembered=\d+/);
  // it stays 0 (nothing probes a remembered port without a listener into a false 1)
  await sleep(1000);
  assert.equal(value(await scrape(agent), 'node_tcp_port_alive', doomedPort), 0);
  // the service comes back on its port: the remembered entry becomes a live one
  const back = await startListener('http', '127.0.0.1', doomed.ports[0]!, 'ohr-doomed');
  children.push(back);
  await waitFor('back alive', async () => {
    const s = await scrape(agent);
    return value(s, 'node_tcp_port_alive', doomedPort) === 1 && value(s, 'node_process_alive', { process_name: 'ohr-doomed', exe_path: NODE_EXE }) === 1 ? true : undefined;
  });
  await killAndWait(agent.proc, 'SIGTERM');
});

test('the rebuild forgets a remembered port that is still gone', async () => {
  const dir = tempDir('durable-forget').dir;
  const gone = await startListener('hung', '127.0.0.1', 0, 'ohr-gone');
  children.push(gone);
  const labels = { process_name: 'ohr-gone', port: String(gone.ports[0]) };
  let agent = await startAgent(dir, ['--port.label-interval=4s']);
  await waitFor('alive', async () => (value(await scrape(agent), 'node_tcp_port_alive', labels) === 1 ? true : undefined));
  await killAndWait(agent.proc, 'SIGTERM');
  await gone.kill();
  agent = await startAgent(dir, ['--port.label-interval=4s']);
  assert.equal(value(await scrape(agent), 'node_tcp_port_alive', labels), 0);
  // the rebuild after the start's (4 s later) forgets it, as it forgets a live port that stopped listening
  await waitFor('forgotten', async () => (find(await scrape(agent), 'node_tcp_port_alive', labels).length === 0 ? true : undefined), 15_000);
  await waitFor('file follows the pool', () => (stored(dir).some((p) => p.port === gone.ports[0]) ? undefined : true), 10_000);
  await killAndWait(agent.proc, 'SIGTERM');
});

test('a corrupt state file: one warning, moved aside, the daemon serves and writes a good file', async () => {
  const dir = tempDir('durable-corrupt').dir;
  writeFileSync(path.join(dir, 'pool.json'), '{"format":"otel-host-receiver/pool","version":1,"ports":[{"protocol":"tcp","po');
  const agent = await startAgent(dir);
  assert.equal((await get(`${agent.base}/healthz`)).status, 200);
  assert.equal((await get(`${agent.base}/metrics`)).status, 200);
  const warnings = agent.stderr().split('\n').filter((l) => l.includes('level=warn') && l.includes('pool state file'));
  assert.equal(warnings.length, 1, agent.stderr());
  assert.match(warnings[0]!, /unusable.*reason="not JSON \(truncated or corrupt\)"/);
  const aside = readdirSync(dir).filter((f) => f.startsWith('pool.json.corrupt-'));
  assert.equal(aside.length, 1);
  assert.match(readFileSync(path.join(dir, aside[0]!), 'utf8'), /"po$/, 'the bad file is kept for inspection');
  await waitFor('a good file written', () => (existsSync(path.join(dir, 'pool.json')) ? stored(dir) : undefined), 10_000);
  await killAndWait(agent.proc, 'SIGTERM');
  assert.equal(agent.proc.exitCode, 0);
});

test('a foreign file (another format) is moved aside too', async () => {
  const dir = tempDir('durable-foreign').dir;
  writeFileSync(path.join(dir, 'pool.json'), JSON.stringify({ hello: 'world' }));
  const agent = await startAgent(dir);
  assert.equal((await get(`${agent.base}/metrics`)).status, 200);
  assert.match(agent.stderr(), /unusable.*reason="not a otel-host-receiver\/pool file"/);
  await killAndWait(agent.proc, 'SIGTERM');
});

test('--storage.path naming a missing directory exits 2 with one line', async () => {
  const proc = spawn(process.execPath, [MAIN, '--web.listen-address=127.0.0.1:0', '--storage.path=/nonexistent/ohr-state'], {
    env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /^otel-host-receiver: --storage\.path\/STORAGE_PATH: "\/nonexistent\/ohr-state" is not a writable directory \(ENOENT\)\n$/);
});

test('kill -9 of the agent while it writes loses at most the last change', async () => {
  const dir = tempDir('durable-kill9').dir;
  // a hundred ports make each write a sizeable file
  const bulk = await startListener('many:100', '127.0.0.1', 0, 'ohr-bulk');
  children.push(bulk);
  const added: number[] = [];
  for (let i = 0; i < 6; i++) {
    const agent = await startAgent(dir, ['--port.label-interval=1h']);
    // everything but possibly the last change is written again by this run
    await waitFor('previous ports in the file', () => {
      const ports = new Set(stored(dir).map((p) => p.port));
      return bulk.ports.every((p) => ports.has(p)) && added.every((p) => ports.has(p)) ? true : undefined;
    }, 20_000);
    // the next change to the directory is the write of the new port: kill -9 the agent the moment it starts
    const killed = new Promise<void>((resolve) => {
      const watcher = watch(dir, () => {
        agent.proc.kill('SIGKILL');
        watcher.close();
        resolve();
      });
    });
    const next = await startListener('hung', '127.0.0.1', 0, `ohr-k9-${i}`);
    children.push(next);
    await killed;
    await killAndWait(agent.proc, 'SIGKILL');
    // the file parses (never a torn write) and holds everything before the last change
    const ports = new Set(stored(dir).map((p) => p.port));
    for (const p of [...bulk.ports, ...added]) assert.ok(ports.has(p), `port ${p} lost after kill -9 #${i}`);
    added.push(next.ports[0]!);
  }
});

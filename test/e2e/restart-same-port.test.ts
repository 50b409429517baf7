/**
 * A service restarted on the same port (issue 10): the new process already
 * listens when the process-alive check runs, before the next TCP round would
 * re-bind the port. node_process_alive must read 1 for it, not 0 until then.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../src/daemon';
import { startInProcessDaemon } from '../helpers/hardening';
import { startListener, NODE_EXE, type Child } from '../helpers/processes';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value } from '../helpers/exposition';

const ALIVE_MS = 300;
let daemon: Daemon;
let base: string;
const children: Child[] = [];

before(async () => {
  children.push(await startListener('http', '127.0.0.1', 0, 'ohr-restarted'));
  ({ daemon, base } = await startInProcessDaemon([
    // the TCP round (and with it the cheap discovery pass) does not come again during the test
    '--port.status-interval=1h',
    '--port.label-interval=1h',
    `--process.alive-interval=${ALIVE_MS}ms`,
  ]));
});

after(async () => {
  await daemon?.stop(1000);
  await Promise.all(children.map((c) => c.kill()));
});

test('a new pid on the same port within one interval keeps node_process_alive at 1', async () => {
  const labels = { process_name: 'ohr-restarted', exe_path: NODE_EXE };
  const alive = async (): Promise<number | undefined> => value(parseExposition((await get(`${base}/metrics`)).body), 'node_process_alive', labels);
  await waitFor('alive 1', async () => ((await alive()) === 1 ? true : undefined));
  const port = children[0]!.ports[0]!;
  await children[0]!.kill();
  const next = await startListener('http', '127.0.0.1', port, 'ohr-restarted');
  children.push(next);
  // the check after the restart sees the new process
  await waitFor('the new pid in the pool', async () => {
    const api = JSON.parse((await get(`${base}/api/status`)).body) as { processes: Array<{ processName: string; pids: number[] }> };
    return api.processes.find((p) => p.processName === 'ohr-restarted')?.pids.includes(next.pid) ? true : undefined;
  }, 10_000);
  // and from then on it reads 1 on every check
  const until = Date.now() + 6 * ALIVE_MS;
  while (Date.now() < until) {
    assert.equal(await alive(), 1);
    await new Promise((r) => setTimeout(r, ALIVE_MS / 2));
  }
});

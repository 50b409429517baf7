/**
 * Reload (SIGHUP and POST /-/reload with --web.enable-lifecycle): the config
 * files are re-read, counters and caches survive, a bad file changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { get, request } from '../helpers/http';
import { sleep, waitFor } from '../helpers/wait';
import { find, parseExposition, value, type Exposition } from '../helpers/exposition';
import { killAndWait, startListener, type Child } from '../helpers/processes';

const MAIN = path.resolve(__dirname, '../../src/main.js');
let dir: string;
let daemon: ChildProcess;
let stderr = '';
let base: string;
let child: Child;
const exclusions = (): string => path.join(dir, 'exclude.txt');
const processNames = (): string => path.join(dir, 'process-names.yml');

async function scrape(): Promise<Exposition> {
  return parseExposition((await get(`${base}/metrics`)).body);
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ohr-reload-'));
  writeFileSync(exclusions(), '# nothing excluded yet\n');
  writeFileSync(processNames(), 'process_names:\n  - name: "reload-{{.Comm}}"\n    comm: [ohr-reload]\n');
  child = await startListener('hung', '127.0.0.1', 0, 'ohr-reload');
  daemon = spawn(
    process.execPath,
    [MAIN, '--web.listen-address=127.0.0.1:0', '--web.enable-lifecycle', '--port.status-interval=300ms', '--process.sample-interval=300ms', `--config.path=${processNames()}`],
    { env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus', EXCLUDED_PROCESS_NAMES_FILE: exclusions() }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await waitFor('serving', () => /msg=serving .*address=[^ ]*:(\d+)/.exec(stderr)?.[1]);
  base = `http://127.0.0.1:${port}`;
  await waitFor('port and group', async () => {
    const e = await scrape();
    return value(e, 'node_tcp_port_alive', { process_name: 'ohr-reload' }) === 1 && value(e, 'namedprocess_namegroup_num_procs', { groupname: 'reload-ohr-reload' }) === 1
      ? true
      : undefined;
  });
});

after(async () => {
  await killAndWait(daemon, 'SIGTERM');
  await child.kill();
  rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP re-reads the exclusion file: the process leaves the pool at once, counters keep counting', async () => {
  const before = value(await scrape(), 'otel_host_receiver_probes_total', { kind: 'tcp', result: 'success' })!;
  writeFileSync(exclusions(), 'ohr-reload\n');
  daemon.kill('SIGHUP');
  const e = await waitFor('excluded after reload', async () => {
    const s = await scrape();
    return find(s, 'node_tcp_port_alive', { process_name: 'ohr-reload' }).length === 0 ? s : undefined;
  });
  assert.ok(value(e, 'otel_host_receiver_probes_total', { kind: 'tcp', result: 'success' })! >= before, 'counter not reset');
  assert.match(stderr, /msg="configuration reloaded"/);
  const status = JSON.parse((await get(`${base}/api/status`)).body) as { excluded: Array<{ processName: string; reason: string }> };
  assert.ok(status.excluded.some((x) => x.processName === 'ohr-reload' && x.reason === 'ohr-reload'));
});

test('POST /-/reload with a bad process_names file answers 500 naming it and keeps the old config', async () => {
  writeFileSync(processNames(), 'process_names:\n  - name: [unclosed\n');
  const res = await request(`${base}/-/reload`, { method: 'POST' });
  assert.equal(res.status, 500);
  assert.match(res.body, /--config\.path/);
  await sleep(700);
  const e = await scrape();
  assert.equal(value(e, 'namedprocess_namegroup_num_procs', { groupname: 'reload-ohr-reload' }), 1, 'old grouping still in force');
  assert.equal(find(e, 'node_tcp_port_alive', { process_name: 'ohr-reload' }).length, 0, 'old exclusion still in force');
});

test('POST /-/reload with a good file applies it; GET is 405', async () => {
  writeFileSync(processNames(), 'process_names:\n  - name: "renamed-{{.Comm}}"\n    comm: [ohr-reload]\n');
  writeFileSync(exclusions(), '');
  const res = await request(`${base}/-/reload`, { method: 'POST' });
  assert.equal(res.status, 200, res.body);
  await waitFor('renamed group and port back', async () => {
    const e = await scrape();
    return value(e, 'namedprocess_namegroup_num_procs', { groupname: 'renamed-ohr-reload' }) === 1 &&
      value(e, 'node_tcp_port_alive', { process_name: 'ohr-reload' }) === 1
      ? true
      : undefined;
  });
  assert.equal((await get(`${base}/-/reload`)).status, 405);
});

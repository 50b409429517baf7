/**
 * Expected services (--expect.file, issue 10 item 2), with the real daemon
 * binary and real listeners: an expected port that is not open reads 0 from
 * the first scrape and turns into the real series when it opens; after the
 * listener is gone and the rebuild forgot it, the placeholder comes back with
 * the path it learned; an expected process group reports num_procs 0 and no
 * other family until it has members; the file is validated at start (exit 2)
 * and on reload (500, old file kept).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { get, request } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, type Exposition } from '../helpers/exposition';
import { killAndWait, startListener, NODE_EXE, type Child } from '../helpers/processes';
import { freePort } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

const MAIN = path.resolve(__dirname, '../../src/main.js');
/**
 * Names unique to this run (a comm keeps 15 bytes): another run of this suite on the same host,
 * or a child it left behind, must not be counted as a member of our expected group.
 */
const RUN = String(process.pid % 100_000);
const GROUP = `ohr-eg-${RUN}`;
const children: Child[] = [];
let daemon: ChildProcess;
let stderr = '';
let base: string;
let expectFile: string;
let expectedPort: number;
let first: Exposition;

/** Samples of a family whose labels are exactly `labels` (an empty exe_path must be matched as such). */
function exact(e: Exposition, name: string, labels: Record<string, string>): number[] {
  return e.samples
    .filter((s) => s.name === name && Object.keys(labels).every((k) => (s.labels[k] ?? '') === labels[k]))
    .map((s) => s.value);
}

async function scrape(): Promise<Exposition> {
  return parseExposition((await get(`${base}/metrics`)).body);
}

before(async () => {
  const dir = tempDir('expect').dir;
  expectFile = path.join(dir, 'expect.yml');
  expectedPort = await freePort();
  writeFileSync(expectFile, `ports:\n  - {port: ${expectedPort}, protocol: tcp, process_name: ohr-expected}\nprocess_groups: [${GROUP}]\n`);
  daemon = spawn(
    process.execPath,
    [
      MAIN,
      '--web.listen-address=127.0.0.1:0',
      '--web.enable-lifecycle',
      `--expect.file=${expectFile}`,
      '--storage.path=',
      '--port.status-interval=300ms',
      '--process.alive-interval=300ms',
      '--process.sample-interval=300ms',
      '--port.label-interval=4s',
      `--procnames=${GROUP}`,
    ],
    { env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await waitFor('serving', () => /msg=serving .*address=[^ ]*:(\d+)/.exec(stderr)?.[1]);
  base = `http://127.0.0.1:${port}`;
  first = await scrape();
});

after(async () => {
  await killAndWait(daemon, 'SIGTERM');
  await Promise.all(children.map((c) => c.kill()));
});

test('an expected port that never opened reads 0 from the first scrape, and becomes the real series when it opens', async () => {
  const placeholder = { process_name: 'ohr-expected', exe_path: '', port: String(expectedPort) };
  assert.deepEqual(exact(first, 'node_tcp_port_alive', placeholder), [0]);
  assert.deepEqual(exact(first, 'node_tcp_port_response_seconds', placeholder), [0]);
  assert.deepEqual(exact(first, 'node_process_alive', { process_name: 'ohr-expected', exe_path: '' }), [0]);

  const svc = await startListener('http', '127.0.0.1', expectedPort, 'ohr-expected');
  children.push(svc);
  const real = { process_name: 'ohr-expected', exe_path: NODE_EXE, port: String(expectedPort) };
  const e = await waitFor('the real series', async () => {
    const s = await scrape();
    return exact(s, 'node_tcp_port_alive', real)[0] === 1 ? s : undefined;
  });
  assert.deepEqual(exact(e, 'node_tcp_port_alive', placeholder), [], 'the placeholder left');
  assert.deepEqual(exact(e, 'node_process_alive', { process_name: 'ohr-expected', exe_path: '' }), []);

  // the service dies: 0 under its real labels; the rebuild forgets the entry, the expected port stays, now with the learned path
  await svc.kill();
  await waitFor('real series at 0', async () => (exact(await scrape(), 'node_tcp_port_alive', real)[0] === 0 ? true : undefined));
  await waitFor('the rebuild forgot the entry', async () => {
    const api = JSON.parse((await get(`${base}/api/status`)).body) as { ports: Array<{ port: number }> };
    return api.ports.some((p) => p.port === expectedPort) ? undefined : true;
  }, 20_000);
  const rebuilt = await scrape();
  // the placeholder again, under the path it learned (the same series as before), never the "" one
  assert.deepEqual(exact(rebuilt, 'node_tcp_port_alive', real), [0]);
  assert.deepEqual(exact(rebuilt, 'node_tcp_port_alive', placeholder), []);
  assert.deepEqual(exact(rebuilt, 'node_process_alive', { process_name: 'ohr-expected', exe_path: NODE_EXE }), [0]);
});

test('an expected process group reports num_procs 0 and no other family until it has members', async () => {
  const group = { groupname: GROUP };
  assert.deepEqual(exact(first, 'namedprocess_namegroup_num_procs', group), [0]);
  const others = first.samples.filter((s) => s.labels.groupname === GROUP && s.name !== 'namedprocess_namegroup_num_procs');
  assert.deepEqual(others, []);
  // started from an executable named like the group, so its comm matches from exec on: a process
  // first seen under another name is left alone for good, as process-exporter does without -recheck
  const exe = path.join(tempDir('expect-exe').dir, GROUP);
  try {
    linkSync(process.execPath, exe);
  } catch {
    copyFileSync(process.execPath, exe); // another file system
    chmodSync(exe, 0o755);
  }
  const member = await startListener('hung', '127.0.0.1', 0, GROUP, { execPath: exe });
  children.push(member);
  const e = await waitFor('a member', async () => {
    const s = await scrape();
    return (exact(s, 'namedprocess_namegroup_num_procs', group)[0] ?? 0) >= 1 ? s : undefined;
  });
  assert.ok(exact(e, 'namedprocess_namegroup_cpu_seconds_total', group).length > 0, 'the other families appear with members');
});

test('reload: a bad expect file answers 500 naming it and keeps the old one; a good one applies', async () => {
  writeFileSync(expectFile, 'ports:\n  - {port: 70000, process_name: x}\n');
  const res = await request(`${base}/-/reload`, { method: 'POST' });
  assert.equal(res.status, 500);
  assert.match(res.body, /--expect\.file: ".*expect\.yml": ports\[0\]: "port" must be an integer 1\.\.65535/);
  const other = await freePort();
  writeFileSync(expectFile, `ports:\n  - {port: ${other}, protocol: udp, process_name: ohr-dns, exe_path: /usr/sbin/ohr-dns}\n`);
  assert.equal((await request(`${base}/-/reload`, { method: 'POST' })).status, 200);
  await waitFor('the new expected port', async () => {
    const s = await scrape();
    return exact(s, 'node_udp_port_alive', { process_name: 'ohr-dns', exe_path: '/usr/sbin/ohr-dns', port: String(other) })[0] === 0 ? true : undefined;
  });
});

test('a bad expect file at start exits 2 naming the file and the entry', async () => {
  const dir = tempDir('expect-bad').dir;
  const bad = path.join(dir, 'bad.yml');
  writeFileSync(bad, 'ports:\n  - {port: 22, process_name: sshd}\n  - {port: 22, protocol: tcp, process_name: other}\n');
  const proc = spawn(process.execPath, [MAIN, '--web.listen-address=127.0.0.1:0', `--expect.file=${bad}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  assert.equal(code, 2);
  assert.equal(err, `otel-host-receiver: --expect.file: ${JSON.stringify(bad)}: ports[1]: tcp port 22 is already expected by ports[0]\n`);
});

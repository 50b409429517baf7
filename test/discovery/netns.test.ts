/**
 * Ports of other network namespaces, on this machine, in namespaces this test
 * builds and deletes itself (`ip netns`, veth pairs, 198.18.0.0/15 addresses
 * only; nothing is ever sent elsewhere). Needs root and iproute2; skipped
 * with a message otherwise.
 *
 * The same program (comm `ohr-nst`) listens on the same TCP port P:
 * - on the host, 0.0.0.0:P: also the decoy a naive probe of 127.0.0.1:P would hit;
 * - in ns A and ns B, each linked to the host by a veth: probed at 198.18.n.2 / .6;
 * - in ns C, which has no link: checked from socket state only.
 * ns A also holds a loopback-only listener (`ohr-nsl`, 127.0.0.1) and a UDP
 * socket (`ohr-nsu`). `ip netns exec` leaves a process in the caller's
 * cgroup (checked below), so container_id falls back to netns-<inode>.
 * To see an id parsed from a real cgroup file, one more listener in ns A
 * (`ohr-nsk`) is moved into a Docker-style cgroup the test creates in the
 * v1 pids hierarchy (`/ohr-t-<tag>/docker/<id>`) and removes again; its twin
 * `ohr-nsk` on the host stays in the host's cgroup.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import * as path from 'node:path';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { config } from '../helpers/hardening';
import { promtoolFindings, which } from '../helpers/pipelines';
import { find, parseExposition, value, type Exposition } from '../helpers/exposition';
import { startListener, type Child } from '../helpers/processes';
import { processGroups, renderStatusPage, statusData } from '../../src/export/status-page';

const IP = which('ip', ['/usr/sbin/ip', '/sbin/ip']);
const SKIP = process.getuid?.() !== 0 ? 'needs root (ip netns add)' : !IP ? 'needs ip (iproute2)' : false;

const tag = `ohrt${randomBytes(2).toString('hex')}`;
const NS = { a: `ohr-t-${tag}-a`, b: `ohr-t-${tag}-b`, c: `ohr-t-${tag}-c` };
const NET = randomInt(1, 255);
const ADDR = { aHost: `198.18.${NET}.1`, a: `198.18.${NET}.2`, bHost: `198.18.${NET}.5`, b: `198.18.${NET}.6` };
const hadRunNetns = existsSync('/run/netns');
const created: string[] = [];
const children: Child[] = [];
let daemon: Daemon;
let P = 0;
let Q = 0;
let U = 0;
const inode: Record<string, string> = {};
let procs: Record<'host' | 'a' | 'b' | 'c' | 'loop' | 'udp' | 'kHost' | 'kA', Child>;
/** A Docker-style container id for the cgroup this test creates. */
const DOCKER_ID = randomBytes(32).toString('hex');
const PIDS_ROOT = '/sys/fs/cgroup/pids';
const CGROUP = `${PIDS_ROOT}/ohr-t-${tag}/docker/${DOCKER_ID}`;
const CGROUP_SKIP = SKIP || (existsSync(`${PIDS_ROOT}/cgroup.procs`) ? false : 'no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids');

function ip(...args: string[]): void {
  const r = spawnSync(IP!, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

async function listen(mode: string, host: string, port: number, title: string, netns?: string): Promise<Child> {
  const c = await startListener(mode, host, port, title, { netns });
  children.push(c);
  return c;
}

async function cycle(): Promise<Exposition> {
  const m = daemon.monitor;
  await m.addNewListeners();
  await m.tcpSweep();
  await m.httpSweep();
  await m.udpCheck();
  await m.processAliveCheck();
  return parseExposition(await daemon.telemetry.scrape());
}

const cid = (ns: 'a' | 'b' | 'c'): string => `netns-${inode[ns]}`;
const nst = { process_name: 'ohr-nst' };

before(async () => {
  if (SKIP) return;
  for (const [k, name] of Object.entries(NS)) {
    ip('netns', 'add', name);
    created.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    inode[k] = String(statSync(`/run/netns/${name}`).ino);
  }
  for (const [k, host, peer, hostAddr, nsAddr] of [['a', `${tag}ah`, `${tag}an`, ADDR.aHost, ADDR.a], ['b', `${tag}bh`, `${tag}bn`, ADDR.bHost, ADDR.b]] as const) {
    const name = NS[k];
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', name);
    ip('addr', 'add', `${hostAddr}/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', name, 'addr', 'add', `${nsAddr}/30`, 'dev', peer);
    ip('-n', name, 'link', 'set', peer, 'up');
  }
  const host = await listen('http', '0.0.0.0', 0, 'ohr-nst');
  P = host.ports[0]!;
  const loop = await listen('http', '127.0.0.1', 0, 'ohr-nsl', NS.a);
  Q = loop.ports[0]!;
  const udp = await listen('udp', '0.0.0.0', 0, 'ohr-nsu', NS.a);
  U = udp.ports[0]!;
  procs = {
    host,
    a: await listen('http', '0.0.0.0', P, 'ohr-nst', NS.a),
    b: await listen('http', '0.0.0.0', P, 'ohr-nst', NS.b),
    c: await listen('http', '0.0.0.0', P, 'ohr-nst', NS.c),
    loop,
    udp,
    kHost: await listen('http', '0.0.0.0', 0, 'ohr-nsk'),
    kA: await listen('http', '0.0.0.0', 0, 'ohr-nsk', NS.a),
  };
  if (!CGROUP_SKIP) {
    mkdirSync(CGROUP, { recursive: true });
    writeFileSync(`${CGROUP}/cgroup.procs`, String(procs.kA.pid));
  }
  daemon = new Daemon(config(['--port.status-interval=1h']), silentLogger);
  await daemon.monitor.rebuild();
});

after(async () => {
  for (const c of children) await c.kill().catch(() => undefined);
  for (const dir of [CGROUP, path.dirname(CGROUP), path.dirname(path.dirname(CGROUP))]) {
    try {
      rmdirSync(dir);
    } catch {
      // never created, or skipped
    }
  }
  await daemon?.telemetry.shutdown(1000).catch(() => undefined);
  for (const name of created) spawnSync(IP!, ['netns', 'del', name]);
  // deleting a namespace removes its veth pair; leave /run/netns as we found it
  if (!hadRunNetns && spawnSync(IP!, ['netns', 'list'], { encoding: 'utf8' }).stdout.trim() === '') {
    spawnSync('umount', ['/run/netns']);
    spawnSync('rmdir', ['/run/netns']);
  }
});

test('a process started by ip netns exec stays in the caller\'s cgroup, so its container_id is netns-<inode>', { skip: SKIP }, () => {
  assert.equal(readFileSync(`/proc/${procs.a.pid}/cgroup`, 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
});

test('the same program on the same port: one series per namespace, the host one with exactly the contract labels', { skip: SKIP }, async () => {
  const e = await cycle();
  const series = find(e, 'node_tcp_port_alive', { ...nst, port: String(P) });
  const host = series.filter((s) => s.labels.container_id === undefined);
  assert.equal(host.length, 1, 'one host series');
  assert.deepEqual(Object.keys(host[0]!.labels).sort(), ['exe_path', 'port', 'process_name']);
  assert.deepEqual(series.map((s) => s.labels.container_id ?? 'host').sort(), ['host', cid('a'), cid('b'), cid('c')].sort());
  for (const s of series) {
    assert.equal(s.value, 1, `${s.labels.container_id ?? 'host'} alive`);
    if (s.labels.container_id) assert.deepEqual(Object.keys(s.labels).sort(), ['container_id', 'exe_path', 'port', 'process_name']);
  }
  // A and B were connected to at their own addresses; C (no link) only from socket state
  const entry = (ns: 'a' | 'b' | 'c') => daemon.pool.ports().find((p) => p.port === P && p.identityLabels?.container_id === cid(ns))!;
  assert.equal(entry('a').check, 'connect');
  assert.equal(entry('a').tcp?.address, ADDR.a);
  assert.equal(entry('b').tcp?.address, ADDR.b);
  assert.equal(entry('c').check, 'socket');
  assert.equal(value(e, 'node_tcp_port_response_seconds', { ...nst, port: String(P), container_id: cid('c') }), undefined, 'no connect time without a connect');
  assert.ok(value(e, 'node_tcp_port_response_seconds', { ...nst, port: String(P), container_id: cid('a') })! > 0);
  // HTTP only where a connect is possible
  assert.equal(value(e, 'node_http_port_alive', { ...nst, port: String(P), container_id: cid('a') }), 1);
  assert.equal(value(e, 'node_http_port_alive', { ...nst, port: String(P), container_id: cid('c') }), undefined);
  // node_process_alive follows the same rule
  const alive = find(e, 'node_process_alive', nst);
  assert.deepEqual(alive.map((s) => s.labels.container_id ?? 'host').sort(), ['host', cid('a'), cid('b'), cid('c')].sort());
  // a loopback-only listener and a UDP socket inside a namespace
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'ohr-nsl', port: String(Q), container_id: cid('a') }), 1);
  assert.equal(daemon.pool.ports().find((p) => p.port === Q && p.processName === 'ohr-nsl')?.check, 'socket');
  assert.equal(value(e, 'node_udp_port_alive', { process_name: 'ohr-nsu', port: String(U), container_id: cid('a') }), 1);
  // /api/status and the page: per port its namespace and how it is checked
  const status = statusData(daemon).ports.filter((p) => p.port === P && p.processName === 'ohr-nst');
  const shown = Object.fromEntries(status.map((p) => [p.netns?.containerId ?? 'host', `${p.check}/${p.netns?.inode ?? ''}`]));
  assert.deepEqual(shown, { host: 'connect/', [cid('a')]: `connect/${inode.a}`, [cid('b')]: `connect/${inode.b}`, [cid('c')]: `socket/${inode.c}` });
  const html = renderStatusPage(statusData(daemon), '/metrics');
  assert.match(html, new RegExp(`<td class="path">${cid('c')} \\(net:\\[${inode.c}\\]\\)</td><td>socket</td>`));
});

test('a process in a Docker-style cgroup: container_id is the id from its cgroup file, not netns-<inode>', { skip: CGROUP_SKIP }, async () => {
  assert.match(readFileSync(`/proc/${procs.kA.pid}/cgroup`, 'utf8'), new RegExp(`/docker/${DOCKER_ID}$`, 'm'));
  const e = await cycle();
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'ohr-nsk', port: String(procs.kA.ports[0]), container_id: DOCKER_ID }), 1);
  assert.equal(value(e, 'node_process_alive', { process_name: 'ohr-nsk', container_id: DOCKER_ID }), 1);
  const host = find(e, 'node_tcp_port_alive', { process_name: 'ohr-nsk', port: String(procs.kHost.ports[0]) });
  assert.deepEqual(host.map((s) => s.labels.container_id), [undefined], 'its host twin keeps the contract labels');
});

test('--process.container-label: namedprocess groups of processes in containers carry container_id; off by default', { skip: CGROUP_SKIP }, async () => {
  const shown: string[][] = [];
  const groups = async (argv: string[]): Promise<Record<string, number>> => {
    const d = new Daemon(config(['--collector.namedprocess', '--procnames=ohr-nsk', '--port.status-interval=1h', ...argv]), silentLogger);
    try {
      await d.processes!.sample();
      const e = parseExposition(await d.telemetry.scrape());
      shown.push(processGroups(d).filter((g) => g.groupname.startsWith('ohr-nsk')).map((g) => `${g.groupname}=${g.procs}`).sort());
      return Object.fromEntries(find(e, 'namedprocess_namegroup_num_procs', { groupname: 'ohr-nsk' }).map((s) => [s.labels.container_id ?? 'none', s.value]));
    } finally {
      await d.telemetry.shutdown(1000).catch(() => undefined);
    }
  };
  assert.deepEqual(await groups(['--process.container-label']), { none: 1, [DOCKER_ID]: 1 });
  assert.deepEqual(await groups([]), { none: 2 }, 'off: one group, process-exporter labels');
  assert.deepEqual(shown, [[`ohr-nsk [${DOCKER_ID}]=1`, 'ohr-nsk=1'], ['ohr-nsk=2']], 'the status page keeps the groups apart');
});

test('promtool check metrics is clean and no series is duplicated', { skip: SKIP || (which('promtool') ? false : 'promtool not installed') }, async () => {
  const page = await daemon.telemetry.scrape();
  assert.deepEqual(promtoolFindings(page), []);
  const keys = parseExposition(page).samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  assert.equal(new Set(keys).size, keys.length);
});

test('a loopback-only listener in a namespace reads 0 once its process died', { skip: SKIP }, async () => {
  await procs.loop.kill();
  const e = await cycle();
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'ohr-nsl', port: String(Q), container_id: cid('a') }), 0);
  assert.equal(value(e, 'node_tcp_port_alive', { ...nst, port: String(P), container_id: cid('a') }), 1, 'its neighbour is untouched');
});

test("killing one namespace's service turns only its series to 0", { skip: SKIP }, async () => {
  await procs.b.kill();
  const e = await cycle();
  const byNs = Object.fromEntries(find(e, 'node_tcp_port_alive', { ...nst, port: String(P) }).map((s) => [s.labels.container_id ?? 'host', s.value]));
  assert.deepEqual(byNs, { host: 1, [cid('a')]: 1, [cid('b')]: 0, [cid('c')]: 1 });
  assert.equal(value(e, 'node_process_alive', { ...nst, container_id: cid('b') }), 0);
  assert.equal(value(e, 'node_process_alive', { ...nst, container_id: cid('a') }), 1);
  assert.equal(find(e, 'node_process_alive', nst).find((s) => !s.labels.container_id)?.value, 1);
});

test('a namespace deleted while the agent runs reads 0 (the host decoy on the same port is not asked), then leaves at the rebuild', { skip: SKIP }, async () => {
  await procs.c.kill();
  ip('netns', 'del', NS.c);
  created.splice(created.indexOf(NS.c), 1);
  const e = await cycle();
  assert.equal(value(e, 'node_tcp_port_alive', { ...nst, port: String(P), container_id: cid('c') }), 0);
  assert.equal(find(e, 'node_tcp_port_alive', { ...nst, port: String(P) }).find((s) => !s.labels.container_id)?.value, 1, 'the host listener still answers');
  await daemon.monitor.rebuild();
  const r = await cycle();
  assert.deepEqual(find(r, 'node_tcp_port_alive', { ...nst, port: String(P) }).map((s) => s.labels.container_id ?? 'host').sort(), ['host', cid('a')].sort());
  assert.equal(value(r, 'node_udp_port_alive', { process_name: 'ohr-nsu', port: String(U), container_id: cid('a') }), 1);
});

test('a listener opened in a known namespace after the rebuild is found by the cheap pass and probed at its address', { skip: SKIP }, async () => {
  const late = await listen('http', '0.0.0.0', 0, 'ohr-nsn', NS.a);
  const e = await cycle();
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'ohr-nsn', port: String(late.ports[0]), container_id: cid('a') }), 1);
  assert.equal(daemon.pool.ports().find((p) => p.processName === 'ohr-nsn')?.tcp?.address, ADDR.a);
});

test('a namespace created after the rebuild is found by the cheap pass', { skip: SKIP }, async () => {
  const name = `ohr-t-${tag}-d`;
  ip('netns', 'add', name);
  created.push(name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  const d = await listen('http', '127.0.0.1', 0, 'ohr-nsd', name);
  const e = await cycle();
  assert.equal(value(e, 'node_tcp_port_alive', { process_name: 'ohr-nsd', port: String(d.ports[0]), container_id: `netns-${statSync(`/run/netns/${name}`).ino}` }), 1);
});

/**
 * Built-in exclusions cannot be claimed by renaming a process. Any process
 * can set its own comm; a built-in entry applies only when the real
 * executable carries the name too and the process runs as root or runs a
 * root-owned binary nobody else can write. Operator entries keep the plain
 * "name contains" rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProcFs } from '../../src/procfs/proc-fs';
import { discoverPorts } from '../../src/discovery/listeners';
import { ExclusionList } from '../../src/discovery/exclusion';
import { get } from '../helpers/http';
import { waitFor } from '../helpers/wait';
import { parseExposition, value } from '../helpers/exposition';
import { LISTENER_CHILD, killAndWait, readyPorts } from '../helpers/processes';

const MAIN = path.resolve(__dirname, '../../src/main.js');
const NOBODY = 65534;
const root = process.getuid?.() === 0;

interface FakeProcess {
  pid: number;
  comm: string;
  /** Target of the exe symlink; undefined makes exe a regular file (an unreadable link). */
  exe: string | undefined;
  /** Real and effective uid. */
  uids: [number, number];
}

/** A procfs slice: one listening TCP socket per process, port 40000 + index, inode 7000 + index. */
function buildProc(dir: string, procs: FakeProcess[]): void {
  mkdirSync(path.join(dir, 'net'), { recursive: true });
  const rows = ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'];
  procs.forEach((p, i) => {
    const d = path.join(dir, String(p.pid));
    mkdirSync(path.join(d, 'fd'), { recursive: true });
    writeFileSync(path.join(d, 'comm'), `${p.comm}\n`);
    writeFileSync(path.join(d, 'cmdline'), `${p.comm}\0`);
    writeFileSync(
      path.join(d, 'stat'),
      `${p.pid} (${p.comm}) S 1 ${p.pid} ${p.pid} 0 -1 4194560 120 0 3 0 250 50 0 0 20 0 1 0 1000 10485760 256 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n`,
    );
    const [uid, euid] = p.uids;
    writeFileSync(
      path.join(d, 'status'),
      `Name:\t${p.comm}\nState:\tS (sleeping)\nTgid:\t${p.pid}\nPPid:\t1\nUid:\t${uid}\t${euid}\t${euid}\t${euid}\nGid:\t0\t0\t0\t0\nThreads:\t1\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n`,
    );
    if (p.exe === undefined) writeFileSync(path.join(d, 'exe'), '');
    else symlinkSync(p.exe, path.join(d, 'exe'));
    symlinkSync(`socket:[${7000 + i}]`, path.join(d, 'fd', '3'));
    const port = (40000 + i).toString(16).toUpperCase();
    rows.push(`   ${i}: 0100007F:${port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${7000 + i} 1 0000000000000000 100 0 0 10 0`);
  });
  writeFileSync(path.join(dir, 'net', 'tcp'), rows.join('\n') + '\n');
}

/** An executable file with the given owner and mode. */
function binary(file: string, uid: number, mode: number): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '#!/bin/sh\n');
  chownSync(file, uid, uid);
  chmodSync(file, mode);
  return file;
}

test('fixture: built-in entries exclude only processes that are what their name says', { skip: root ? false : 'needs root to create files owned by other users' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ohr-excl-'));
  try {
    const bin = path.join(dir, 'fs');
    const procs: FakeProcess[] = [
      // a package's binary run by its service account: root-owned, 0755
      { pid: 1001, comm: 'systemd-resolve', exe: binary(path.join(bin, 'usr/lib/systemd/systemd-resolved'), 0, 0o755), uids: [991, 991] },
      { pid: 1002, comm: 'prometheus', exe: binary(path.join(bin, 'usr/bin/prometheus'), 0, 0o755), uids: [990, 990] },
      // root itself, whatever the binary's owner
      { pid: 1003, comm: 'systemd', exe: binary(path.join(bin, 'opt/vendor/systemd'), 1000, 0o755), uids: [0, 0] },
      // renamed: a root-owned interpreter that set its own comm (prctl, /proc/self/comm)
      { pid: 1004, comm: 'systemd-backdoo', exe: binary(path.join(bin, 'usr/bin/python3'), 0, 0o755), uids: [1000, 1000] },
      // a copy of a binary under a system name: owned by the user who made it
      { pid: 1005, comm: 'systemd-x', exe: binary(path.join(bin, 'home/u/systemd-x'), NOBODY, 0o755), uids: [NOBODY, NOBODY] },
      // root-owned, but anyone may rewrite it
      { pid: 1006, comm: 'node_exporter', exe: binary(path.join(bin, 'srv/node_exporter'), 0, 0o777), uids: [NOBODY, NOBODY] },
      // exe link unreadable: nothing proves what it is
      { pid: 1007, comm: 'telegraf', exe: undefined, uids: [NOBODY, NOBODY] },
      // setuid-root binary run by a user: effective root only
      { pid: 1008, comm: 'chronyd', exe: binary(path.join(bin, 'home/u/chronyd'), 1000, 0o755), uids: [1000, 0] },
    ];
    const procDir = path.join(dir, 'proc');
    buildProc(procDir, procs);
    const fs = new ProcFs(procDir);

    const r = await discoverPorts(fs, new ExclusionList());
    assert.deepEqual(
      r.excluded.map((x) => `${x.pid}:${x.reason}`),
      ['1001:systemd', '1002:prometheus', '1003:systemd'],
    );
    assert.deepEqual(
      r.ports.map((p) => `${p.pid}:${p.processName}`),
      ['1004:systemd-backdoo', '1005:systemd-x', '1006:node_exporter', '1007:telegraf', '1008:chronyd'],
    );
    assert.equal(r.unowned, 0);

    // operator entries: "name contains", nothing else asked
    const op = await discoverPorts(fs, new ExclusionList(['backdoo', 'systemd']));
    assert.deepEqual(
      op.excluded.map((x) => `${x.pid}:${x.reason}`),
      ['1001:systemd', '1002:prometheus', '1003:systemd', '1004:systemd', '1005:systemd'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const canDrop = root && spawnSync(process.execPath, [MAIN, '--version'], { uid: NOBODY, gid: NOBODY }).status === 0;

/** listener-child.js run as nobody, optionally through another executable; resolves with its port. */
function startAsNobody(exe: string, title: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(exe, [LISTENER_CHILD, 'hung', '127.0.0.1', '0', title], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'pipe'] });
  return readyPorts(proc, title).then(([port]) => ({ proc, port: port! }));
}

test(
  'live: listeners of nobody renamed systemd-x, or run from a copied binary named systemd-y, are monitored',
  { skip: canDrop ? false : 'needs root to drop to uid 65534, and a checkout nobody can read' },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ohr-excl-live-'));
    chmodSync(dir, 0o755);
    const copied = path.join(dir, 'systemd-y');
    copyFileSync(process.execPath, copied);
    chownSync(copied, NOBODY, NOBODY);
    chmodSync(copied, 0o755);
    const children: ChildProcess[] = [];
    let daemon: ChildProcess | undefined;
    try {
      // process.title sets the comm (prctl PR_SET_NAME): the rename any process can do
      const renamed = await startAsNobody(process.execPath, 'systemd-x');
      children.push(renamed.proc);
      // comm comes from the copied file's name at exec; keep it
      const copy = await startAsNobody(copied, 'systemd-y');
      children.push(copy.proc);

      const direct = await discoverPorts(new ProcFs('/proc'), new ExclusionList());
      assert.equal(direct.ports.find((p) => p.port === renamed.port)?.processName, 'systemd-x');
      assert.equal(direct.ports.find((p) => p.port === copy.port)?.processName, 'systemd-y');
      assert.ok(!direct.excluded.some((x) => x.port === renamed.port || x.port === copy.port));

      daemon = spawn(process.execPath, [MAIN, '--web.listen-address=127.0.0.1:0', '--port.status-interval=500ms', '--no-collector.namedprocess'], {
        env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const port = await waitFor('serving', () => /msg=serving .*address=[^ ]*:(\d+)/.exec(stderr)?.[1]);
      const e = await waitFor('both listeners probed', async () => {
        const s = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body);
        const a = value(s, 'node_tcp_port_alive', { process_name: 'systemd-x', port: String(renamed.port) });
        const b = value(s, 'node_tcp_port_alive', { process_name: 'systemd-y', port: String(copy.port), exe_path: copied });
        return a !== undefined && b !== undefined ? { a, b } : undefined;
      });
      assert.deepEqual(e, { a: 1, b: 1 });
    } finally {
      if (daemon) await killAndWait(daemon, 'SIGKILL');
      await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

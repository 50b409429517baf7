/** Spawning and reaping real child processes for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { realpathSync } from 'node:fs';

export const LISTENER_CHILD = path.join(__dirname, 'listener-child.js');
/** What /proc/<pid>/exe of a node child reads. */
export const NODE_EXE = realpathSync(process.execPath);

export interface Child {
  proc: ChildProcess;
  pid: number;
  ports: number[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface ListenerOptions {
  env?: NodeJS.ProcessEnv;
  /** Also bind a UDP socket on the same host; its port comes last in `ports`. */
  udp?: boolean;
  /** Burn this many ms of CPU every 100 ms, so the process' CPU counters move. */
  busyMs?: number;
  /** Node binary to run (a hard link with a chosen name gives the child that exe path). */
  execPath?: string;
  /** Run inside this named network namespace (`ip netns exec`, which execs: the pid is the listener's). */
  netns?: string;
}

/**
 * Starts listener-child.js (modes: see there; `title` becomes its comm, at most 15 bytes
 * survive) and resolves once it printed "ready" with its ports.
 */
export function startListener(mode: string, host: string, port: number, title: string, o: ListenerOptions = {}): Promise<Child> {
  const extra = [...(o.udp ? ['--udp'] : []), ...(o.busyMs ? [`--busy-ms=${o.busyMs}`] : [])];
  const argv = [o.execPath ?? process.execPath, LISTENER_CHILD, mode, host, String(port), title, ...extra];
  if (o.netns) argv.unshift('ip', 'netns', 'exec', o.netns);
  const proc = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...o.env },
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return readyPorts(proc, title, 20_000).then((ports) => ({
    proc,
    pid: proc.pid!,
    ports,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => killAndWait(proc, signal),
  }));
}

/**
 * Resolves with the ports a child prints as `ready <port>[,<port>...]` on stdout; rejects with
 * its stderr when it exits first or stays silent for `timeoutMs`.
 */
export function readyPorts(proc: ChildProcess, title: string, timeoutMs = 20_000): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${title} not ready: ${err}`)), timeoutMs);
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready ([\d,]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.split(',').map(Number));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${title} exited with ${code}: ${err}`));
    });
  });
}

export function killAndWait(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/**
 * Listeners that fail in particular ways, as real child processes on loopback:
 * - stalled: the listener exists but the kernel drops new SYNs (the process is
 *   stopped with SIGSTOP and its accept queue, backlog 1, is full), so a
 *   connect times out: what a wedged service or a DROP rule looks like;
 * - status: answers every HTTP request with a fixed status code.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { killAndWait, readyPorts } from './processes';

export interface OddListener {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

function spawnNode(script: string, title: string): Promise<{ pid: number; port: number; kill: () => Promise<void> }> {
  const proc = spawn(process.execPath, ['-e', `process.title = ${JSON.stringify(title)};\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => proc.kill('SIGKILL'));
  return readyPorts(proc, title).then(([port]) => ({ pid: proc.pid!, port: port!, kill: () => killAndWait(proc, 'SIGKILL') }));
}

function connectWithin(host: string, port: number, ms: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('error', () => undefined);
    const t = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
  });
}

export async function startStalledListener(title: string, host = '127.0.0.1', port = 0): Promise<OddListener> {
  const child = await spawnNode(
    `require('net').createServer().listen({ host: ${JSON.stringify(host)}, port: ${port}, backlog: 1 }, function () { process.stdout.write('ready ' + this.address().port + '\\n'); });`,
    title,
  );
  process.kill(child.pid, 'SIGSTOP');
  // fill the accept queue: once a connect does not complete, new SYNs are dropped
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 64; i++) {
    const s = await connectWithin(host, child.port, 500);
    if (!s) break;
    fillers.push(s);
  }
  return {
    pid: child.pid,
    port: child.port,
    stop: async () => {
      for (const s of fillers) s.destroy();
      await child.kill();
    },
  };
}

export async function startStatusListener(title: string, status: number): Promise<OddListener> {
  const child = await spawnNode(
    `require('http').createServer((req, res) => { res.statusCode = ${status}; res.end(); })` +
      `.listen(0, '127.0.0.1', function () { process.stdout.write('ready ' + this.address().port + '\\n'); });`,
    title,
  );
  return { pid: child.pid, port: child.port, stop: child.kill };
}

/**
 * `node dist/bench/web-attack.js [daemon flags...]`: the HTTP attacks of the
 * hardening review, re-run against a daemon child on loopback, with the
 * figures each one is judged by. Extra arguments go to the daemon.
 *
 * - flood: 40 clients sending wrong passwords (each a new one, so none is
 *   cached) as fast as they are answered, while 5 scrapers with a good,
 *   already-verified password scrape 95 times: their success rate and p99.
 * - pipelined: one connection carrying 51 pipelined wrong-password requests,
 *   and 5 authenticated scrapes sent while they are queued.
 * - slowloris: 10,000 connections that send half a request header and then
 *   a byte a second; the daemon's peak RSS and open sockets, and whether
 *   scrapes get through meanwhile.
 * - status: /api/status latency with 3,000 listening ports.
 *
 * Every connection goes to 127.0.0.1; every child is killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { killAndWait, startListener } from '../test/helpers/processes';
import { waitFor } from '../test/helpers/wait';

const MAIN = path.resolve(__dirname, '../src/main.js');
const USER = 'prometheus';
const PASSWORD = 'scrape-secret';

type Results = Record<string, number | string>;

interface Reply {
  status: number | string;
  ms: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function get(port: number, p: string, headers: http.OutgoingHttpHeaders = {}, timeoutMs = 10_000): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', () => resolve({ status: 'reset', ms: performance.now() - t0 }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? 'error', ms: performance.now() - t0 }));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
  });
}

function tally(replies: Reply[]): string {
  const counts = new Map<string, number>();
  for (const r of replies) counts.set(String(r.status), (counts.get(String(r.status)) ?? 0) + 1);
  return [...counts].sort().map(([k, v]) => `${k}x${v}`).join(' ');
}

function summarise(r: Results, prefix: string, replies: Reply[]): void {
  const ok = replies.filter((x) => x.status === 200);
  const ms = replies.map((x) => x.ms).sort((a, b) => a - b);
  r[`${prefix}.success_pct`] = round((100 * ok.length) / replies.length);
  r[`${prefix}.answers`] = tally(replies);
  r[`${prefix}.p50_ms`] = round(quantile(ms, 0.5));
  r[`${prefix}.p99_ms`] = round(quantile(ms, 0.99));
  r[`${prefix}.max_ms`] = round(ms[ms.length - 1] ?? NaN);
}

interface Daemon {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startDaemon(args: string[]): Promise<Daemon> {
  const proc = spawn(process.execPath, [MAIN, '--web.listen-address=127.0.0.1:0', '--no-collector.namedprocess', '--port.status-interval=10s', ...args], {
    env: { ...process.env, OTEL_METRICS_EXPORTER: 'prometheus' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const port = Number(await waitFor(`daemon serving (${log})`, () => /msg=serving .*address=[^ ]*:(\d+)/.exec(log)?.[1]));
  return { proc, port, stop: () => killAndWait(proc, 'SIGTERM') };
}

function rssMib(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function flood(r: Results, d: Daemon): Promise<void> {
  const auth = { authorization: basic(USER, PASSWORD) };
  if ((await get(d.port, '/metrics', auth)).status !== 200) throw new Error('the good password is refused');
  let stop = false;
  let n = 0;
  const floodReplies: Reply[] = [];
  const attackers = Array.from({ length: 40 }, async () => {
    while (!stop) floodReplies.push(await get(d.port, '/metrics', { authorization: basic(USER, `wrong-${n++}`) }));
  });
  await new Promise((res) => setTimeout(res, 500));
  const legit: Reply[] = [];
  await Promise.all(
    Array.from({ length: 5 }, async () => {
      for (let i = 0; i < 19; i++) {
        legit.push(await get(d.port, '/metrics', auth));
        await new Promise((res) => setTimeout(res, 50));
      }
    }),
  );
  stop = true;
  await Promise.all(attackers);
  summarise(r, 'flood.legit', legit);
  r['flood.attack_answers'] = tally(floodReplies);
}

async function pipelined(r: Results, d: Daemon): Promise<void> {
  const auth = { authorization: basic(USER, PASSWORD) };
  const sock = net.connect({ host: '127.0.0.1', port: d.port });
  await new Promise<void>((res) => sock.once('connect', () => res()));
  let received = '';
  sock.on('data', (b: Buffer) => (received += b.toString('latin1')));
  sock.on('error', () => undefined);
  const t0 = performance.now();
  let text = '';
  for (let i = 0; i < 51; i++) text += `GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(USER, `pipelined-${i}`)}\r\n\r\n`;
  sock.write(text);
  await new Promise((res) => setTimeout(res, 100));
  const legit = await Promise.all(Array.from({ length: 5 }, () => get(d.port, '/metrics', auth)));
  summarise(r, 'pipelined.legit', legit);
  await new Promise<void>((res) => {
    const done = (): void => res();
    sock.once('close', done);
    const timer = setInterval(() => {
      if ((received.match(/^HTTP\/1\.1 /gm)?.length ?? 0) >= 51 || performance.now() - t0 > 30_000) {
        clearInterval(timer);
        sock.destroy();
      }
    }, 50);
  });
  const codes = new Map<string, number>();
  for (const m of received.matchAll(/^HTTP\/1\.1 (\d+)/gm)) codes.set(m[1]!, (codes.get(m[1]!) ?? 0) + 1);
  r['pipelined.answers_on_the_connection'] = [...codes].map(([k, v]) => `${k}x${v}`).join(' ') || 'none';
  r['pipelined.connection_ms'] = round(performance.now() - t0);
}

async function slowloris(r: Results, d: Daemon, connections: number): Promise<void> {
  const rssBefore = rssMib(d.proc.pid!);
  const sockets: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < connections; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, connections - i) }, () =>
        new Promise<void>((res) => {
          const s = net.connect({ host: '127.0.0.1', port: d.port });
          s.on('error', () => undefined);
          s.once('connect', () => {
            s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
            res();
          });
          s.once('close', () => {
            closed++;
            res();
          });
          sockets.push(s);
        }),
      ),
    );
  }
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('X');
  }, 1000);
  let peakRss = 0;
  let peakSockets = 0;
  const scrapes: Reply[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < 4000) {
    peakRss = Math.max(peakRss, rssMib(d.proc.pid!));
    peakSockets = Math.max(peakSockets, socketCount(d.proc.pid!));
    scrapes.push(await get(d.port, '/metrics', { authorization: basic(USER, PASSWORD) }, 5000));
    await new Promise((res) => setTimeout(res, 200));
  }
  clearInterval(trickle);
  r['slowloris.connections_opened'] = connections;
  r['slowloris.closed_by_server_within_4s'] = closed;
  r['slowloris.daemon_sockets_peak'] = peakSockets;
  r['slowloris.rss_before_mib'] = round(rssBefore);
  r['slowloris.rss_peak_mib'] = round(peakRss);
  summarise(r, 'slowloris.scrapes', scrapes);
  for (const s of sockets) s.destroy();
}

async function statusAtScale(r: Results, args: string[]): Promise<void> {
  const many = await startListener('many:3000', '127.0.0.1', 0, 'ohr-attack-many');
  const d = await startDaemon(args);
  try {
    await waitFor('3,000 ports probed', async () => {
      const text = await new Promise<string>((res, rej) => {
        http.get({ host: '127.0.0.1', port: d.port, path: '/api/status', agent: false }, (resp) => {
          let s = '';
          resp.setEncoding('utf8');
          resp.on('data', (c: string) => (s += c));
          resp.on('end', () => res(s));
        }).on('error', rej);
      });
      r['status.bytes'] = Buffer.byteLength(text);
      return (text.match(/"tcpAlive": 1/g)?.length ?? 0) >= 3000 ? true : undefined;
    }, 90_000, 1000);
    const times: number[] = [];
    for (let i = 0; i < 40; i++) times.push((await get(d.port, '/api/status')).ms);
    times.sort((a, b) => a - b);
    r['status.p50_ms'] = round(quantile(times, 0.5));
    r['status.p99_ms'] = round(quantile(times, 0.99));
    const page: number[] = [];
    for (let i = 0; i < 20; i++) page.push((await get(d.port, '/')).ms);
    page.sort((a, b) => a - b);
    r['status_page.p50_ms'] = round(quantile(page, 0.5));
  } finally {
    await d.stop();
    await many.kill();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ohr-attack-'));
  const r: Results = { host_cpus: os.cpus().length, node: process.version };
  try {
    const file = path.join(dir, 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  ${USER}: '${bcrypt.hashSync(PASSWORD, 10)}'\n`);
    const d = await startDaemon([`--web.config.file=${file}`, ...args]);
    try {
      r['rss_idle_mib'] = round(rssMib(d.proc.pid!));
      await flood(r, d);
      await new Promise((res) => setTimeout(res, 1000));
      await pipelined(r, d);
      await new Promise((res) => setTimeout(res, 1000));
      await slowloris(r, d, 10_000);
    } finally {
      await d.stop();
    }
    if (!process.env.SKIP_STATUS) await statusAtScale(r, args);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const width = Math.max(...Object.keys(r).map((k) => k.length));
  for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`web-attack failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * Helpers for the hardening tests: a throwaway PKI made with the real
 * `openssl` binary, configs for in-process daemons, and a seeded PRNG.
 * (The HTTP(S) client that reports TLS failures as values is fetchUrl in ./http.)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { sleep } from './wait';
import * as path from 'node:path';
import { loadConfig, type Config } from '../../src/config/options';
import { Daemon } from '../../src/daemon';
import { after, before } from 'node:test';
import { startListener, type Child } from './processes';
import { silentLogger } from '../../src/log';
import { WebAccess } from '../../src/export/web-access';

export function config(argv: string[] = [], env: Record<string, string> = {}): Config {
  const r = loadConfig(['--web.listen-address=127.0.0.1:0', '--metrics.exporter=prometheus', '--no-collector.namedprocess', ...argv], env);
  if (r.kind !== 'config') throw new Error('no config');
  return r.config;
}

/** An in-process daemon (see config()) serving plain HTTP behind the web config in `file`. */
export async function startWithWebConfig(file: string): Promise<{ daemon: Daemon; access: WebAccess; base: string }> {
  const access = await WebAccess.load(file, silentLogger);
  const daemon = new Daemon(config(), silentLogger);
  const base = `http://127.0.0.1:${(await daemon.start([], access)).port}`;
  return { daemon, access, base };
}

/**
 * For a describe block: a banner listener titled `title` and an in-process daemon (see
 * startInProcessDaemon) started before its tests and stopped after them. The fields are filled
 * in by the before hook.
 */
export function listenerAndDaemon(title: string, argv: string[]): { child: Child; daemon: Daemon; base: string } {
  const s = {} as { child: Child; daemon: Daemon; base: string };
  before(async () => {
    s.child = await startListener('banner', '127.0.0.1', 0, title);
    Object.assign(s, await startInProcessDaemon(argv));
  });
  after(async () => {
    await s.daemon?.stop(0);
    await s.child?.kill();
  });
  return s;
}

/**
 * An in-process daemon on a free loopback port (Prometheus export only, no process metrics,
 * plus `argv`), started and through its first cycle; `base` is its URL.
 */
export async function startInProcessDaemon(argv: string[]): Promise<{ daemon: Daemon; base: string }> {
  const daemon = new Daemon(config(argv), silentLogger);
  const base = `http://127.0.0.1:${(await daemon.start()).port}`;
  await daemon.ready;
  return { daemon, base };
}

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** A second server pair (for reload). */
  server2Cert: string;
  server2Key: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
  /** PEM texts, for clients. */
  pem: Record<'ca' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey', string>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, two server certificates for 127.0.0.1/localhost, a client certificate, and a rogue CA's client certificate. EC P-256 keys: fast. */
export function makePki(dir: string): Pki {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const selfSigned = (name: string, cn: string): void =>
    openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const signed = (name: string, ca: string, cn: string, ext: string): void => {
    openssl(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  selfSigned('ca', 'ohr test CA');
  selfSigned('rogue-ca', 'ohr rogue CA');
  const serverExt = 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n';
  signed('server', 'ca', 'localhost', serverExt);
  signed('server2', 'ca', 'localhost', serverExt);
  const clientExt = 'subjectAltName=DNS:scraper.example,URI:spiffe://test/scraper\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
  signed('client', 'ca', 'scraper', clientExt);
  signed('rogue', 'rogue-ca', 'scraper', clientExt);
  const p = (f: string): string => path.join(dir, f);
  const read = (f: string): string => readFileSync(p(f), 'utf8');
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    server2Cert: p('server2.crt'),
    server2Key: p('server2.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCert: p('rogue.crt'),
    rogueKey: p('rogue.key'),
    pem: { ca: read('ca.crt'), clientCert: read('client.crt'), clientKey: read('client.key'), rogueCert: read('rogue.crt'), rogueKey: read('rogue.key') },
  };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** mulberry32: a small seeded PRNG, so fuzz failures reproduce from the printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- fuzzing

export interface FuzzFailure {
  target: string;
  iteration: number;
  why: string;
  thrown: string;
  input: string;
}

export interface FuzzReport {
  calls: number;
  failures: FuzzFailure[];
  pending: number;
}

export function describeThrown(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message.slice(0, 200)}`;
  try {
    return `${typeof v} ${String(JSON.stringify(v)).slice(0, 200)}`;
  } catch {
    return typeof v;
  }
}

/** FNV-1a, to derive one PRNG seed per (seed, target, iteration). */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TOKENS = [
  '(', ')', ')(', ') (', ':', ' ', '  ', '\n', '\r\n', '\t', '\0', '-', '+', '0x', 'ffffffff', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
  '9'.repeat(30), '1e309', 'NaN', 'Infinity', '-1', '0', '\uFFFD', '\uD800', '\uDC00', '😀', 'socket:[', ']', 'socket:[0]',
  'socket:[-1]', 'socket:[1.5]', ' (deleted)', '::', '[', '=', '%', '\\', '"', '\u202E', '0A', '07', '00000000:0000',
];
const ALPHABET = '0123456789ABCDEFabcdef :()[]\n\t\0-.socketdelt';

/**
 * Arguments for one fuzz call, a pure function of (seed, target, iteration):
 * the watchdog regenerates a hanging input from the numbers alone. All but
 * the last argument are usually enum values the procfs modules export
 * (protocol names); the last is the text under test.
 */
export function fuzzArgs(seed: number, target: string, iteration: number, arity: number, corpus: readonly string[], enums: readonly string[]): string[] {
  const rng = prng(hash32(`${seed}:${target}:${iteration}`));
  const int = (n: number): number => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const args: string[] = [];
  for (let a = 0; a < arity - 1; a++) args.push(enums.length > 0 && rng() < 0.8 ? pick(enums) : fuzzText(rng, int, pick, corpus));
  args.push(fuzzText(rng, int, pick, corpus));
  return args;
}

function fuzzText(rng: () => number, int: (n: number) => number, pick: <T>(xs: readonly T[]) => T, corpus: readonly string[]): string {
  const doc = corpus.length > 0 ? pick(corpus) : '';
  const mutate = (s: string, times: number): string => {
    for (let k = 0; k < times; k++) {
      const at = int(s.length + 1);
      switch (int(7)) {
        case 0:
          s = s.slice(0, at); // truncated read
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + 1 + int(20));
          break;
        case 2:
          s = s.slice(0, at) + pick(TOKENS) + s.slice(at);
          break;
        case 3:
          s = s.slice(0, at) + String.fromCharCode(int(0x10000)) + s.slice(at + 1);
          break;
        case 4: {
          const seg = s.slice(at, at + 1 + int(40));
          s = s.slice(0, at) + seg.repeat(1 + int(50)) + s.slice(at);
          break;
        }
        case 5:
          s = s.replace(/\s+/, pick([' ', '', '\t', '\n', '   ']));
          break;
        default:
          s = s.replace(/\d+/, pick(['9'.repeat(25), '-5', '', '0x1f', '1.5', 'NaN', '4294967296']));
      }
    }
    return s;
  };
  const r = rng();
  if (r < 0.3) {
    const lines = doc.split('\n');
    return mutate(pick(lines), 1 + int(4));
  }
  if (r < 0.5) {
    const start = int(Math.max(1, doc.length));
    return mutate(doc.slice(rng() < 0.5 ? 0 : start, start + int(4096) + 1), int(4));
  }
  if (r < 0.65) {
    let s = '';
    for (let n = int(200); n > 0; n--) s += ALPHABET[int(ALPHABET.length)];
    return s;
  }
  if (r < 0.75) {
    let s = '';
    for (let n = int(100); n > 0; n--) s += String.fromCharCode(int(0x10000));
    return s;
  }
  if (r < 0.85) {
    const fields: string[] = [`${int(1000)}:`];
    for (let n = int(25); n > 0; n--) {
      fields.push(
        pick([
          () => int(0xffffffff).toString(16).toUpperCase().padStart(8, '0') + ':' + int(0xffff).toString(16).toUpperCase().padStart(4, '0'),
          () => String(int(1e6)),
          () => `(${pick(TOKENS)}${int(100)})`,
          () => pick(TOKENS),
          () => int(256).toString(16).padStart(2, '0'),
        ])(),
      );
    }
    return fields.join(pick([' ', '  ', '\t', ' ']));
  }
  if (r < 0.9) return pick(['', ' ', '\n', '\0', '()', ')', '(', ':', 'socket:[]', '\n\n\n', ' '.repeat(int(50))]);
  if (r < 0.97) {
    const unit = pick(['(', ')', ' ', '0', 'A:', '\n', ':', '0 ', ') (', 'socket:[', '\0', '00000000:0000 ']);
    return unit.repeat(1000 + int(60_000)) + (rng() < 0.5 ? pick(TOKENS) : '');
  }
  return mutate(doc.repeat(2 + int(8)), int(3));
}

// ---------------------------------------------------------------- daemon children

export interface DaemonChild {
  proc: ChildProcess;
  port: number;
  /** Everything the child wrote to stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

const MAIN_JS = path.resolve(__dirname, '../../src/main.js');

/**
 * Runs the built daemon as a child on 127.0.0.1 (port 0: it reports the one it got in its
 * `serving` log line), Prometheus export only, no per-process collector. A separate process,
 * so a test's own clients do not share the server's event loop.
 */
export async function spawnDaemon(args: string[], node: { nodeFlags?: string[]; env?: Readonly<Record<string, string>> } = {}): Promise<DaemonChild> {
  const proc = spawn(process.execPath, [...(node.nodeFlags ?? []), MAIN_JS, '--web.listen-address=127.0.0.1:0', '--metrics.exporter=prometheus', '--no-collector.namedprocess', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...node.env },
  });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = (): Promise<void> =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = /msg=serving .*address=[^ ]*:(\d+)/.exec(log);
    if (m) return { proc, port: Number(m[1]), log: () => log, stop };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the daemon did not start:\n${log}`);
    }
    await sleep(50);
  }
}

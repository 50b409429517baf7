/**
 * TCP connect probe: can a client open a connection, and how long does the
 * handshake take. The connection is closed politely (FIN) as soon as it is
 * established; nothing is sent.
 */
import * as net from 'node:net';
import { firstDefined } from '../util/concurrency';
import type { LocalAddresses } from './local-addresses';
import { failureReason, worseReason, type FailureReason } from './failure-reason';

export interface ConnectResult {
  ok: boolean;
  /** Handshake time in seconds (also set on failure: time until refusal or timeout). */
  seconds: number;
  /** 'refused', 'timeout', or the errno code. */
  error?: string;
}

/**
 * Runs `fn` after the event loop has processed I/O that is already ready.
 * Timers run before the poll phase, so when the loop was blocked (GC, a
 * busy scrape) past a probe's deadline, a connect that completed in time
 * would otherwise lose the race against its own timeout and a healthy port
 * would read 0. setImmediate runs after the poll phase.
 */
export function afterPendingIo(fn: () => void): void {
  setImmediate(fn);
}

/** How long a probe connection may linger after its answer while the peer closes its side. */
const CLOSE_GRACE_MS = 2000;

/**
 * Closes a probe connection the way a polite client does: send FIN, drain
 * whatever the service still writes (a banner, the rest of an HTTP
 * response), and only then release the socket. Destroying at once would make
 * our kernel answer the service's next write with a RST, which some services
 * log as an error or, worse, handle badly. The grace period bounds how long a
 * socket may linger.
 */
export function closeGently(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('error', () => undefined);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}

/** One connect attempt bounded by `timeoutMs`, or ended early by `signal` (error 'aborted'). Never rejects. */
export function connectOnce(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ConnectResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ ok: false, seconds: 0, error: 'aborted' });
      return;
    }
    const started = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    const socket = net.connect({ host: host.replace(/^::ffff:(?=\d+\.)/, ''), port });
    let done = false;
    const finish = (r: ConnectResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (r.ok) closeGently(socket);
      else socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => afterPendingIo(() => finish({ ok: false, seconds: elapsed(), error: 'timeout' })), timeoutMs);
    const onAbort = (): void => finish({ ok: false, seconds: elapsed(), error: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ ok: true, seconds: elapsed() }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, seconds: elapsed(), error: err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? 'error') }),
    );
  });
}

/** The fixed first tries, in order: loopback first (most services bind it or a wildcard), then the wildcards. */
export const COMMON_ADDRESSES = ['127.0.0.1', '0.0.0.0', '::1', '::'] as const;

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Addresses to try for a port, best first: the last address that worked, the
 * specific addresses the socket is bound to, then the common list.
 * The all-interfaces fallback is separate (it runs in parallel).
 */
export function candidateAddresses(bound: readonly string[], preferred: string | undefined, local: LocalAddresses): string[] {
  const out: string[] = [];
  const add = (a: string): void => {
    if (!out.includes(a) && local.isLocal(a)) out.push(a);
  };
  if (preferred) add(preferred);
  for (const a of bound) if (!WILDCARDS.has(a)) add(a);
  // A wildcard-bound IPv6-only socket is not reachable on 127.0.0.1: try ::1 first then.
  if (bound.length > 0 && bound.every((a) => a.includes(':'))) add('::1');
  for (const a of COMMON_ADDRESSES) add(a);
  return out;
}

export interface TcpProbeResult extends ConnectResult {
  /** The address that answered (or the last one tried). */
  address?: string;
  attempts: number;
  /** Why it failed, over every address tried (see worseReason); set only when !ok. */
  reason?: FailureReason;
}

/**
 * The order: the candidates one after another; if none connects, every
 * local interface address with at most `maxParallel` in flight, first success
 * wins.
 */
export async function probeTcpPort(
  port: number,
  bound: readonly string[],
  preferred: string | undefined,
  local: LocalAddresses,
  timeoutMs: number,
  maxParallel: number,
): Promise<TcpProbeResult> {
  let attempts = 0;
  let reason: FailureReason | undefined;
  let last: TcpProbeResult = { ok: false, seconds: 0, error: 'no-address', attempts: 0 };
  for (const address of candidateAddresses(bound, preferred, local)) {
    attempts++;
    const r = await connectOnce(address, port, timeoutMs);
    last = { ...r, address, attempts };
    if (r.ok) return last;
    reason = worseReason(reason, failureReason(r.error));
  }
  const rest = local.interfaceAddresses.filter((a) => !candidateAddresses(bound, preferred, local).includes(a));
  // first success wins and the connects still in flight are dropped at once
  const win = await firstDefined(rest, maxParallel, async (address, signal) => {
    attempts++;
    const r = await connectOnce(address, port, timeoutMs, signal);
    if (r.error === 'aborted') return undefined;
    if (!r.ok) reason = worseReason(reason, failureReason(r.error));
    return r.ok ? { ...r, address, attempts } : undefined;
  });
  if (win) return { ...win, attempts };
  return { ...last, attempts, reason: reason ?? failureReason(last.error) };
}

/**
 * HTTP liveness: does the service answer a request with an HTTP status line.
 * Built on a raw socket so that we control exactly what goes out and how much
 * comes in:
 * - one tiny `HEAD /` request, no credentials, no cookies, `Connection: close`;
 * - only the status line is read (at most MAX_READ bytes): an endless header
 *   or body cannot hold us or fill memory; redirects are never followed
 *   (a 301 is an answer, and the service is alive);
 * - PORT_CHECK_TIMEOUT bounds the whole exchange, so a hung service (accepts,
 *   never answers: a process that is alive but stuck, which a TCP connect
 *   alone cannot tell from a healthy one) reads 0.
 * A non-HTTP service sees one short line it rejects; nothing more is sent.
 */
import * as net from 'node:net';
import { afterPendingIo, closeGently } from './tcp';

export const HTTP_PROBE_USER_AGENT = 'otel-host-receiver-probe/1';
const MAX_READ = 1024;
const STATUS_LINE = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |\r|$)/;

export interface HttpProbeResult {
  /** An HTTP status line came back. */
  ok: boolean;
  /** The status code, when ok. */
  status?: number;
  /** 'timeout', 'not-http', 'closed', or an errno code. */
  error?: string;
}

export function probeHttp(host: string, port: number, timeoutMs: number): Promise<HttpProbeResult> {
  return new Promise((resolve) => {
    const h = host.replace(/^::ffff:(?=\d+\.)/, '');
    const socket = net.connect({ host: h, port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (r: HttpProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (r.ok) closeGently(socket);
      else socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => afterPendingIo(() => finish({ ok: false, error: 'timeout' })), timeoutMs);
    socket.once('connect', () => {
      const authority = net.isIPv6(h) ? `[${h}]:${port}` : `${h}:${port}`;
      socket.write(`HEAD / HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: ${HTTP_PROBE_USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]).subarray(0, MAX_READ);
      const text = received.toString('latin1');
      const eol = text.indexOf('\n');
      if (eol < 0 && received.length < MAX_READ) {
        // wait for the whole status line, unless the first bytes already rule HTTP out
        if (!'HTTP/'.startsWith(text.slice(0, 5))) finish({ ok: false, error: 'not-http' });
        return;
      }
      const m = STATUS_LINE.exec(eol >= 0 ? text.slice(0, eol) : text);
      finish(m ? { ok: true, status: Number(m[1]) } : { ok: false, error: 'not-http' });
    });
    socket.once('end', () => finish({ ok: false, error: received.length > 0 ? 'not-http' : 'closed' }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? 'error' }));
  });
}

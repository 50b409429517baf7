/** HTTP(S) requests for tests (loopback only): one client, answers as values or failures as values. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** SHA-256 fingerprint of the server certificate, for https answers. */
  serverFingerprint?: string;
}

/**
 * One request over http or https (by the URL's scheme), on a connection of its own (no
 * keep-alive agent: a test's sockets close with the request). Rejects on a transport error
 * or when no complete answer came within `timeoutMs`.
 */
export function request(url: string, options: https.RequestOptions = {}, body?: string, timeoutMs = 10_000): Promise<Response> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const sock = res.socket as TLSSocket | null;
        const fp = typeof sock?.getPeerCertificate === 'function' ? sock.getPeerCertificate()?.fingerprint256 : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), serverFingerprint: fp });
      });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out after ${timeoutMs} ms`)));
    req.end(body);
  });
}

export function get(url: string, options: https.RequestOptions = {}, timeoutMs?: number): Promise<Response> {
  return request(url, { method: 'GET', ...options }, undefined, timeoutMs);
}

export type Outcome = { ok: true; res: Response } | { ok: false; error: Error & { code?: string } };

/** GET whose failures (handshake refused, reset, timeout) come back as values, for tests that expect them. */
export function fetchUrl(url: string, options: https.RequestOptions = {}, timeoutMs = 5000): Promise<Outcome> {
  return get(url, options, timeoutMs).then(
    (res): Outcome => ({ ok: true, res }),
    (error: Error): Outcome => ({ ok: false, error }),
  );
}

/**
 * How a port outside the host's network namespace is checked.
 *
 * Connecting to the host's 127.0.0.1 or ::1 for such a port would test a
 * different service (whatever the host runs on that port) or nothing, so it
 * is never done. Instead:
 * - a listener bound to a wildcard, or to an address of its own namespace, is
 *   probed at that namespace's own IPv4 addresses (fib_trie LOCAL entries,
 *   loopback excluded), and only those the host reaches through a directly
 *   connected route (the longest-prefix match in the host's routing table has
 *   no gateway): a namespace's address that only a default route would
 *   carry (an isolated namespace reusing a private range) goes elsewhere, and
 *   an address the host itself has would reach the host's own service;
 * - a listener bound only to the namespace's loopback, or one whose
 *   namespace the host cannot reach, is checked from socket state: alive
 *   while its LISTEN socket is in its namespace's table.
 * IPv6 addresses of a namespace are not used yet (link-local ones would need
 * the host-side interface as scope id): such ports fall back to socket state
 * unless they are dual-stack and have an IPv4 address.
 */
import * as net from 'node:net';
import type { Ipv4Route } from '../procfs/net-addresses';
import type { LocalAddresses } from './local-addresses';
import { connectOnce, type TcpProbeResult } from './tcp';
import { failureReason, worseReason, type FailureReason } from './failure-reason';

export type CheckKind = 'connect' | 'socket';

const WILDCARDS = new Set(['0.0.0.0', '::']);

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

/** True when the host's longest-prefix route to `address` is a connected one (no gateway, not a default route). */
export function directlyRoutable(address: string, routes: readonly Ipv4Route[]): boolean {
  const a = ipv4ToInt(address);
  let best: Ipv4Route | undefined;
  for (const r of routes) {
    if ((r.flags & 1) === 0) continue; // not RTF_UP
    const mask = r.prefixLength === 0 ? 0 : (0xffffffff << (32 - r.prefixLength)) >>> 0;
    if (((a & mask) >>> 0) !== ((ipv4ToInt(r.destination) & mask) >>> 0)) continue;
    if (!best || r.prefixLength > best.prefixLength) best = r;
  }
  return best !== undefined && best.prefixLength > 0 && (best.flags & 2) === 0 && best.gateway === '0.0.0.0';
}

/**
 * The addresses a namespace's TCP port can be probed at from the host, best
 * first; empty when it can only be checked from socket state.
 */
export function namespaceTargets(bound: readonly string[], nsAddresses: readonly string[], hostRoutes: readonly Ipv4Route[], host: LocalAddresses): string[] {
  const own = nsAddresses.filter((a) => net.isIPv4(a) && !a.startsWith('127.'));
  const wanted = new Set<string>();
  for (const raw of bound) {
    const b = raw.replace(/^::ffff:(?=\d+\.)/, '');
    if (WILDCARDS.has(b)) for (const a of own) wanted.add(a);
    else if (own.includes(b)) wanted.add(b);
  }
  return [...wanted].filter((a) => !host.isLocal(a) && directlyRoutable(a, hostRoutes));
}

/** Connects to the targets in turn (the last one that answered first); first success wins. Never rejects. */
export async function probeNamespacePort(port: number, targets: readonly string[], preferred: string | undefined, timeoutMs: number): Promise<TcpProbeResult> {
  const order = preferred && targets.includes(preferred) ? [preferred, ...targets.filter((t) => t !== preferred)] : [...targets];
  let reason: FailureReason | undefined;
  let last: TcpProbeResult = { ok: false, seconds: 0, error: 'no-address', attempts: 0 };
  let attempts = 0;
  for (const address of order) {
    attempts++;
    const r = await connectOnce(address, port, timeoutMs);
    last = { ...r, address, attempts };
    if (r.ok) return last;
    reason = worseReason(reason, failureReason(r.error));
  }
  return { ...last, reason: reason ?? failureReason(last.error) };
}

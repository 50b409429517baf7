/**
 * The addresses and routes of one network namespace, from
 * `<dir>/fib_trie`, `<dir>/if_inet6` and `<dir>/route` (`dir` is `net` for
 * the reader's namespace, `<pid>/net` for the namespace of process <pid>).
 * World-readable; a missing file (IPv6 disabled) reads as empty.
 *
 * fib_trie prints the routing trie: each leaf `|-- a.b.c.d` is followed by
 * one line per route of that prefix length and type; the namespace's own
 * IPv4 addresses are the leaves with a `/32 host LOCAL` line. The trie is
 * printed once per table (Main, Local), so addresses repeat. `127.0.0.0
 * /8 host LOCAL` is the loopback prefix, not an address.
 */
import { isVanished, type ProcFs } from './proc-fs';
import { decodeAddress } from './net-sockets';

/** The namespace's own IPv4 addresses, in first-seen order, without duplicates. */
export function parseFibTrieLocal(text: string): string[] {
  const out: string[] = [];
  let leaf: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('|-- ')) {
      leaf = line.slice(4).trim();
      continue;
    }
    if (line.startsWith('+-- ') || line.endsWith(':')) {
      leaf = undefined;
      continue;
    }
    if (leaf !== undefined && /^\/32 host LOCAL$/.test(line) && !out.includes(leaf)) out.push(leaf);
  }
  return out;
}

export interface Inet6Address {
  address: string;
  ifindex: number;
  prefixLength: number;
  /** Kernel scope: 0x00 global, 0x20 link, 0x10 host (loopback). */
  scope: number;
  ifname: string;
}

/** `if_inet6`: `addr ifindex plen scope flags ifname`, hex numbers; malformed lines skipped. */
export function parseIfInet6(text: string): Inet6Address[] {
  const out: Inet6Address[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const address = decodeRawIpv6(f[0]!);
    const ifindex = Number.parseInt(f[1]!, 16);
    const prefixLength = Number.parseInt(f[2]!, 16);
    const scope = Number.parseInt(f[3]!, 16);
    if (address === undefined || [ifindex, prefixLength, scope].some(Number.isNaN)) continue;
    out.push({ address, ifindex, prefixLength, scope, ifname: f[5]! });
  }
  return out;
}

/** if_inet6 writes the 16 bytes in network order (unlike the socket tables' host-endian words). */
function decodeRawIpv6(hex: string): string | undefined {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  // re-encode as the socket tables' four little-endian words and reuse their decoder
  let words = '';
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    words += word.slice(6, 8) + word.slice(4, 6) + word.slice(2, 4) + word.slice(0, 2);
  }
  return decodeAddress(words);
}

export interface Ipv4Route {
  iface: string;
  destination: string;
  gateway: string;
  /** Prefix length from the mask. */
  prefixLength: number;
  /** RTF_UP is 0x1, RTF_GATEWAY 0x2. */
  flags: number;
}

/** `route` (the main IPv4 table, addresses as host-endian hex words). */
export function parseRoute(text: string): Ipv4Route[] {
  const out: Ipv4Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const destination = decodeAddress(f[1]!);
    const gateway = decodeAddress(f[2]!);
    const flags = Number.parseInt(f[3]!, 16);
    const mask = decodeAddress(f[7]!);
    if (!destination || !gateway || !mask || Number.isNaN(flags)) continue;
    const prefixLength = mask.split('.').reduce((n, o) => n + popcount(Number(o)), 0);
    out.push({ iface: f[0]!, destination, gateway, prefixLength, flags });
  }
  return out;
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v > 0; v >>= 1) c += v & 1;
  return c;
}

function readOrEmpty(fs: ProcFs, rel: string): string {
  try {
    return fs.readSync(rel, 4 << 20, 'latin1');
  } catch (err) {
    if (isVanished(err)) return '';
    throw err;
  }
}

export function readFibTrieLocalSync(fs: ProcFs, dir: string): string[] {
  return parseFibTrieLocal(readOrEmpty(fs, `${dir}/fib_trie`));
}

export function readIfInet6Sync(fs: ProcFs, dir: string): Inet6Address[] {
  return parseIfInet6(readOrEmpty(fs, `${dir}/if_inet6`));
}

export function readRoutesSync(fs: ProcFs, dir: string): Ipv4Route[] {
  return parseRoute(readOrEmpty(fs, `${dir}/route`));
}

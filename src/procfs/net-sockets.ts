/**
 * Parser for /proc/net/{tcp,tcp6,udp,udp6}. One format serves all four:
 *
 *   sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode ...
 *    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 ...
 *
 * Addresses are hex in the kernel's byte order: each 32-bit word is written
 * as a host-endian (little-endian on every platform we target) integer, so
 * `0100007F` is 127.0.0.1. IPv6 is four such words. Ports are big-endian hex.
 */
import { errorCode, type ProcFs } from './proc-fs';

export type SocketProtocol = 'tcp' | 'tcp6' | 'udp' | 'udp6';
export const SOCKET_PROTOCOLS: readonly SocketProtocol[] = ['tcp', 'tcp6', 'udp', 'udp6'];

/** Kernel TCP states (include/net/tcp_states.h); the number is what `netstat` metrics report. */
export const TCP_STATES = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
} as const;

export interface NetSocket {
  protocol: SocketProtocol;
  /** Local address in text form (`127.0.0.1`, `::1`, `::`). */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** `st` column: kernel state number (10 = LISTEN for TCP; 7 = unconnected UDP). */
  state: number;
  /** Owning uid as the kernel reports it. */
  uid: number;
  /** Socket inode; `/proc/<pid>/fd/N -> socket:[inode]` links it to processes. 0 = orphaned. */
  inode: number;
}

/** Decodes a kernel hex address (8 hex digits for IPv4, 32 for IPv6). Returns undefined if malformed. */
export function decodeAddress(hex: string): string | undefined {
  if (hex.length === 8) {
    const n = Number.parseInt(hex, 16);
    if (!/^[0-9A-Fa-f]{8}$/.test(hex) || Number.isNaN(n)) return undefined;
    // little-endian word: lowest byte is the first octet
    return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 24) & 0xff}`;
  }
  if (hex.length === 32) {
    if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
    const bytes: number[] = [];
    for (let w = 0; w < 4; w++) {
      const word = hex.slice(w * 8, w * 8 + 8);
      for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
    }
    // IPv4-mapped (::ffff:a.b.c.d) reads better in dotted form
    if (bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
      return `::ffff:${bytes.slice(12).join('.')}`;
    }
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
    return compressIpv6(groups);
  }
  return undefined;
}

/** RFC 5952 text form: lowercase, longest run of zero groups (>=2) replaced by `::`. */
function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

function decodeEndpoint(field: string): { address: string; port: number } | undefined {
  const colon = field.indexOf(':');
  if (colon < 0) return undefined;
  const address = decodeAddress(field.slice(0, colon));
  const portHex = field.slice(colon + 1);
  if (address === undefined || !/^[0-9A-Fa-f]{1,4}$/.test(portHex)) return undefined;
  return { address, port: Number.parseInt(portHex, 16) };
}

/**
 * Parses one data line. Returns undefined for the header and for any line that
 * does not have the expected shape (truncated reads, garbage): a malformed
 * line is skipped, never thrown.
 */
export function parseSocketLine(protocol: SocketProtocol, line: string): NetSocket | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) return undefined;
  const local = decodeEndpoint(f[1]!);
  const remote = decodeEndpoint(f[2]!);
  const state = Number.parseInt(f[3]!, 16);
  const uid = Number(f[7]);
  const inode = Number(f[9]);
  if (!local || !remote || Number.isNaN(state) || !Number.isInteger(uid) || !Number.isInteger(inode)) {
    return undefined;
  }
  return {
    protocol,
    localAddress: local.address,
    localPort: local.port,
    remoteAddress: remote.address,
    remotePort: remote.port,
    state,
    uid,
    inode,
  };
}

/**
 * Which sockets a caller wants. 'listening' is the discovery fast path: on a
 * busy host the tables hold tens of thousands of ESTABLISHED and TIME_WAIT
 * lines (5.8 MB for 39k sockets was measured here), and fully parsing each
 * one costs more than reading it. The state (`st`) and the remote port sit
 * at fixed offsets after the `sl:` column, so other lines are skipped after
 * two character compares.
 */
export type SocketSelection = 'all' | 'listening';

/** True when a raw table line is a LISTEN TCP socket or an unconnected UDP socket. */
function isListeningLine(protocol: SocketProtocol, line: string, colon: number): boolean {
  // "sl: LLLLLLLL:PPPP RRRRRRRR:PPPP ST" with 8 hex digits per IPv4 address, 32 per IPv6
  const addr = protocol.endsWith('6') ? 32 : 8;
  const remotePort = colon + 2 + addr + 1 + 4 + 1 + addr + 1;
  if (isTcp(protocol)) {
    const st = remotePort + 5;
    return line.charCodeAt(st) === 48 /* 0 */ && (line.charCodeAt(st + 1) | 0x20) === 97 /* a|A */;
  }
  return line.startsWith('0000', remotePort);
}

export function parseSocketTable(protocol: SocketProtocol, text: string, selection: SocketSelection = 'all'): NetSocket[] {
  const out: NetSocket[] = [];
  collectSockets(protocol, text, selection, out);
  return out;
}

/** Appends the sockets of `text` (whole lines) to `out`. */
function collectSockets(protocol: SocketProtocol, text: string, selection: SocketSelection, out: NetSocket[]): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (selection === 'listening') {
      const colon = line.indexOf(':');
      if (colon < 0 || !isListeningLine(protocol, line, colon)) continue;
    }
    const s = parseSocketLine(protocol, line);
    if (s) out.push(s);
  }
}

/**
 * Reads one table below `<root>/net/`. A missing table (IPv6 disabled, a
 * fixture without udp6) is an empty table, not an error. The table is parsed
 * slice by slice as it is read (ProcFs.readTextSlices), so a table of tens of
 * thousands of TIME_WAIT sockets is never held whole, and the event loop
 * gets a turn between slices.
 */
export async function readSocketTable(fs: ProcFs, protocol: SocketProtocol, selection: SocketSelection = 'all', rel = 'net'): Promise<NetSocket[]> {
  const out: NetSocket[] = [];
  try {
    for await (const text of fs.readTextSlices(`${rel}/${protocol}`)) collectSockets(protocol, text, selection, out);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  return out;
}

export function isTcp(p: SocketProtocol): boolean {
  return p === 'tcp' || p === 'tcp6';
}

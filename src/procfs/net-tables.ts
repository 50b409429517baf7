/**
 * Scan of the socket tables of one network namespace:
 * `<root>/net/{tcp,tcp6,udp,udp6}` (the reader's namespace) or
 * `<root>/<pid>/net/...` (the namespace of process <pid>). A missing table
 * (IPv6 disabled) is empty.
 *
 * Busy hosts have tens of thousands of lines, most of them TIME_WAIT
 * sockets no process holds, so only lines whose inode is wanted are kept
 * (and parsed by the caller, net-sockets' parseSocketLine, only if
 * reported); the others cost a scan to their tenth column.
 */
import type { ProcFs } from './proc-fs';
import { isVanished } from './proc-fs';
import { SOCKET_PROTOCOLS, type SocketProtocol } from './net-sockets';

/** The decimal number in column `column` (0-based, space-separated) of the line text[start, end), or -1. */
function columnNumber(text: string, start: number, end: number, column: number): number {
  let col = 0;
  let i = start;
  while (i < end) {
    while (i < end && text.charCodeAt(i) === 32) i++;
    if (i >= end) return -1;
    if (col === column) {
      let v = 0;
      let digits = 0;
      for (; i < end; i++) {
        const c = text.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        v = v * 10 + c;
        digits++;
      }
      return digits > 0 ? v : -1;
    }
    while (i < end && text.charCodeAt(i) !== 32) i++;
    col++;
  }
  return -1;
}

/** The inode column (10th, 0-based 9) of a tcp/udp table line, or -1. */
export function lineInode(text: string, start: number, end: number): number {
  return columnNumber(text, start, end, 9);
}

/** A wanted socket's table line, kept as text: it is parsed only if its socket is reported. */
export interface SocketLine {
  protocol: SocketProtocol;
  line: string;
}

/** Moves each inode of `pending` found in `text` (whole lines) to `out` with its line; with `skipHeader`, its first line is the table header. */
function collectWanted(protocol: SocketProtocol, text: string, skipHeader: boolean, pending: Set<number>, out: Map<number, SocketLine>): void {
  let start = 0;
  if (skipHeader) {
    start = text.indexOf('\n') + 1;
    if (start === 0) return;
  }
  while (start < text.length && pending.size > 0) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const inode = lineInode(text, start, end);
    if (inode > 0 && pending.delete(inode)) {
      // a copy of the line, not a slice of `text`: a slice would keep the whole 64 KB read alive
      out.set(inode, { protocol, line: (' ' + text.slice(start, end)).slice(1) });
    }
    start = end + 1;
  }
}

/** The inode (7th column) of each line of a namespace's `unix` table, removed from `pending`. */
function dropUnixInodes(text: string, skipHeader: boolean, pending: Set<number>): void {
  let start = skipHeader ? text.indexOf('\n') + 1 : 0;
  if (skipHeader && start === 0) return;
  while (start < text.length && pending.size > 0) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    // Num RefCount Protocol Flags Type St Inode [Path]
    const inode = columnNumber(text, start, end, 6);
    if (inode > 0) pending.delete(inode);
    start = end + 1;
  }
}

/** Where each table's count of sockets in use is: `<dir>/sockstat` (IPv4) or `<dir>/sockstat6`, on the line of its key. */
const IN_USE: Record<SocketProtocol, { file: 'sockstat' | 'sockstat6'; key: string }> = {
  tcp: { file: 'sockstat', key: 'TCP: inuse ' },
  tcp6: { file: 'sockstat6', key: 'TCP6: inuse ' },
  udp: { file: 'sockstat', key: 'UDP: inuse ' },
  udp6: { file: 'sockstat6', key: 'UDP6: inuse ' },
};

/** The `inuse` count of `key` (`TCP: inuse `) in a sockstat text, undefined when absent or not a number. */
export function parseInUse(text: string, key: string): number | undefined {
  let from: number;
  if (text.startsWith(key)) from = key.length;
  else {
    const at = text.indexOf(`\n${key}`);
    if (at < 0) return undefined;
    from = at + 1 + key.length;
  }
  let v = 0;
  let digits = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    digits++;
  }
  return digits > 0 ? v : undefined;
}

/**
 * The tables of the namespace that hold no socket in use, by its sockstat
 * counters: a socket is counted there from the moment it is hashed into its
 * table (bound, listening or connected) until it leaves it, so such a table
 * lists nothing a process holds (only TIME_WAIT or request sockets, which no
 * fd refers to). Reading it anyway costs a walk of the host-wide connection
 * hash (262,144 buckets on a 16 GB host: ~6 ms per table, in one read that
 * cannot be sliced); the counters are two short files. Without sockstat (a
 * fixture tree, a foreign procfs) no table is skipped. Also: how many lines
 * (sockets in use and TIME_WAIT) the tcp and tcp6 tables hold, undefined
 * without counters.
 */
export function tableCountsSync(fs: ProcFs, dir: string): { empty: Set<SocketProtocol>; tcpLines: number | undefined } {
  const empty = new Set<SocketProtocol>();
  const texts = new Map<string, string | undefined>();
  for (const protocol of SOCKET_PROTOCOLS) {
    const { file, key } = IN_USE[protocol];
    if (!texts.has(file)) {
      let text: string | undefined;
      try {
        text = fs.readSync(`${dir}/${file}`, 64 * 1024, 'latin1');
      } catch {
        text = undefined; // no counters: the table is read
      }
      texts.set(file, text);
    }
    const text = texts.get(file);
    if (text !== undefined && parseInUse(text, key) === 0) empty.add(protocol);
  }
  const v4 = texts.get('sockstat');
  const v6 = texts.get('sockstat6');
  const inuse = v4 === undefined ? undefined : parseInUse(v4, 'TCP: inuse ');
  const tw = v4 === undefined ? undefined : parseTimeWait(v4);
  const inuse6 = v6 === undefined ? 0 : (parseInUse(v6, 'TCP6: inuse ') ?? 0);
  const tcpLines = inuse === undefined || tw === undefined ? undefined : inuse + tw + inuse6;
  return { empty, tcpLines };
}

/** The TIME_WAIT count (`tw N`) of sockstat's TCP line, or undefined. */
function parseTimeWait(text: string): number | undefined {
  const m = /^TCP: .*\btw (\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * From this many TCP table lines on, a namespace's `unix` table is read
 * first: its sockets can then be told apart from inet sockets not found yet,
 * and the scan stops as soon as every inet socket wanted is found (listeners
 * come first in tcp/tcp6, before the established and TIME_WAIT sockets that
 * make a busy table long). Below it, reading `unix` would cost more than it saves.
 */
export const UNIX_LOOKUP_MIN_TCP_LINES = 1000;

/**
 * Adds to `out` the table line of every socket of the namespace whose inode
 * is in `wanted` and not already in `out` (parseSocketLine reads it). `dir`
 * is `net` or `<pid>/net`. Each table is scanned slice by slice as it is read
 * (ProcFs.readTextSlices): never held whole, with a turn of the event loop
 * between slices. Tables with no socket in use (tableCountsSync) are not read,
 * and the scan ends once every socket wanted is found: an inode that is no
 * TCP/UDP socket of this namespace (a unix socket of a long table is known
 * from the namespace's `unix` table; anything else) keeps it going to the end.
 */
export async function scanSocketLines(fs: ProcFs, dir: string, wanted: ReadonlySet<number>, out: Map<number, SocketLine>): Promise<void> {
  const pending = new Set<number>();
  for (const i of wanted) if (!out.has(i)) pending.add(i);
  if (pending.size === 0) return;
  const { empty, tcpLines } = tableCountsSync(fs, dir);
  if (tcpLines !== undefined && tcpLines >= UNIX_LOOKUP_MIN_TCP_LINES) {
    try {
      let first = true;
      for await (const text of fs.readTextSlices(`${dir}/unix`)) {
        dropUnixInodes(text, first, pending);
        first = false;
        if (pending.size === 0) break;
      }
    } catch (err) {
      if (!isVanished(err)) throw err;
    }
  }
  for (const protocol of SOCKET_PROTOCOLS) {
    if (pending.size === 0) return;
    if (empty.has(protocol)) continue;
    try {
      let first = true;
      for await (const text of fs.readTextSlices(`${dir}/${protocol}`)) {
        collectWanted(protocol, text, first, pending, out);
        first = false;
        if (pending.size === 0) break;
      }
    } catch (err) {
      if (isVanished(err)) continue;
      throw err;
    }
  }
}

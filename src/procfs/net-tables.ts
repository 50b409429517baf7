/**
 * Scan of the socket tables of one network namespace:
 * `<root>/net/{tcp,tcp6,udp,udp6}` (the reader's namespace) or
 * `<root>/<pid>/net/...` (the namespace of process <pid>). A missing table
 * (IPv6 disabled) is empty.
 *
 * Busy hosts have tens of thousands of lines, most of them TIME_WAIT
 * sockets no process holds, so only lines whose inode is wanted are parsed
 * in full (net-sockets' parseSocketLine); the others cost a scan to their
 * tenth column.
 */
import type { ProcFs } from './proc-fs';
import { isVanished } from './proc-fs';
import { parseSocketLine, SOCKET_PROTOCOLS, type NetSocket, type SocketProtocol } from './net-sockets';

/** The inode column (10th, 0-based 9) of a table line, or -1. */
export function lineInode(text: string, start: number, end: number): number {
  let col = 0;
  let i = start;
  while (i < end) {
    while (i < end && text.charCodeAt(i) === 32) i++;
    if (i >= end) return -1;
    if (col === 9) {
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

/** Adds the wanted sockets of `text` (whole lines) to `out`; with `skipHeader`, its first line is the table header. */
function collectWanted(protocol: SocketProtocol, text: string, skipHeader: boolean, wanted: ReadonlySet<number>, out: Map<number, NetSocket>): void {
  let start = 0;
  if (skipHeader) {
    start = text.indexOf('\n') + 1;
    if (start === 0) return;
  }
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const inode = lineInode(text, start, end);
    if (inode > 0 && wanted.has(inode) && !out.has(inode)) {
      const s = parseSocketLine(protocol, text.slice(start, end));
      if (s) out.set(inode, s);
    }
    start = end + 1;
  }
}

/**
 * Adds to `out` every socket of the namespace whose inode is in `wanted` and
 * not already in `out`. `dir` is `net` or `<pid>/net`. Each table is parsed
 * slice by slice as it is read (ProcFs.readTextSlices): never held whole,
 * with a turn of the event loop between slices.
 */
export async function scanSocketTables(fs: ProcFs, dir: string, wanted: ReadonlySet<number>, out: Map<number, NetSocket>): Promise<void> {
  for (const protocol of SOCKET_PROTOCOLS) {
    try {
      let first = true;
      for await (const text of fs.readTextSlices(`${dir}/${protocol}`)) {
        collectWanted(protocol, text, first, wanted, out);
        first = false;
      }
    } catch (err) {
      if (isVanished(err)) continue;
      throw err;
    }
  }
}

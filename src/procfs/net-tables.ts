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
import { parseSocketLine, SOCKET_PROTOCOLS, type NetSocket } from './net-sockets';
import { Slicer } from '../util/slicer';

/** One line per socket, ~150 bytes: the cap allows ~1.7 million sockets. */
const TABLE_LIMIT = 256 << 20;

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

/**
 * Adds to `out` every socket of the namespace whose inode is in `wanted` and
 * not already in `out`. `dir` is `net` or `<pid>/net`.
 */
export async function scanSocketTables(fs: ProcFs, dir: string, wanted: ReadonlySet<number>, out: Map<number, NetSocket>): Promise<void> {
  for (const protocol of SOCKET_PROTOCOLS) {
    let text: string;
    try {
      // sliced: tens of thousands of TIME_WAIT lines must not block the event loop in one piece
      text = (await fs.readBytesSliced(`${dir}/${protocol}`, TABLE_LIMIT)).toString('latin1');
    } catch (err) {
      if (isVanished(err)) continue;
      throw err;
    }
    const slicer = new Slicer();
    let lines = 0;
    let start = text.indexOf('\n') + 1; // skip the header
    while (start > 0 && start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const inode = lineInode(text, start, end);
      if (inode > 0 && wanted.has(inode) && !out.has(inode)) {
        const s = parseSocketLine(protocol, text.slice(start, end));
        if (s) out.set(inode, s);
      }
      start = end + 1;
      if (++lines % 2048 === 0) await slicer.maybeYield();
    }
  }
}

/**
 * /proc/<pid>/fd: one symlink per open file descriptor. The number of entries
 * is the open fd count; `socket:[inode]` targets tie sockets in
 * /proc/net/{tcp,udp}* to the process. Listing needs ptrace access to the
 * process (EACCES otherwise, and with hidepid).
 */
import type { ProcFs } from './proc-fs';
import { isVanished } from './proc-fs';
import { socketInode } from './pid-identity';

export interface FdTable {
  /** Entries in /proc/<pid>/fd: open file descriptors. */
  count: number;
  /** Inodes of the sockets among them (only when asked for), in fd order. */
  socketInodes: number[];
}

/**
 * Lists the fd directory; with `wantSockets`, also reads every link and keeps
 * socket inodes. A link closed between listing and reading is skipped; it
 * still counts as open, since it was at listing time.
 */
export function readFdTableSync(fs: ProcFs, pid: number, wantSockets: boolean): FdTable {
  const names = listFdsSync(fs, pid);
  const socketInodes: number[] = [];
  if (wantSockets) addSocketInodesSync(fs, pid, names, 0, names.length, socketInodes);
  return { count: names.length, socketInodes };
}

/** The names of the fd directory: one per open file descriptor. */
export function listFdsSync(fs: ProcFs, pid: number): string[] {
  return fs.listDirSync(`${pid}/fd`);
}

/**
 * Reads the links of `names[from, to)` (names from listFdsSync) and appends
 * the socket inodes among them to `out`, in fd order: a process with
 * thousands of fds can be read a slice at a time. A link closed meanwhile is
 * skipped.
 */
export function addSocketInodesSync(fs: ProcFs, pid: number, names: readonly string[], from: number, to: number, out: number[]): void {
  const dir = `${pid}/fd/`;
  for (let i = from; i < to; i++) {
    let target: string;
    try {
      target = fs.readLinkSync(dir + names[i]!);
    } catch (err) {
      if (isVanished(err)) continue;
      throw err;
    }
    // cheap prefix test first: most fds are files, pipes and anon inodes
    if (target.charCodeAt(0) === 115 /* s */) {
      const inode = socketInode(target);
      if (inode !== undefined) out.push(inode);
    }
  }
}

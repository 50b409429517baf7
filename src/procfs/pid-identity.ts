/**
 * Who a process is: its exe link and cmdline, and the socket inodes it holds.
 */
import type { ProcFs } from './proc-fs';

/**
 * Suffix the kernel appends to the exe link when the binary was replaced or
 * removed (a package upgrade while the service runs).
 */
const DELETED_SUFFIX = ' (deleted)';

/**
 * Strips " (deleted)" from the target of /proc/<pid>/exe, so that a package
 * upgrade does not change the series identity of a service that keeps running.
 */
export function stripDeleted(exeLink: string): string {
  return exeLink.endsWith(DELETED_SUFFIX) ? exeLink.slice(0, -DELETED_SUFFIX.length) : exeLink;
}

/** Parses the NUL-separated argv of /proc/<pid>/cmdline. */
export function parseCmdline(text: string): string[] {
  const parts = text.split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** `socket:[12345]` -> 12345; anything else -> undefined. */
export function socketInode(linkTarget: string): number | undefined {
  if (!linkTarget.startsWith('socket:[') || !linkTarget.endsWith(']')) return undefined;
  const n = Number(linkTarget.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Socket inodes held by a process, found through its fd links, for the
 * batched fd scan in discovery. Links that vanish between listing and
 * reading (the fd was closed) are skipped.
 */
export function readSocketInodesSync(fs: ProcFs, pid: number): number[] {
  const inodes: number[] = [];
  for (const fd of fs.listDirSync(`${pid}/fd`)) {
    try {
      const inode = socketInode(fs.readLinkSync(`${pid}/fd/${fd}`));
      if (inode !== undefined) inodes.push(inode);
    } catch {
      // fd closed between readdir and readlink: not an error
    }
  }
  return inodes;
}

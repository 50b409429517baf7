/**
 * Who a process is: comm, exe link and cmdline, and the socket inodes it holds.
 */
import type { ProcFs } from './proc-fs';

/** /proc/<pid>/comm without its trailing newline. */
export async function readComm(fs: ProcFs, pid: number): Promise<string> {
  return (await fs.readText(`${pid}/comm`, 4096)).replace(/\n$/, '');
}

/**
 * Suffix the kernel appends to the exe link when the binary was replaced or
 * removed (a package upgrade while the service runs).
 */
const DELETED_SUFFIX = ' (deleted)';

/**
 * Target of /proc/<pid>/exe. The kernel appends " (deleted)" once the file is
 * replaced; we strip it so that a package upgrade does not change the series
 * identity of a service that keeps running.
 */
export async function readExe(fs: ProcFs, pid: number): Promise<string> {
  return stripDeleted(await fs.readLink(`${pid}/exe`));
}

export function stripDeleted(exeLink: string): string {
  return exeLink.endsWith(DELETED_SUFFIX) ? exeLink.slice(0, -DELETED_SUFFIX.length) : exeLink;
}

/** Parses the NUL-separated argv of /proc/<pid>/cmdline. */
export function parseCmdline(text: string): string[] {
  const parts = text.split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export async function readCmdline(fs: ProcFs, pid: number, limit = 64 * 1024): Promise<string[]> {
  return parseCmdline(await fs.readText(`${pid}/cmdline`, limit));
}

/** `socket:[12345]` -> 12345; anything else -> undefined. */
export function socketInode(linkTarget: string): number | undefined {
  if (!linkTarget.startsWith('socket:[') || !linkTarget.endsWith(']')) return undefined;
  const n = Number(linkTarget.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Names of /proc/<pid>/fd entries. */
export async function listFds(fs: ProcFs, pid: number): Promise<string[]> {
  return fs.listDir(`${pid}/fd`);
}

/**
 * Socket inodes held by a process, found through its fd links. Links that
 * vanish between listing and reading (the fd was closed) are skipped.
 */
export async function readSocketInodes(fs: ProcFs, pid: number): Promise<number[]> {
  const fds = await listFds(fs, pid);
  const inodes: number[] = [];
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const inode = socketInode(await fs.readLink(`${pid}/fd/${fd}`));
        if (inode !== undefined) inodes.push(inode);
      } catch {
        // fd closed between readdir and readlink: not an error
      }
    }),
  );
  return inodes;
}

/** Synchronous twin of readSocketInodes, for the batched fd scan in discovery. */
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

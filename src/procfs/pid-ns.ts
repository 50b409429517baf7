/**
 * /proc/<pid>/ns/<type> links (`net:[4026531840]`): processes whose links
 * have the same target share the namespace. The socket tables under
 * /proc/<pid>/net/ are those of the process's network namespace, while
 * /proc/net/ is the reader's, so a process in a container needs its own
 * tables to resolve its sockets. Reading the link needs ptrace access.
 */
import type { ProcFs } from './proc-fs';

/** Target of `<pid>/ns/net` (`net:[4026531840]`), the network namespace's identity. */
export function readNetNsSync(fs: ProcFs, pid: number | 'self'): string {
  return fs.readLinkSync(`${pid}/ns/net`);
}

/** The inode in a `net:[N]` link target, or undefined. */
export function parseNsLink(target: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

/**
 * A key of the network namespace of `<dir>` (`<pid>` or `self`): the inode
 * of `<dir>/net/tcp`. The kernel gives each namespace's proc net entries
 * their own inodes, shared by every process of that namespace, and stat needs
 * no ptrace access, unlike the `ns/net` link (which can fail with EACCES even
 * for root, e.g. on pid 1 under some hypervisors' agents). Throws the fs error.
 */
export function readNetNsKeySync(fs: ProcFs, dir: number | 'self' | ''): number {
  return fs.statInoSync(dir === '' ? 'net/tcp' : `${dir}/net/tcp`);
}

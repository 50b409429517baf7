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

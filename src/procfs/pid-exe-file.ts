/**
 * Who really runs behind a process name: the executable's path, the owner and
 * mode of the executable file itself, and the uids of the process. A process
 * can give itself any comm (prctl(PR_SET_NAME), writing /proc/self/comm, or
 * exec through a symlink of that name); it cannot change what its exe link
 * points to, nor make a file it created belong to root.
 *
 * stat() of /proc/<pid>/exe follows the magic link to the very inode the
 * process runs, even when that path is not reachable from here (the process
 * lives in another mount namespace, e.g. a container) or was deleted since.
 * Reading the link and stat-ing it need ptrace read access to the process,
 * the same access the fd scan that found its sockets needed.
 */
import { statSync } from 'node:fs';
import type { ProcFs } from './proc-fs';
import { stripDeleted } from './pid-identity';
import { readPidStatusSync } from './pid-status';

export interface ExecutableIdentity {
  /** Target of /proc/<pid>/exe with " (deleted)" stripped; undefined when unreadable. */
  exePath: string | undefined;
  /** The executable file: owner uid, permission bits, and whether it is a regular file; undefined when unreadable. */
  exeFile: { uid: number; mode: number; regular: boolean } | undefined;
  /** Real and effective uid of the process (from status); undefined when unreadable. */
  uid: number | undefined;
  euid: number | undefined;
}

/** Never throws: each part that cannot be read is undefined (and then proves nothing). */
export function readExecutableIdentitySync(fs: ProcFs, pid: number): ExecutableIdentity {
  let exePath: string | undefined;
  let exeFile: ExecutableIdentity['exeFile'];
  let uid: number | undefined;
  let euid: number | undefined;
  try {
    exePath = stripDeleted(fs.readLinkSync(`${pid}/exe`));
  } catch {
    exePath = undefined;
  }
  if (exePath !== undefined) {
    try {
      const st = statSync(`${fs.root}/${pid}/exe`);
      exeFile = { uid: st.uid, mode: st.mode & 0o7777, regular: st.isFile() };
    } catch {
      exeFile = undefined;
    }
  }
  try {
    [uid, euid] = readPidStatusSync(fs, pid).uids;
  } catch {
    uid = euid = undefined;
  }
  return { exePath, exeFile, uid, euid };
}

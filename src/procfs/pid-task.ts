/**
 * /proc/<pid>/task: one directory per thread (task), named by its tid; the
 * main thread's tid is the pid. Each holds the per-thread stat, status, io
 * and wchan, read with the `task` argument of those modules' readers.
 */
import type { ProcFs } from './proc-fs';

/** Thread ids of the process, ascending. */
export function listTasksSync(fs: ProcFs, pid: number): number[] {
  const tids: number[] = [];
  for (const name of fs.listDirSync(`${pid}/task`)) {
    const tid = Number(name);
    if (Number.isInteger(tid) && tid > 0) tids.push(tid);
  }
  return tids.sort((a, b) => a - b);
}

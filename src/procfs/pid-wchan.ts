/**
 * /proc/<pid>/wchan and /proc/<pid>/task/<tid>/wchan: the kernel function a
 * sleeping task waits in (`do_epoll_wait`, `hrtimer_nanosleep`, ...). The
 * kernel prints `0` for a running task and also when the reader lacks ptrace
 * access, so `0` and empty mean "no wait channel", not an error.
 */
import type { ProcFs } from './proc-fs';

export function parseWchan(text: string): string {
  const v = text.trim();
  return v === '0' ? '' : v;
}

export function readWchanSync(fs: ProcFs, pid: number, task?: number): string {
  return parseWchan(fs.readSync(task === undefined ? `${pid}/wchan` : `${pid}/task/${task}/wchan`, 4096, 'latin1'));
}

/**
 * Synchronous reader for /proc/<pid>/cmdline (argv, NUL-separated; parsed by
 * pid-identity's parseCmdline). Empty for kernel threads and zombies.
 * World-readable (unless hidepid).
 */
import type { ProcFs } from './proc-fs';
import { parseCmdline } from './pid-identity';

/** argv of the process; at most `limit` bytes are read (a hostile argv can be megabytes). */
export function readCmdlineSync(fs: ProcFs, pid: number, limit = 64 * 1024): string[] {
  return parseCmdline(fs.readSync(`${pid}/cmdline`, limit));
}

/**
 * Parser for the system-wide /proc/stat. Only `btime` is needed: process
 * start times in /proc/<pid>/stat are ticks since boot, and btime (boot time,
 * whole seconds since the epoch) turns them into wall-clock times.
 */
import type { ProcFs } from './proc-fs';

export interface ProcStat {
  /** `btime`: boot time in seconds since 1970-01-01 UTC. */
  bootTimeSeconds: number;
  /** `processes`: forks since boot. */
  forksSinceBoot: number | undefined;
}

export function parseProcStat(text: string): ProcStat {
  let bootTimeSeconds: number | undefined;
  let forksSinceBoot: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('btime ')) bootTimeSeconds = Number(line.slice(6));
    else if (line.startsWith('processes ')) forksSinceBoot = Number(line.slice(10));
  }
  if (bootTimeSeconds === undefined || !Number.isInteger(bootTimeSeconds)) throw new Error('malformed /proc/stat: no btime');
  return { bootTimeSeconds, forksSinceBoot };
}

/** /proc/stat can be long on many-CPU hosts (one line per CPU), hence the larger cap. */
export function readProcStatSync(fs: ProcFs): ProcStat {
  return parseProcStat(fs.readSync('stat', 4 << 20));
}

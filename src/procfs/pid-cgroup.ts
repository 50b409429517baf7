/**
 * Parser for /proc/<pid>/cgroup: `hierarchy-id:controller-list:path` lines
 * (cgroup v1 has one line per hierarchy; v2 a single `0::/path`).
 * process-exporter's {{.Cgroups}} template variable is the list of paths in
 * file order. World-readable.
 */
import type { ProcFs } from './proc-fs';

export interface CgroupEntry {
  hierarchyId: number;
  /** Controllers bound to the hierarchy (`cpu,cpuacct`; `name=systemd`); empty for v2. */
  controllers: string[];
  /** Path relative to the hierarchy's mount point. */
  path: string;
}

export function parsePidCgroup(text: string): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    // the path itself may contain ':', so split on the first two only
    if (second < 0) throw new Error(`malformed cgroup line: ${line.slice(0, 64)}`);
    out.push({
      hierarchyId: Number(line.slice(0, first)),
      controllers: first + 1 === second ? [] : line.slice(first + 1, second).split(','),
      path: line.slice(second + 1),
    });
  }
  return out;
}

export function readPidCgroupSync(fs: ProcFs, pid: number): CgroupEntry[] {
  return parsePidCgroup(fs.readSync(`${pid}/cgroup`));
}

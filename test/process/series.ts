/** Test helpers: families as `name{k="v",...}` -> value, label keys sorted. */
import type { FamilyData } from '../../src/metrics/producer';
import type { ProcessCollectorConfig } from '../../src/process/collector';

/** process-exporter's defaults with no config file: one group per process, threads and smaps on. */
export const DEFAULT_PROCESS_CONFIG: Readonly<ProcessCollectorConfig> = {
  processConfigPath: undefined,
  procnames: [],
  children: true,
  threads: true,
  gatherSmaps: true,
  removeEmptyGroups: false,
  netstatMaxPerProcess: 256,
};

export function seriesKey(name: string, attributes: Record<string, string>): string {
  const keys = Object.keys(attributes).sort();
  return keys.length === 0 ? name : `${name}{${keys.map((k) => `${k}="${attributes[k]}"`).join(',')}}`;
}

export function toSeries(families: readonly FamilyData[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of families) {
    for (const p of f.points) {
      const key = seriesKey(f.spec.name, p.attributes);
      if (out.has(key)) throw new Error(`duplicate series ${key}`);
      out.set(key, p.value);
    }
  }
  return out;
}

/** The series of one group, without the `namedprocess_namegroup_` prefix and the groupname label. */
export function groupSeries(series: ReadonlyMap<string, number>, group: string): Map<string, number> {
  const out = new Map<string, number>();
  const needle = `groupname="${group}"`;
  for (const [k, v] of series) {
    if (!k.includes(needle)) continue;
    out.set(k.replace('namedprocess_namegroup_', '').replace(`,${needle}`, '').replace(`${needle},`, '').replace(`{${needle}}`, ''), v);
  }
  return out;
}

export function groupNames(series: ReadonlyMap<string, number>): string[] {
  const names = new Set<string>();
  for (const k of series.keys()) {
    if (!k.startsWith('namedprocess_namegroup_num_procs{')) continue;
    names.add(/groupname="([^"]*)"/.exec(k)![1]!);
  }
  return [...names].sort();
}

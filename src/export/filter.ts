/**
 * node_exporter-style `collect[]` / `exclude[]` query filters, by family
 * group: `/metrics?collect[]=ports&collect[]=http` or `?exclude[]=namedprocess`.
 * Groups: ports (TCP alive and latency), http, udp, process_alive,
 * namedprocess (process-exporter families and their scrape-error counters),
 * self (our own and process_* metrics). target_info always stays.
 */
import { FAMILY_GROUPS, PORT_DIAGNOSTIC_FAMILIES, PORT_FAMILIES, type FamilyGroup } from '../metrics/contract';
import { SELF_PREFIXES } from '../metrics/self-metrics';

export type MetricFilter = (metricName: string) => boolean;

export class FilterError extends Error {}

const PORT_GROUP = new Map<string, FamilyGroup>([...Object.values(PORT_FAMILIES), ...Object.values(PORT_DIAGNOSTIC_FAMILIES)].map((f) => [f.name, f.group]));

export function groupOf(name: string): FamilyGroup | undefined {
  const direct = PORT_GROUP.get(name);
  if (direct) return direct;
  if (name.startsWith('namedprocess_')) return 'namedprocess';
  if (SELF_PREFIXES.some((p) => name.startsWith(p))) return 'self';
  return undefined;
}

/** Builds a filter from the query; undefined when no filter was asked for. Throws FilterError on bad input. */
export function parseFilter(query: URLSearchParams): MetricFilter | undefined {
  const collect = query.getAll('collect[]');
  const exclude = query.getAll('exclude[]');
  if (collect.length === 0 && exclude.length === 0) return undefined;
  if (collect.length > 0 && exclude.length > 0) throw new FilterError('collect[] and exclude[] cannot be combined');
  const names = collect.length > 0 ? collect : exclude;
  for (const n of names) {
    if (!(FAMILY_GROUPS as readonly string[]).includes(n)) {
      throw new FilterError(`unknown group ${JSON.stringify(n.slice(0, 64))}; known: ${FAMILY_GROUPS.join(', ')}`);
    }
  }
  const set = new Set(names);
  const keep = collect.length > 0;
  return (name) => {
    const g = groupOf(name);
    if (g === undefined) return true;
    return keep ? set.has(g) : !set.has(g);
  };
}

/**
 * node_exporter-style `collect[]` / `exclude[]` query filters, by family
 * group: `/metrics?collect[]=ports&collect[]=http` or `?exclude[]=namedprocess`.
 * Groups: ports (TCP alive and latency), http, udp, process_alive,
 * namedprocess (process-exporter families and their scrape-error counters),
 * self (our own and process_* metrics). target_info always stays.
 */
import { COMPAT_FAMILIES, FAMILY_GROUPS, PORT_DIAGNOSTIC_FAMILIES, PORT_FAMILIES, type FamilyGroup } from '../metrics/contract';
import { SELF_PREFIXES } from '../metrics/self-metrics';
import type { Stage } from '../self-stats';

/**
 * Keeps a family by name. With collect[], `stage` also says which series of the
 * otel_host_receiver_stage_* families to keep although `self` was not asked
 * for: those of the stages that feed the selected groups, as node_exporter
 * keeps node_scrape_collector_* for the collectors a filtered scrape selects.
 */
export interface MetricFilter {
  (metricName: string): boolean;
  stage?: (stage: string) => boolean;
}

export const STAGE_FAMILY_PREFIX = 'otel_host_receiver_stage_';

/** The groups whose data each stage produces (discovery feeds every port family). */
const STAGE_GROUPS: Record<Stage, readonly FamilyGroup[]> = {
  discovery: ['ports', 'http', 'udp', 'process_alive'],
  discovery_new: ['ports', 'http', 'udp', 'process_alive'],
  tcp_probe: ['ports'],
  http_probe: ['http'],
  udp_probe: ['udp'],
  process_alive: ['process_alive'],
  process_sample: ['namedprocess'],
};

export class FilterError extends Error {}

const PORT_GROUP = new Map<string, FamilyGroup>([...Object.values(PORT_FAMILIES), ...Object.values(PORT_DIAGNOSTIC_FAMILIES), ...Object.values(COMPAT_FAMILIES)].map((f) => [f.name, f.group]));

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
  const filter: MetricFilter = (name) => {
    const g = groupOf(name);
    if (g === undefined) return true;
    return keep ? set.has(g) : !set.has(g);
  };
  if (keep && !set.has('self')) {
    filter.stage = (stage) => (STAGE_GROUPS[stage as Stage] ?? []).some((g) => set.has(g));
  }
  return filter;
}

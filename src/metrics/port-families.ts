/**
 * The node_*_port_alive / node_process_alive families, read from the pool.
 * Each family is rebuilt only when the stage that feeds it has published new
 * results (PortPool.versions) or the pool's membership changed.
 */
import { processKey, type PortEntry, type PortPool, type ProcessEntry } from '../discovery/port-pool';
import { PORT_DIAGNOSTIC_FAMILIES, PORT_FAMILIES } from './contract';
import { FAILURE_REASONS, type FailureReason } from '../probes/failure-reason';
import { dataPoint, type CachedFamily, type Point } from './producer';
import type { ExpectedPorts, Placeholder } from '../discovery/expected';

/**
 * `expected` (--expect.file): expected ports with no matching listener read 0
 * in node_tcp_port_alive / node_tcp_port_response_seconds (tcp) or
 * node_udp_port_alive (udp), and node_process_alive 0 for their identity
 * unless the pool already reports that identity.
 */
export function portFamilies(pool: PortPool, expected?: ExpectedPorts): CachedFamily[] {
  const placeholders = (protocol: 'tcp' | 'udp'): Placeholder[] => (expected ? expected.placeholders(pool).filter((x) => x.protocol === protocol) : []);
  const zeros = (protocol: 'tcp' | 'udp'): Point[] =>
    placeholders(protocol).map((x) => dataPoint({ process_name: x.processName, exe_path: x.exePath, port: String(x.port) }, 0));
  // label sets are fixed for an entry's life; build them once
  const portLabels = new WeakMap<PortEntry, Record<string, string>>();
  const labelsOf = (p: PortEntry): Record<string, string> => {
    let l = portLabels.get(p);
    // outside the host namespace: plus NAMESPACE_LABELS (contract.ts)
    if (!l) portLabels.set(p, (l = withLabels({ process_name: p.processName, exe_path: p.exePath, port: String(p.port) }, p.identityLabels)));
    return l;
  };
  const reasonLabels = new WeakMap<PortEntry, Partial<Record<FailureReason, Record<string, string>>>>();
  const labelsWithReason = (p: PortEntry, reason: FailureReason): Record<string, string> => {
    let byReason = reasonLabels.get(p);
    if (!byReason) reasonLabels.set(p, (byReason = {}));
    return (byReason[reason] ??= withLabel(labelsOf(p), 'reason', reason));
  };
  const processLabels = new WeakMap<ProcessEntry, Record<string, string>>();
  const v = (kind: keyof PortPool['versions']) => (): string => `${pool.generation}/${pool.versions[kind]}/${expected?.version ?? 0}`;
  const tcpPoints = (pick: (p: PortEntry) => number | undefined) => (): Point[] => {
    const out: Point[] = [];
    for (const p of pool.ports()) {
      // Not yet probed: no series rather than a fake 0 (a scrape right after start must not page anyone).
      const value = p.protocol === 'tcp' ? pick(p) : undefined;
      if (value !== undefined) out.push(dataPoint(labelsOf(p), value));
    }
    return out;
  };
  const withZeros = (points: () => Point[]) => (): Point[] => [...points(), ...zeros('tcp')];
  return [
    { spec: PORT_FAMILIES.tcpAlive, version: v('tcp'), points: withZeros(tcpPoints((p) => p.tcp?.alive)) },
    // a port checked from socket state (in another namespace, not reachable from the host) has no connect time
    { spec: PORT_FAMILIES.tcpResponse, version: v('tcp'), points: withZeros(tcpPoints((p) => (p.check === 'socket' ? undefined : p.tcp?.responseSeconds))) },
    // only ports that once answered HTTP have the series, for as long as they are in the pool
    { spec: PORT_FAMILIES.httpAlive, version: v('http'), points: tcpPoints((p) => (p.http?.everAnswered ? p.http.alive : undefined)) },
    {
      spec: PORT_DIAGNOSTIC_FAMILIES.tcpProbeFailures,
      version: v('tcp'),
      points: () => {
        const out: Point[] = [];
        for (const p of pool.ports()) {
          const f = p.protocol === 'tcp' ? p.tcp?.failures : undefined;
          if (!f) continue;
          const startTime = hrTime(p.tcp!.failuresSince!);
          for (const reason of FAILURE_REASONS) {
            const n = f[reason];
            if (n !== undefined) out.push(dataPoint(labelsWithReason(p, reason), n, startTime));
          }
        }
        return out;
      },
    },
    // 0 when the last probe got no status line (hung, refused, not HTTP any more)
    { spec: PORT_DIAGNOSTIC_FAMILIES.httpStatusCode, version: v('http'), points: tcpPoints((p) => (p.http?.everAnswered ? (p.http.status ?? 0) : undefined)) },
    {
      spec: PORT_FAMILIES.udpAlive,
      version: v('udp'),
      points: () => [...pool.ports().flatMap((p) => (p.protocol === 'udp' && p.udp ? [dataPoint(labelsOf(p), p.udp.alive)] : [])), ...zeros('udp')],
    },
    {
      spec: PORT_FAMILIES.processAlive,
      version: v('process'),
      points: () => {
        const out = pool.processes().flatMap((pe) => {
          if (!pe.alive) return [];
          let l = processLabels.get(pe);
          if (!l) processLabels.set(pe, (l = withLabels({ process_name: pe.processName, exe_path: pe.exePath }, pe.identityLabels)));
          return [dataPoint(l, pe.alive.alive)];
        });
        if (!expected) return out;
        const known = new Set(pool.processes().map((pe) => processKey(pe)));
        for (const x of expected.placeholders(pool)) {
          const key = processKey(x);
          if (known.has(key)) continue;
          known.add(key);
          out.push(dataPoint({ process_name: x.processName, exe_path: x.exePath }, 0));
        }
        return out;
      },
    },
  ];
}

/** `labels` plus one more, added key by key (objects with the same label names share one V8 hidden class; a spread with an extra key gets its own). */
function withLabel(labels: Record<string, string>, key: string, value: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const k in labels) o[k] = labels[k]!;
  o[key] = value;
  return o;
}

/** `labels` plus `more` (namespace identity labels), or `labels` itself when there are none. */
function withLabels(labels: Record<string, string>, more: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (more) for (const k in more) labels[k] = more[k]!;
  return labels;
}

function hrTime(ms: number): [number, number] {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** Builds the node_*_port_alive / node_process_alive families from the pool. */
import type { PortPool } from '../discovery/port-pool';
import { PORT_FAMILIES } from './contract';
import type { FamilyData, FamilySource, Point } from './producer';

export function portFamilies(pool: PortPool): FamilySource {
  return (): FamilyData[] => {
    const tcpAlive: Point[] = [];
    const tcpResponse: Point[] = [];
    const httpAlive: Point[] = [];
    const udpAlive: Point[] = [];
    for (const p of pool.ports()) {
      const attributes = { process_name: p.processName, exe_path: p.exePath, port: String(p.port) };
      if (p.protocol === 'tcp') {
        // Not yet probed: no series rather than a fake 0 (a scrape right after start must not page anyone).
        if (p.tcp) {
          tcpAlive.push({ attributes, value: p.tcp.alive });
          tcpResponse.push({ attributes, value: p.tcp.responseSeconds });
        }
        if (p.http?.everAnswered) httpAlive.push({ attributes, value: p.http.alive });
      } else if (p.udp) {
        udpAlive.push({ attributes, value: p.udp.alive });
      }
    }
    const processAlive: Point[] = [];
    for (const pe of pool.processes()) {
      if (pe.alive) processAlive.push({ attributes: { process_name: pe.processName, exe_path: pe.exePath }, value: pe.alive.alive });
    }
    return [
      { spec: PORT_FAMILIES.tcpAlive, points: tcpAlive },
      { spec: PORT_FAMILIES.tcpResponse, points: tcpResponse },
      { spec: PORT_FAMILIES.httpAlive, points: httpAlive },
      { spec: PORT_FAMILIES.udpAlive, points: udpAlive },
      { spec: PORT_FAMILIES.processAlive, points: processAlive },
    ];
  };
}

/** custom_port_exporter (--compat.port-exporter), read from the last socket round. */
import { portLabel, type ListeningSocketOwners } from '../discovery/port-exporter-compat';
import { COMPAT_FAMILIES } from './contract';
import type { CachedFamily } from './producer';

export function compatFamilies(sockets: ListeningSocketOwners, host: string): CachedFamily[] {
  return [
    {
      spec: COMPAT_FAMILIES.portExporter,
      version: () => String(sockets.version),
      points: () =>
        sockets.sockets().map((s) => ({
          attributes: { host, app: s.comm, port: portLabel(s), state: String(s.state), pid: String(s.pid) },
          value: s.pid,
        })),
    },
  ];
}

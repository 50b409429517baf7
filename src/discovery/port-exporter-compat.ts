/**
 * --compat.port-exporter: every listening TCP socket of the host with its
 * owning process, for the `custom_port_exporter` family that a small Go port
 * exporter made common (dashboards filter on its `port` label, e.g.
 * `tcp 0.0.0.0:8080`). Unlike the pool this applies no exclusion list and
 * keeps every socket apart (one per bound address).
 *
 * Cheap between changes: the socket tables are read every round, but the fd
 * tables are scanned only when a socket inode appears that was not seen
 * before (as the pool's cheap pass does); owners of sockets that are gone are
 * forgotten.
 */
import type { ProcFs } from '../procfs/proc-fs';
import { readSocketTable, TCP_STATES } from '../procfs/net-sockets';
import { findSocketOwners, readProcessRef } from './listeners';

export interface OwnedSocket {
  /** `tcp` for IPv4, `tcp6` for IPv6. */
  protocol: 'tcp' | 'tcp6';
  address: string;
  port: number;
  /** Kernel state number (10, LISTEN). */
  state: number;
  pid: number;
  comm: string;
}

export class ListeningSocketOwners {
  /** inode -> owner; null for a socket no visible process holds (not looked for again while it exists). */
  private owners = new Map<number, { pid: number; comm: string } | null>();
  private list: OwnedSocket[] = [];
  /** Bumped when the list changes (the export caches on it). */
  version = 0;

  constructor(private readonly fs: ProcFs) {}

  sockets(): readonly OwnedSocket[] {
    return this.list;
  }

  async refresh(): Promise<void> {
    const sockets = [...(await readSocketTable(this.fs, 'tcp', 'listening')), ...(await readSocketTable(this.fs, 'tcp6', 'listening'))].filter(
      (s) => s.state === TCP_STATES.LISTEN && s.inode > 0,
    );
    const fresh = new Set(sockets.map((s) => s.inode).filter((i) => !this.owners.has(i)));
    const next = new Map<number, { pid: number; comm: string } | null>();
    if (fresh.size > 0) {
      const { owners } = await findSocketOwners(this.fs, fresh);
      for (const inode of fresh) {
        const pid = owners.get(inode);
        const ref = pid === undefined ? undefined : readProcessRef(this.fs, pid);
        next.set(inode, ref ? { pid: ref.pid, comm: ref.processName } : null);
      }
    }
    for (const s of sockets) if (!next.has(s.inode)) next.set(s.inode, this.owners.get(s.inode) ?? null);
    this.owners = next;
    const list: OwnedSocket[] = [];
    for (const s of sockets) {
      const o = next.get(s.inode);
      // a socket without a visible owner has no pid to report (the value is the pid)
      if (o) list.push({ protocol: s.protocol === 'tcp6' ? 'tcp6' : 'tcp', address: s.localAddress, port: s.localPort, state: s.state, pid: o.pid, comm: o.comm });
    }
    list.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.address.localeCompare(b.address) || a.pid - b.pid);
    if (JSON.stringify(list) !== JSON.stringify(this.list)) {
      this.list = list;
      this.version++;
    }
  }
}

/**
 * The `port` label: `tcp 0.0.0.0:8080`, `tcp localhost:2379`. The Go exporter
 * reverse-resolves the address (127.0.0.1 becomes `localhost` through
 * /etc/hosts, an unspecified address stays as it is); we never query DNS from
 * the daemon, so only 127.0.0.1 is named, every other address is written as
 * is. IPv6 sockets, which it does not list, are written `tcp6 [::]:8080`.
 */
export function portLabel(s: Pick<OwnedSocket, 'protocol' | 'address' | 'port'>): string {
  if (s.protocol === 'tcp6') return `tcp6 [${s.address}]:${s.port}`;
  return `tcp ${s.address === '127.0.0.1' ? 'localhost' : s.address}:${s.port}`;
}

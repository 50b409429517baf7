/**
 * Sockets of a process for namedprocess_namegroup_netstat: its fd links give
 * socket inodes; the kernel's socket tables give protocol, addresses and
 * state. Tables are per network namespace, so a process in a container is
 * resolved through /proc/<pid>/net/*, read once per namespace and cycle.
 * Inodes found in no table are unix, netlink or other sockets: not reported.
 */
import type { ProcFs } from '../procfs/proc-fs';
import type { NetSocket } from '../procfs/net-sockets';
import { isTcp } from '../procfs/net-sockets';
import { scanSocketTables } from '../procfs/net-tables';
import { readNetNsSync } from '../procfs/pid-ns';

export interface SocketLabels {
  protocol: 'tcp' | 'udp';
  /** `ip:port`, IPv6 in brackets (`[::1]:8080`). */
  local: string;
  remote: string;
  /** Kernel state number: TCP states 1..12; UDP reports 7 (CLOSE) unconnected, 1 connected. */
  state: number;
}

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function socketLabels(s: NetSocket): SocketLabels {
  return {
    protocol: isTcp(s.protocol) ? 'tcp' : 'udp',
    local: endpoint(s.localAddress, s.localPort),
    remote: endpoint(s.remoteAddress, s.remotePort),
    state: s.state,
  };
}

export interface SocketRequest {
  pid: number;
  inodes: readonly number[];
}

/**
 * Resolves the socket inodes of many processes in one pass: the reader's own
 * namespace tables first, then, for processes with inodes still unknown, the
 * tables of their namespace (each namespace once). Returns the TCP/UDP
 * sockets of each request, in fd order. `tablesRead` counts namespaces read.
 */
export async function resolveSockets(fs: ProcFs, requests: readonly SocketRequest[]): Promise<{ sockets: NetSocket[][]; tablesRead: number }> {
  const wanted = new Set<number>();
  for (const r of requests) for (const i of r.inodes) wanted.add(i);
  const byInode = new Map<number, NetSocket>();
  let tablesRead = 0;
  if (wanted.size > 0) {
    await scanSocketTables(fs, 'net', wanted, byInode);
    tablesRead++;
    const loaded = new Set<string>();
    try {
      loaded.add(readNetNsSync(fs, 'self'));
    } catch {
      // no `self` (a fixture, a foreign pid namespace): our own namespace may be read twice
    }
    for (const r of requests) {
      if (r.inodes.every((i) => byInode.has(i))) continue;
      let ns: string;
      try {
        ns = readNetNsSync(fs, r.pid);
      } catch {
        continue; // no access to the namespace link, or the process exited
      }
      if (loaded.has(ns)) continue;
      loaded.add(ns);
      try {
        await scanSocketTables(fs, `${r.pid}/net`, wanted, byInode);
        tablesRead++;
      } catch {
        // the process exited: its sockets are gone with it
      }
    }
  }
  const sockets = requests.map((r) => {
    const out: NetSocket[] = [];
    for (const i of r.inodes) {
      const s = byInode.get(i);
      if (s) out.push(s);
    }
    return out;
  });
  return { sockets, tablesRead };
}

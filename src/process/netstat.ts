/**
 * Sockets of a process for namedprocess_namegroup_netstat: its fd links give
 * socket inodes; the kernel's socket tables give protocol, addresses and
 * state. Tables are per network namespace, so a process in a container is
 * resolved through /proc/<pid>/net/*, read once per namespace and cycle.
 * Inodes found in no table are unix, netlink or other sockets: not reported.
 */
import type { ProcFs } from '../procfs/proc-fs';
import type { NetSocket } from '../procfs/net-sockets';
import { isTcp, parseSocketLine } from '../procfs/net-sockets';
import { scanSocketLines, type SocketLine } from '../procfs/net-tables';
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
 * sockets of each request, in fd order, at most `cap` of them: lines past the
 * cap are counted in `found` but never parsed (a process with thousands of
 * sockets reports 256). `tablesRead` counts namespaces read.
 */
export async function resolveSockets(
  fs: ProcFs,
  requests: readonly SocketRequest[],
  cap = Infinity,
): Promise<{ sockets: NetSocket[][]; found: number[]; tablesRead: number }> {
  const wanted = new Set<number>();
  for (const r of requests) for (const i of r.inodes) wanted.add(i);
  const lines = new Map<number, SocketLine>();
  let tablesRead = 0;
  if (wanted.size > 0) {
    await scanSocketLines(fs, 'net', wanted, lines);
    tablesRead++;
    const loaded = new Set<string>();
    try {
      loaded.add(readNetNsSync(fs, 'self'));
    } catch {
      // no `self` (a fixture, a foreign pid namespace): our own namespace may be read twice
    }
    for (const r of requests) {
      if (r.inodes.every((i) => lines.has(i))) continue;
      let ns: string;
      try {
        ns = readNetNsSync(fs, r.pid);
      } catch {
        continue; // no access to the namespace link, or the process exited
      }
      if (loaded.has(ns)) continue;
      loaded.add(ns);
      try {
        await scanSocketLines(fs, `${r.pid}/net`, wanted, lines);
        tablesRead++;
      } catch {
        // the process exited: its sockets are gone with it
      }
    }
  }
  // a socket held by several processes (a listener shared after fork) is parsed once
  const parsed = new Map<number, NetSocket | null>();
  const found: number[] = [];
  const sockets = requests.map((r) => {
    const out: NetSocket[] = [];
    let n = 0;
    for (const i of r.inodes) {
      const l = lines.get(i);
      if (l === undefined) continue;
      if (out.length >= cap) {
        n++; // a kernel line is well formed: counted without parsing
        continue;
      }
      let s = parsed.get(i);
      if (s === undefined) parsed.set(i, (s = parseSocketLine(l.protocol, l.line) ?? null));
      if (s === null) continue;
      out.push(s);
      n++;
    }
    found.push(n);
    return out;
  });
  return { sockets, found, tablesRead };
}

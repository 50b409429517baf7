/**
 * Finds what listens on this host: LISTEN TCP sockets and bound UDP sockets
 * from <procfs>/net/{tcp,tcp6,udp,udp6}, joined to the owning process through
 * <procfs>/<pid>/fd/* -> socket:[inode].
 *
 * Choices, each one an answer to a question an operator will ask:
 * - TCP and TCP6 sockets on the same port are one port (`protocol` "tcp"),
 *   likewise UDP; the bound addresses are kept for the probe.
 * - UDP sockets with a remote peer (connect()ed clients: resolvers, NTP
 *   clients, QUIC client sockets) are not services and are skipped; an
 *   ephemeral client port would otherwise create a series per minute.
 * - When several processes hold the same socket (a pre-forking server: master
 *   and workers), the lowest pid owns it: that is the master, and it is stable
 *   while workers are recycled.
 * - A socket no visible process holds (another user's process as non-root,
 *   hidepid, kernel sockets such as NFS) is counted, not reported: without a
 *   process there is no `process_name` to label it with.
 * - exe_path is the /proc/<pid>/exe link (" (deleted)" stripped). When it is
 *   unreadable (no CAP_SYS_PTRACE for another user's process, a zombie), we
 *   fall back to argv[0] from cmdline, then to "unknown", so the series keeps
 *   a stable identity rather than disappearing.
 * - Every network namespace with a process in it is read (see netns.ts), one
 *   member's `<pid>/net/` tables per namespace. Socket inodes are unique
 *   across namespaces, so one fd scan finds the owners in all of them. A
 *   port of the host's namespace keeps the contract's identity (protocol,
 *   port, process); a port of another namespace is also told apart by its
 *   namespace, and carries `labels` (container_id, pod_uid) for its series.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ProcFs } from '../procfs/proc-fs';
import { isDenied, isVanished } from '../procfs/proc-fs';
import { readSocketTable, SOCKET_PROTOCOLS, TCP_STATES, isTcp, type NetSocket } from '../procfs/net-sockets';
import { parseCmdline, readSocketInodesSync, stripDeleted } from '../procfs/pid-identity';
import { readPidStatSync } from '../procfs/pid-stat';
import { readExecutableIdentitySync } from '../procfs/pid-exe-file';
import { readPidCgroupSync } from '../procfs/pid-cgroup';
import { containerFromCgroups } from '../procfs/cgroup-container';
import type { ExclusionList } from './exclusion';
import { readThroughMembers, type NetNamespace, type NetNamespaces } from './netns';

export type PortProtocol = 'tcp' | 'udp';

/** Identity of the process that owns a port. */
export interface ProcessRef {
  pid: number;
  /** starttime in ticks since boot: with pid, the process identity (pids are reused). */
  startTicks: number;
  processName: string;
  exePath: string;
}

export interface ListeningPort extends ProcessRef {
  protocol: PortProtocol;
  port: number;
  /** Local addresses the port is bound on (`0.0.0.0`, `::`, `127.0.0.1`, ...), unique. */
  addresses: string[];
  /** Socket inodes behind this port (one per address family, more with SO_REUSEPORT). */
  inodes: number[];
  /** Labels beyond the contract's, part of the series identity (container_id, pod_uid); only outside the host namespace. */
  identityLabels?: Record<string, string>;
  /** The network namespace, when it is not the host's. */
  netns?: NetnsRef;
}

/** A port's network namespace, when not the host's. */
export interface NetnsRef {
  /** The namespace key (netns.ts). */
  key: number;
  /** The nsfs inode, for display and the `netns-<inode>` fallback id. */
  inode: number;
}

export interface ExcludedPort {
  protocol: PortProtocol;
  port: number;
  processName: string;
  pid: number;
  /** The exclusion entry that matched, or "self" for the daemon's own sockets. */
  reason: string;
}

export interface DiscoveryResult {
  ports: ListeningPort[];
  excluded: ExcludedPort[];
  /** Listening sockets whose owner could not be found (permissions, hidepid, kernel sockets). */
  unowned: number;
  /** pids whose fd table could not be read (EACCES). Non-zero means we ran without enough privilege. */
  deniedPids: number;
}

/** Key of a port in the pool: protocol and number, and the namespace key outside the host's. */
export function portKey(p: { protocol: PortProtocol; port: number; netns?: { key: number } }): string {
  return p.netns ? `${p.protocol}/${p.port}@${p.netns.key}` : `${p.protocol}/${p.port}`;
}

/**
 * The listening sockets of one namespace (by default the one `<procfs>/net`
 * shows), grouped by portKey. Cheap: four file reads.
 */
export async function readListeningSockets(fs: ProcFs, dir = 'net', netns?: NetnsRef): Promise<Map<string, NetSocket[]>> {
  const tables: NetSocket[][] = [];
  for (const p of SOCKET_PROTOCOLS) tables.push(await readSocketTable(fs, p, 'listening', dir));
  const byPort = new Map<string, NetSocket[]>();
  for (const table of tables) {
    for (const s of table) {
      // the fast path already skipped most; this is the exact rule
      if (isTcp(s.protocol) ? s.state !== TCP_STATES.LISTEN : s.remotePort !== 0) continue;
      const key = portKey({ protocol: isTcp(s.protocol) ? 'tcp' : 'udp', port: s.localPort, netns });
      let list = byPort.get(key);
      if (!list) byPort.set(key, (list = []));
      list.push(s);
    }
  }
  return byPort;
}

export function netnsRef(ns: NetNamespace): NetnsRef | undefined {
  return ns.host ? undefined : { key: ns.key, inode: ns.inode };
}

/** Listening sockets of every namespace, grouped by portKey, with each non-host key's namespace. */
export interface AllSockets {
  sockets: Map<string, NetSocket[]>;
  nsOf: Map<string, NetnsRef>;
}

/** One read of the four tables per namespace: the cost grows with namespaces, not processes. */
export async function readAllListeningSockets(fs: ProcFs, namespaces: NetNamespaces): Promise<AllSockets> {
  const sockets = new Map<string, NetSocket[]>();
  const nsOf = new Map<string, NetnsRef>();
  for (const ns of namespaces.byKey.values()) {
    const ref = netnsRef(ns);
    let found: Map<string, NetSocket[]> | undefined;
    try {
      found = await readThroughMembers(fs, ns, (dir) => readListeningSockets(fs, dir, ref));
    } catch (err) {
      // the host's tables fail discovery as before; one odd namespace must not hide all the others
      if (!ref) throw err;
    }
    if (!found) continue;
    for (const [key, list] of found) {
      sockets.set(key, list);
      if (ref) nsOf.set(key, ref);
    }
  }
  return { sockets, nsOf };
}

/**
 * The extra labels of a port outside the host namespace: the owner's
 * container id from its cgroup, else `netns-<inode>`; the pod uid under a
 * Kubernetes pod cgroup.
 */
export function namespaceLabels(fs: ProcFs, pid: number, ns: NetnsRef): Record<string, string> {
  let id: ReturnType<typeof containerFromCgroups> = {};
  try {
    id = containerFromCgroups(readPidCgroupSync(fs, pid));
  } catch {
    // exited or unreadable: the namespace still tells the series apart
  }
  const labels: Record<string, string> = { container_id: id.containerId ?? `netns-${ns.inode}` };
  if (id.podUid) labels.pod_uid = id.podUid;
  return labels;
}

/** How many pids to scan synchronously before letting the event loop serve a scrape. */
const SCAN_BATCH = 32;

/**
 * Walks every pid's fd table once and returns, for each wanted inode, the
 * lowest pid holding it. Synchronous syscalls in small batches: this is the
 * expensive part of discovery (one readlink per open fd on the host) and libuv
 * round trips would triple its cost; yielding between batches keeps /metrics
 * responsive while it runs.
 */
export async function findSocketOwners(
  fs: ProcFs,
  wanted: ReadonlySet<number>,
): Promise<{ owners: Map<number, number>; deniedPids: number }> {
  const owners = new Map<number, number>();
  let deniedPids = 0;
  if (wanted.size === 0) return { owners, deniedPids };
  const pids = await fs.listPids();
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i]!;
    try {
      for (const inode of readSocketInodesSync(fs, pid)) {
        if (wanted.has(inode) && !owners.has(inode)) owners.set(inode, pid);
      }
    } catch (err) {
      if (isDenied(err)) deniedPids++;
      else if (!isVanished(err)) throw err;
    }
    if (i % SCAN_BATCH === SCAN_BATCH - 1) await yieldToLoop();
  }
  return { owners, deniedPids };
}

/**
 * Reads a process's identity; undefined when it vanished, is unreadable or
 * its stat is malformed (counted by the caller as an unowned socket: one odd
 * process must not fail the discovery of all the others).
 */
export function readProcessRef(fs: ProcFs, pid: number): ProcessRef | undefined {
  // tiny files read synchronously: a libuv round trip costs more than the read itself
  let stat;
  let comm;
  try {
    stat = readPidStatSync(fs, pid);
    comm = fs.readSync(`${pid}/comm`).replace(/\n$/, '');
  } catch {
    return undefined;
  }
  let exePath: string;
  try {
    exePath = stripDeleted(fs.readLinkSync(`${pid}/exe`));
  } catch {
    // EACCES without CAP_SYS_PTRACE, ENOENT for a zombie: fall back to argv[0], then "unknown"
    let argv0: string | undefined;
    try {
      argv0 = parseCmdline(fs.readSync(`${pid}/cmdline`))[0];
    } catch {
      argv0 = undefined;
    }
    exePath = argv0 !== undefined && argv0 !== '' ? argv0 : 'unknown';
  }
  return { pid, startTicks: stat.startTicks, processName: comm, exePath };
}

/** Our own pid as seen in this procfs (differs from process.pid with a host /proc in a container). */
export async function selfPid(fs: ProcFs): Promise<number | undefined> {
  try {
    const n = Number(await fs.readLink('self'));
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves owners for the given socket groups and builds ListeningPorts.
 * `only` restricts the work to some keys (the cheap "new listeners" pass).
 */
export async function resolvePorts(
  fs: ProcFs,
  sockets: Map<string, NetSocket[]>,
  exclusion: ExclusionList,
  only?: ReadonlySet<string>,
  nsOf?: ReadonlyMap<string, NetnsRef>,
): Promise<DiscoveryResult> {
  const keys = [...sockets.keys()].filter((k) => !only || only.has(k));
  const wanted = new Set<number>();
  for (const k of keys) for (const s of sockets.get(k)!) if (s.inode > 0) wanted.add(s.inode);
  const { owners, deniedPids } = await findSocketOwners(fs, wanted);
  const self = await selfPid(fs);
  const refs = new Map<number, ProcessRef | undefined>();
  const result: DiscoveryResult = { ports: [], excluded: [], unowned: 0, deniedPids };

  for (const key of keys.sort()) {
    const group = sockets.get(key)!;
    const first = group[0]!;
    const protocol: PortProtocol = isTcp(first.protocol) ? 'tcp' : 'udp';
    let ownerPid: number | undefined;
    for (const s of group) {
      const pid = owners.get(s.inode);
      if (pid !== undefined && (ownerPid === undefined || pid < ownerPid)) ownerPid = pid;
    }
    if (ownerPid === undefined) {
      result.unowned++;
      continue;
    }
    if (!refs.has(ownerPid)) refs.set(ownerPid, readProcessRef(fs, ownerPid));
    const ref = refs.get(ownerPid);
    if (!ref) {
      result.unowned++;
      continue;
    }
    const pid = ownerPid;
    const reason = ownerPid === self ? 'self' : exclusion.match(ref.processName, () => readExecutableIdentitySync(fs, pid));
    if (reason !== undefined) {
      result.excluded.push({ protocol, port: first.localPort, processName: ref.processName, pid: ref.pid, reason });
      continue;
    }
    const netns = nsOf?.get(key);
    result.ports.push({
      ...ref,
      protocol,
      port: first.localPort,
      addresses: [...new Set(group.map((s) => s.localAddress))],
      inodes: [...new Set(group.map((s) => s.inode))],
      ...(netns ? { netns, identityLabels: namespaceLabels(fs, pid, netns) } : {}),
    });
  }
  return result;
}

/** Full discovery: every listening port of every network namespace with its process. */
export async function discoverPorts(fs: ProcFs, exclusion: ExclusionList, namespaces?: NetNamespaces): Promise<DiscoveryResult> {
  if (!namespaces) return resolvePorts(fs, await readListeningSockets(fs), exclusion);
  const all = await readAllListeningSockets(fs, namespaces);
  return resolvePorts(fs, all.sockets, exclusion, undefined, all.nsOf);
}

/**
 * The network namespaces of the host, found through the processes in them.
 *
 * Each pid's namespace is keyed by the inode of `<pid>/net/tcp` (see
 * procfs/pid-ns.ts: stat works without ptrace rights, where the `ns/net`
 * link can fail even for root). Cost: one readdir and one stat per pid.
 *
 * The host namespace is the one of pid 1 under --path.procfs: in a container
 * given the host's /proc, that is the host's and not the agent's. When pid
 * 1's tables cannot be stat'ed (a fixture tree, hidepid), the host namespace
 * is the one `<procfs>/net` shows, which is the agent's own; its tables are
 * then read through `net`, as a fixture tree provides them.
 *
 * Known gaps: a namespace no process is in (a socket handed to a process in
 * another namespace) has no `<pid>/net` to read, and is invisible.
 */
import type { ProcFs } from '../procfs/proc-fs';
import { isDenied, isVanished } from '../procfs/proc-fs';
import { parseNsLink, readNetNsKeySync, readNetNsSync } from '../procfs/pid-ns';

export interface NetNamespace {
  /** The namespace key (inode of its net/tcp entry). */
  key: number;
  /** The nsfs inode (`net:[N]`, what `lsns` and `ip netns identify` show); the key when the link is unreadable. */
  inode: number;
  host: boolean;
  /** Pids in the namespace, ascending; the first readable one stands for it. */
  pids: number[];
  /** Where its tables are read: `net` or `<pid>/net`. */
  dir: string;
}

export interface NetNamespaces {
  host: NetNamespace;
  /** Every namespace, the host's included, by key. */
  byKey: Map<number, NetNamespace>;
}

function tryKey(fs: ProcFs, dir: number | 'self' | ''): number | undefined {
  try {
    return readNetNsKeySync(fs, dir);
  } catch (err) {
    if (isVanished(err) || isDenied(err)) return undefined;
    throw err;
  }
}

function nsInode(fs: ProcFs, pids: readonly number[], fallback: number): number {
  for (const pid of pids.slice(0, 4)) {
    try {
      const n = parseNsLink(readNetNsSync(fs, pid));
      if (n !== undefined) return n;
    } catch {
      // EACCES without ptrace rights, or the pid exited: try the next
    }
  }
  return fallback;
}

/** Every network namespace with at least one visible process, and which one is the host's. */
export async function listNetNamespaces(fs: ProcFs): Promise<NetNamespaces> {
  const pids = await fs.listPids();
  const members = new Map<number, number[]>();
  let pid1Key: number | undefined;
  for (const pid of pids) {
    const key = tryKey(fs, pid);
    if (key === undefined) continue;
    if (pid === 1) pid1Key = key;
    let list = members.get(key);
    if (!list) members.set(key, (list = []));
    list.push(pid);
  }
  const hostKey = pid1Key ?? tryKey(fs, '') ?? 0;
  const byKey = new Map<number, NetNamespace>();
  for (const [key, list] of members) {
    const host = key === hostKey;
    byKey.set(key, { key, inode: nsInode(fs, list, key), host, pids: list, dir: host && pid1Key === undefined ? 'net' : `${list[0]}/net` });
  }
  let host = byKey.get(hostKey);
  if (!host) {
    host = { key: hostKey, inode: hostKey, host: true, pids: [], dir: 'net' };
    byKey.set(hostKey, host);
  }
  return { host, byKey };
}

/**
 * Runs `read` on the namespace's tables through its members in turn. A
 * member is used only while it is still in the namespace (a pid that exited
 * or was reused elsewhere hands over to the next): a missing table reads as
 * empty, so a stale pid would otherwise report every port gone. Undefined
 * when no member is left (the namespace went away: not an error).
 */
export async function readThroughMembers<T>(fs: ProcFs, ns: NetNamespace, read: (dir: string) => Promise<T>): Promise<T | undefined> {
  if (ns.dir === 'net') return read('net');
  for (const pid of ns.pids) {
    if (tryKey(fs, pid) !== ns.key) continue;
    return read(`${pid}/net`);
  }
  return undefined;
}

/**
 * The addresses of this host. Probes only ever connect to these: a port's
 * bound address comes from /proc, which in a container or a fixture could
 * name anything, and an agent must never be turned into a scanner of other
 * hosts.
 */
import * as os from 'node:os';
import * as net from 'node:net';

export class LocalAddresses {
  private readonly set: Set<string>;
  /** Non-loopback addresses, IPv4 first: the last resort of the probe order. */
  readonly interfaceAddresses: readonly string[];

  constructor(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()) {
    const all: os.NetworkInterfaceInfo[] = Object.values(interfaces).flatMap((list) => list ?? []);
    this.set = new Set(all.map((i) => i.address.toLowerCase()));
    this.interfaceAddresses = all
      .filter((i) => !i.internal && !(i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80')))
      .sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1))
      .map((i) => i.address);
  }

  /** True for loopback, the wildcards (which the kernel routes to this host) and interface addresses. */
  isLocal(address: string): boolean {
    const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
    if (net.isIPv4(a)) return a.startsWith('127.') || a === '0.0.0.0' || this.set.has(a);
    if (net.isIPv6(a)) return a === '::1' || a === '::' || this.set.has(a);
    return false;
  }
}

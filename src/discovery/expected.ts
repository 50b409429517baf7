/**
 * Expected ports (--expect.file): a port that must be listening has series
 * from the start, reading 0, until a matching listener is in the pool; then
 * its real series take over and the placeholder leaves. A placeholder never
 * leaves at a rebuild: when the rebuild forgets the real entry (its listener
 * is gone), the placeholder comes back.
 *
 * A listener matches when protocol, port and process name are the expected
 * ones, and the executable too when the file names one. With no exe_path in
 * the file the placeholder is labelled `exe_path=""` until a matching
 * listener has been seen, and with the discovered path afterwards, so the
 * series that comes back after the service is gone is the one that left.
 *
 * The placeholders live beside the pool, not in it: the pool holds what
 * listens (one entry per port, whoever owns it); another process on an
 * expected port does not make the expected service present.
 */
import type { ExpectedPort } from '../config/expect-file';
import type { PortEntry, PortPool } from './port-pool';

export interface Placeholder {
  protocol: 'tcp' | 'udp';
  port: number;
  processName: string;
  exePath: string;
}

export class ExpectedPorts {
  private expected: readonly ExpectedPort[] = [];
  /** exe_path learned from a matching listener, for entries without one (key protocol/port). */
  private readonly learned = new Map<string, string>();
  private cached: { generation: number; version: number; list: Placeholder[] } | undefined;
  /** Bumped when the expectations or a learned path change (exports cache on it with the pool's generation). */
  version = 0;

  set(ports: readonly ExpectedPort[]): void {
    this.expected = ports;
    this.version++;
  }

  private static matches(x: ExpectedPort, e: PortEntry | undefined): e is PortEntry {
    // a remembered port (from the state file) with this identity already reads 0 under the same labels
    return e !== undefined && e.processName === x.processName && (x.exePath === undefined || e.exePath === x.exePath);
  }

  /** After each discovery pass: records the executable of matching listeners for entries without exe_path. */
  observe(pool: PortPool): void {
    for (const x of this.expected) {
      if (x.exePath !== undefined) continue;
      const e = pool.get(x.protocol, x.port);
      const key = `${x.protocol}/${x.port}`;
      if (ExpectedPorts.matches(x, e) && this.learned.get(key) !== e.exePath) {
        this.learned.set(key, e.exePath);
        this.version++;
      }
    }
  }

  /** The expected ports with no matching listener in the pool now. */
  placeholders(pool: PortPool): Placeholder[] {
    if (this.cached?.generation === pool.generation && this.cached.version === this.version) return this.cached.list;
    const list: Placeholder[] = [];
    for (const x of this.expected) {
      if (ExpectedPorts.matches(x, pool.get(x.protocol, x.port))) continue;
      list.push({ protocol: x.protocol, port: x.port, processName: x.processName, exePath: x.exePath ?? this.learned.get(`${x.protocol}/${x.port}`) ?? '' });
    }
    this.cached = { generation: pool.generation, version: this.version, list };
    return list;
  }
}

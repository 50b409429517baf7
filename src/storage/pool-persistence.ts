/**
 * Keeps the state file in step with the pool: read once at start (ports seen
 * less than PORT_LABEL_INTERVAL ago come back), written when the pool's
 * membership changes (at most every MIN_WRITE_INTERVAL_MS), rewritten now and
 * then while nothing changes so that `last_seen` stays fresh for the next
 * start after a crash, and written at shutdown.
 *
 * Only the pool's identities are stored (protocol, port, process name,
 * executable, extra identity labels, first and last seen), capped in number:
 * nothing that could grow without bound.
 */
import type { Logger } from '../log';
import type { PortEntry, PortPool } from '../discovery/port-pool';
import { serialize, type PoolFile, type StoredPort } from './pool-file';

/** A changed pool is written at most this often: a flapping service does not rewrite the file each second. */
export const MIN_WRITE_INTERVAL_MS = 2000;
/** Changes close together are written as one. */
const COALESCE_MS = 200;
/** Longest time between writes while the pool does not change (keeps last_seen fresh). */
const MAX_REFRESH_MS = 10 * 60_000;

function identityKey(p: { protocol: string; port: number; processName: string; exePath: string }, labels: Record<string, string> | undefined): string {
  return JSON.stringify([p.protocol, p.port, p.processName, p.exePath, Object.entries(labels ?? {}).sort()]);
}

/** A remembered port as a pool entry: no process, no socket (PortPool.remember). */
export function rememberedEntry(s: StoredPort): PortEntry {
  return {
    protocol: s.protocol,
    port: s.port,
    processName: s.processName,
    exePath: s.exePath,
    pid: 0,
    startTicks: 0,
    addresses: [],
    inodes: [],
    ...(Object.keys(s.labels).length > 0 ? { identityLabels: s.labels } : {}),
  };
}

export class PoolPersistence {
  /** first_seen of every identity seen since start or read from the file. */
  private readonly firstSeen = new Map<string, number>();
  /** last_seen of the remembered ports, kept while they are not seen again. */
  private readonly lastSeenStored = new Map<string, number>();
  private writtenSignature: string | undefined;
  private lastWriteAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;
  private stopped = false;
  private readonly refreshMs: number;

  constructor(
    readonly file: PoolFile,
    private readonly pool: PortPool,
    private readonly log: Logger,
    portLabelIntervalMs: number,
  ) {
    this.refreshMs = Math.min(MAX_REFRESH_MS, Math.max(MIN_WRITE_INTERVAL_MS, portLabelIntervalMs / 4));
  }

  /** Reads the file: the ports seen within `maxAgeMs`, as pool entries. Logs one line; never throws. */
  async restore(now: number, maxAgeMs: number): Promise<PortEntry[]> {
    const r = await this.file.load(now);
    if (r.kind === 'missing') {
      this.log.warn('no pool state file yet: starting with an empty pool', { file: this.file.file });
      return [];
    }
    if (r.kind === 'bad') {
      this.log.warn('pool state file unusable: moved aside, starting with an empty pool', {
        file: this.file.file,
        reason: r.reason,
        moved_to: r.movedTo ?? '(could not be moved)',
      });
      return [];
    }
    const young = r.ports.filter((p) => now - p.lastSeen < maxAgeMs && p.lastSeen <= now + maxAgeMs);
    for (const p of young) {
      const key = identityKey(p, p.labels);
      this.firstSeen.set(key, p.firstSeen);
      this.lastSeenStored.set(key, p.lastSeen);
    }
    this.log.info('pool state file read', { file: this.file.file, ports: r.ports.length, remembered: young.length });
    return young.map(rememberedEntry);
  }

  /** The pool as stored ports, now. */
  private snapshot(now: number): { ports: StoredPort[]; signature: string } {
    const ports: StoredPort[] = [];
    const keys: string[] = [];
    for (const e of this.pool.ports()) {
      const key = identityKey(e, e.identityLabels);
      keys.push(key);
      let firstSeen = this.firstSeen.get(key);
      if (firstSeen === undefined) this.firstSeen.set(key, (firstSeen = now));
      const lastSeen = e.remembered ? (this.lastSeenStored.get(key) ?? now) : now;
      if (!e.remembered) this.lastSeenStored.delete(key);
      ports.push({ protocol: e.protocol, port: e.port, processName: e.processName, exePath: e.exePath, labels: e.identityLabels ?? {}, firstSeen, lastSeen });
    }
    return { ports, signature: keys.sort().join('\n') };
  }

  /**
   * Called after each discovery pass: schedules a write when the pool's
   * membership differs from the file's, or when the file is getting old.
   */
  changed(now = Date.now()): void {
    if (this.stopped || this.timer) return;
    const { signature } = this.snapshot(now);
    if (signature === this.writtenSignature && now - this.lastWriteAt < this.refreshMs) return;
    const delay = Math.max(COALESCE_MS, this.lastWriteAt + MIN_WRITE_INTERVAL_MS - now);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, delay);
    this.timer.unref();
  }

  /** Writes now (one write at a time). Failures are logged on a change of state, never thrown. */
  write(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const now = Date.now();
      const { ports, signature } = this.snapshot(now);
      try {
        await this.file.write(serialize(ports, now));
        this.writtenSignature = signature;
        this.lastWriteAt = now;
        if (this.failing) this.log.info('pool state file written again', { file: this.file.file });
        this.failing = false;
      } catch (err) {
        if (!this.failing) this.log.error('cannot write the pool state file', { file: this.file.file, err: err instanceof Error ? err.message : String(err) });
        this.failing = true;
        this.lastWriteAt = now; // retried after MIN_WRITE_INTERVAL_MS at the next change check, not in a loop
      }
    });
    return this.writing;
  }

  /** At shutdown: cancels the pending write and writes the pool as it is now. */
  async flush(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.write();
  }
}

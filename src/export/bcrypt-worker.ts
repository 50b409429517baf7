/**
 * bcrypt off the event loop. bcryptjs is plain JavaScript: one check at cost
 * 10 is ~100 ms of CPU, and its async API still runs in 100 ms slices on the
 * main thread, so a stream of wrong passwords would stall every scrape. One
 * worker thread, started on the first check that misses the cache, runs them
 * one at a time; if it cannot run, checks fall back to the main thread.
 */
import { Worker } from 'node:worker_threads';
import { bcryptjs } from '../util/lazy';

export class BcryptWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve(ok: boolean): void; reject(err: Error): void }>();
  private nextId = 0;
  private broken = false;

  compare(password: string, hash: string): Promise<boolean> {
    if (this.broken) return bcryptjs().compare(password, hash);
    const w = this.worker ?? this.start();
    if (!w) return bcryptjs().compare(password, hash);
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, password, hash });
      if (this.pending.size === 1) w.ref(); // keep the process up only while a check runs
    });
  }

  private start(): Worker | undefined {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const bcrypt = require(${JSON.stringify(require.resolve('bcryptjs'))});
      parentPort.on('message', ({ id, password, hash }) => {
        let ok = false;
        try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
        parentPort.postMessage({ id, ok });
      });`;
    try {
      const w = new Worker(code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32 } });
      w.unref();
      w.on('message', (m: { id: number; ok: boolean }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) w.unref();
        p?.resolve(m.ok);
      });
      const fail = (err: Error): void => {
        if (this.worker === w) this.worker = undefined;
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`bcrypt worker exited with ${code}`)));
      this.worker = w;
      return w;
    } catch {
      this.broken = true;
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/**
 * Runs an async task one at a time, with at most one run waiting: a call made
 * while a run is in progress queues a follow-up run (which starts after it and
 * so sees whatever changed meanwhile); calls made while that follow-up waits
 * join it. A storm of N requests costs at most two runs, not N overlapping
 * ones.
 */
export class Coalescer {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  run(): Promise<void> {
    if (!this.running) return this.start();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.task().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

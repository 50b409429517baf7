/**
 * Runs each background stage on its own period, one run at a time per stage
 * (a slow sweep is never overlapped by the next), recording duration and
 * success in SelfStats. A failing stage is logged on a change of state, not
 * every period, and never stops the others.
 */
import type { Logger } from './log';
import type { SelfStats, Stage } from './self-stats';
import { setLongTimeout, type LongTimer } from './util/long-timer';

export class StageRunner {
  private running: Promise<void> | undefined;
  private timer: LongTimer | undefined;
  private failing = false;
  private stopped = false;

  constructor(
    readonly stage: Stage,
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly stats: SelfStats,
    private readonly log: Logger,
  ) {}

  /** Runs now (joining a run in progress) and resolves when it is done. Never rejects. */
  run(): Promise<void> {
    if (this.running) return this.running;
    const started = process.hrtime.bigint();
    this.running = (async () => {
      try {
        await this.task();
        this.stats.recordStage(this.stage, Number(process.hrtime.bigint() - started) / 1e9, true);
        if (this.failing) this.log.info('stage recovered', { stage: this.stage });
        this.failing = false;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.stats.recordStage(this.stage, Number(process.hrtime.bigint() - started) / 1e9, false, message);
        if (!this.failing) this.log.error('stage failed', { stage: this.stage, err: message });
        this.failing = true;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /**
   * Starts the period; the first run happens after `delayMs` (default: one
   * period). Periods of 2^31 ms (~24.9 days) and more are legal (a monthly
   * rebuild is a reasonable choice): they are waited for as chained timers.
   */
  start(delayMs = this.intervalMs): void {
    const loop = (): void => {
      if (this.stopped) return;
      void this.run().then(() => {
        if (!this.stopped) this.timer = setLongTimeout(loop, this.intervalMs);
      });
    };
    this.timer = setLongTimeout(loop, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }
}

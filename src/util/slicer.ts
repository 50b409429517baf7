/**
 * Cooperative time slicing for long synchronous loops (building and
 * serializing tens of thousands of series): `maybeYield()` gives the event
 * loop a turn once `budgetMs` of work has passed since the last one, so
 * other requests and probe callbacks are served in between instead of
 * waiting for the whole loop.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export class Slicer {
  private last = performance.now();

  constructor(private readonly budgetMs = 8) {}

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.budgetMs) return;
    await yieldToLoop();
    this.last = performance.now();
  }
}

/**
 * setTimeout for delays of any length. Node keeps timer delays in a signed
 * 32-bit millisecond field: a delay of 2^31 ms (~24.9 days) or more is
 * replaced by 1 ms with a TimeoutOverflowWarning (see the setTimeout notes in
 * Node's timers documentation), which turned `PORT_STATUS_INTERVAL=25d` into
 * a probe sweep every millisecond. Here a long delay is waited for as a chain
 * of shorter timers against a monotonic deadline, so it fires once, late
 * rather than early, and never spins.
 */

/** The longest delay one Node timer honours: 2^31 - 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimer {
  cancel(): void;
}

export interface LongTimerOptions {
  /** Keep the event loop alive while waiting (default false: like an unref'ed timer). */
  ref?: boolean;
  /** Longest single hop of the chain; MAX_TIMER_MS unless a test wants to watch the chain work. */
  maxStepMs?: number;
}

/** Calls `fn` once after `delayMs` (any finite length), unless cancelled first. */
export function setLongTimeout(fn: () => void, delayMs: number, options: LongTimerOptions = {}): LongTimer {
  const step = Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(options.maxStepMs ?? MAX_TIMER_MS)));
  const delay = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs); // NaN would become a 1 ms timer
  // performance.now() is monotonic: a wall-clock jump neither fires the timer early nor delays it
  const deadline = performance.now() + delay;
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const hop = (ms: number): void => {
    timer = setTimeout(arm, ms);
    if (!options.ref) timer.unref();
  };
  const arm = (): void => {
    if (cancelled) return;
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      timer = undefined;
      fn();
      return;
    }
    // Node's loop clock can trail performance.now() by a fraction of a millisecond: a hop that
    // wakes just short of the deadline schedules one more (at least 1 ms), it never spins
    hop(Math.min(step, Math.ceil(remaining)));
  };
  // always asynchronous, even for a zero delay, like setTimeout
  hop(Math.min(step, Math.ceil(delay)));
  return {
    cancel(): void {
      cancelled = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Waiting in tests: a plain delay, and polling until something is true. */

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`
 * with `what` and the last error seen. A probe that throws is retried like one that returns
 * undefined: the thing waited for (a port, a log line) often fails before it is ready.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : last === undefined ? 'no result' : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${detail}`);
    }
    await sleep(everyMs);
  }
}

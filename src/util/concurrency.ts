/** Runs `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Resolves with the first `fn(item)` that returns a defined value, running at
 * most `limit` at once; undefined when none does. It resolves as soon as a
 * winner is known: later work is not started, and `signal` is aborted so that
 * work in flight can stop (a connect to another address need not run to its
 * timeout once one has succeeded).
 */
export function firstDefined<T, R>(items: readonly T[], limit: number, fn: (item: T, signal: AbortSignal) => Promise<R | undefined>): Promise<R | undefined> {
  const abort = new AbortController();
  return new Promise((resolve, reject) => {
    let found = false;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!found && next < items.length) {
        const r = await fn(items[next++]!, abort.signal);
        if (r !== undefined && !found) {
          found = true;
          abort.abort();
          resolve(r);
        }
      }
    };
    Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker)).then(() => resolve(undefined), reject);
  });
}

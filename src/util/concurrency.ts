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
 * most `limit` at once; undefined when none does. Later work is not started
 * once a winner is known.
 */
export async function firstDefined<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R | undefined>): Promise<R | undefined> {
  let found: R | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (found === undefined && next < items.length) {
      const r = await fn(items[next++]!);
      if (r !== undefined && found === undefined) found = r;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return found;
}

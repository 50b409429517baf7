/**
 * `fn`, run at most once every `intervalMs`: a call within the interval of
 * the last run is skipped (not deferred). The first call always runs.
 */
export function atMostEvery(intervalMs: number, fn: () => void, now: () => number = () => performance.now()): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < intervalMs) return;
    last = t;
    fn();
  };
}

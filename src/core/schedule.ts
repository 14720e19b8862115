/**
 * Time as an argument: the logic that decides *when* (lane, coalesce, scheduler, watcher) takes a
 * Clock, so it is tested with a manual one and never sleeps. The real one is src/clock.ts.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. Timers never keep the process alive. */
  after(ms: number, fn: () => void): () => void;
}

/** Exponential backoff with full jitter (AWS architecture blog), bounded by [minMs, maxMs]. */
export function backoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(minMs + (ceiling - minMs) * random());
}

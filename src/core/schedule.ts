/**
 * The only place that owns real timers, so the logic that decides *when* (lane, coalesce) takes
 * time as an argument and can be tested without sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. Timers never keep the process alive. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Exponential backoff with full jitter (AWS architecture blog), bounded by [minMs, maxMs]. */
export function backoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(minMs + (ceiling - minMs) * random());
}

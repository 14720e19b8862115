/**
 * Summary statistics of one measurement. Pure.
 *
 * p95 is the nearest-rank percentile (the smallest sample with at least 95 % of the samples at or
 * below it): with fewer than 20 samples it is the maximum, which the table shows honestly rather than
 * interpolating a value nobody measured.
 */
export interface Summary {
  n: number;
  median: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { n: 0, median: NaN, p95: NaN, mean: NaN, min: NaN, max: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return {
    n,
    median,
    p95: percentile(s, 0.95),
    mean: s.reduce((a, b) => a + b, 0) / n,
    min: s[0]!,
    max: s[n - 1]!,
  };
}

/** Nearest-rank percentile of an ascending, non-empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Rounds to 0.01 ms for the JSON: the clocks are not finer than that in any useful sense. */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

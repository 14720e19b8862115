/**
 * How long a backlog waits for quiet before its batch starts. Pure.
 *
 * One change (a save) waits only the configured `quietMs`, so its latency is untouched. A burst
 * (a copy, an unpacked archive, a checkout) arrives as a stream of changes whose writer now and
 * then stalls for tens of milliseconds on a busy machine, and @parcel/watcher itself delivers in
 * chunks at least 50 ms apart (docs/internals.md, "Debounce"): with a 10 ms window every such gap
 * started a batch, and the rest of the burst then waited for it to finish (bench/README.md,
 * "Bursts and seeds"). Once a window has seen BURST_PATHS changes it waits BURST_QUIET_MS of quiet
 * instead, so the burst goes as one batch; `maxWaitMs` still bounds the wait from the first change.
 */

/** Changes within one window from which it is taken for a burst (as watch/sweep.ts does). */
export const BURST_PATHS = 32;
/** The quiet a burst waits for: @parcel/watcher's shortest gap between two deliveries. */
export const BURST_QUIET_MS = 50;

/** `arrivals`: changes added since the backlog's window opened (before any folding). */
export function quietWindowMs(arrivals: number, quietMs: number): number {
  return arrivals >= BURST_PATHS ? Math.max(quietMs, BURST_QUIET_MS) : quietMs;
}

/** Settings and small helpers shared by the scenarios. */
import type { Mirror } from '../../src/index.js';
import type { ScenarioContext } from '../lib/types.js';

/**
 * Time from one round's write to the next. ≥ 600 ms: @parcel/watcher delivers the first event after
 * ≥ 500 ms of quiet at once (≈ 1.6 ms), later ones in batches every 50–500 ms (field-notes.md).
 */
export const ROUND_GAP_MS = 650;
/**
 * @parcel/watcher counts its idle time from its last *delivery* (Debounce.cc: MAX_WAIT_TIME 500 ms), so a
 * round also starts at least this long after the Mirror last had anything to do.
 */
export const WATCHER_IDLE_MS = 600;
/** A change not visible after this long is a failure, not a sample. */
export const VISIBLE_DEADLINE_MS = 10_000;
/** Any single rsync run. */
export const RUN_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 15_000;

/** Collects the Mirror's 'problem' and 'error' events (a benchmark with problems is suspect). */
export function problemLog(mirror: Mirror): string[] {
  const out: string[] = [];
  mirror.on('problem', (p) => out.push(`${p.replica}: ${p.code}: ${p.message}`));
  mirror.on('error', (e) => out.push(`error: ${e.code}: ${e.message}`));
  return out;
}

/** close() bounded in time; a failure to close is logged, never hides the scenario's own error. */
export async function closeQuietly(mirror: Mirror | undefined, ctx: ScenarioContext): Promise<void> {
  if (mirror === undefined) return;
  try {
    await withDeadline(mirror.close(), CLOSE_TIMEOUT_MS, 'Mirror.close()');
  } catch (err) {
    ctx.log(`warning: ${(err as Error).message}`);
  }
}

/** {1: 29, 2: 1}: how many rounds had that many batches. */
export function countValues(xs: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** `p`, or a rejection after `ms` or on abort (the promise itself is left to settle on its own). */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
        onAbort = () => reject(new Error(`aborted while waiting for ${what}`));
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}

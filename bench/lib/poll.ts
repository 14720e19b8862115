/**
 * "Is the file there yet, with the right content?" — polled, bounded, on several targets at once.
 *
 * The poll period is one timer tick (setTimeout 1 ms, ≈ 1.1 ms in practice), not setImmediate: a
 * spinning loop would take one of the machine's few cores away from rsync, sshd and the Mirror, whose
 * ssh2 bridge shares this event loop. The resolution of a measurement is therefore ≈ 1 ms.
 */
import { writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** True when `file` exists with exactly `content` (stat first: cheaper than reading a missing file). */
export async function hasContent(file: string, content: Buffer): Promise<boolean> {
  try {
    const st = await stat(file);
    if (st.size !== content.length) return false;
    return (await readFile(file)).equals(content);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Resolves with, for each file, the ms from `t0` (performance.now()) to the first poll that found it
 * complete. Rejects past `deadlineMs` after t0 or when `signal` aborts.
 */
export async function waitVisible(files: readonly string[], content: Buffer, t0: number, deadlineMs: number, signal: AbortSignal): Promise<number[]> {
  const found: (number | undefined)[] = files.map(() => undefined);
  const deadline = t0 + deadlineMs;
  // The deadline bounds the loop; the poll cap guards against a clock that does not move.
  const maxPolls = Math.ceil(deadlineMs) + 100;
  for (let poll = 0; poll < maxPolls; poll++) {
    await Promise.all(
      files.map(async (file, i) => {
        if (found[i] === undefined && (await hasContent(file, content))) found[i] = performance.now() - t0;
      }),
    );
    if (found.every((x) => x !== undefined)) return found as number[];
    if (signal.aborted) throw new Error('aborted');
    if (performance.now() >= deadline) break;
    await delay(1);
  }
  const missing = files.filter((_, i) => found[i] === undefined);
  throw new Error(`not visible within ${deadlineMs} ms: ${missing.join(', ')}`);
}

/** Sleeps until performance.now() ≥ `t` (at most `capMs`), waking early on abort. */
export async function sleepUntil(t: number, signal: AbortSignal, capMs = 5_000): Promise<void> {
  const ms = Math.min(capMs, t - performance.now());
  if (ms <= 0) return;
  await delay(ms, undefined, { signal }).catch(() => {});
}

/** Bounded wait for a condition checked every `intervalMs`. */
export async function waitUntil(cond: () => boolean, deadlineMs: number, what: string, signal: AbortSignal, intervalMs = 2): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  const maxPolls = Math.ceil(deadlineMs / intervalMs) + 100;
  for (let i = 0; i < maxPolls; i++) {
    if (cond()) return;
    if (signal.aborted) throw new Error(`aborted while waiting for ${what}`);
    if (performance.now() >= deadline) break;
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}

/** `bytes` bytes: the label, padded; every write's content is unique. */
export function streamContent(label: string, bytes: number): Buffer {
  const head = `${label} ${process.hrtime.bigint()} `;
  return Buffer.from(`${head.padEnd(bytes - 1, 'x').slice(0, bytes - 1)}\n`);
}

/**
 * The write stream of the latency scenarios: `count` new files `w-NNNN.txt` of `bytes` bytes in
 * `source`, one every `intervalMs` (from 20 ms on), each handed to `wrote` with the time just before
 * its write. Stops early on abort or once `stop()` says so; returns how many were written.
 */
export async function writeStream(
  s: { source: string; count: number; intervalMs: number; bytes: number; signal: AbortSignal },
  stop: () => boolean,
  wrote: (name: string, content: Buffer, t0: number) => void,
): Promise<number> {
  const start = performance.now() + 20;
  let writes = 0;
  for (let k = 0; k < s.count && !stop(); k++) {
    await sleepUntil(start + k * s.intervalMs, s.signal);
    if (s.signal.aborted) break;
    const name = `w-${String(k).padStart(4, '0')}.txt`;
    const content = streamContent(`write ${k}`, s.bytes);
    const t0 = performance.now();
    writeFileSync(join(s.source, name), content);
    wrote(name, content, t0);
    writes++;
  }
  return writes;
}

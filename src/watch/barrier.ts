/**
 * "Every event the kernel queued before now has been delivered", for flush() and the health check.
 * A marker file written in a private directory, watched through the same inotify instance and reader
 * thread as the root (subscription.ts subscribes it), arrives after every earlier event of the root.
 * A marker that does not come back in time is reported as such (false), never taken as arrived: the
 * caller then replaces the watcher.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/schedule.js';
import { markerFileName, markerIn, type WatchEvent } from './events.js';

export const BARRIER_TIMEOUT_MS = 3000;

export class Barrier {
  /** The directory the markers are written in (and subscribed). */
  readonly dir: string;
  readonly #clock: Clock;
  readonly #closed: () => boolean;
  readonly #timeoutMs: number;
  readonly #waiters = new Map<string, () => void>();
  #count = 0;

  /** `closed`: once the watcher is closing, a marker that did not come back no longer matters. */
  constructor(dir: string, clock: Clock, closed: () => boolean, timeoutMs = BARRIER_TIMEOUT_MS) {
    this.dir = dir;
    this.#clock = clock;
    this.#closed = closed;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Two markers, one after the other: the first proves the reader thread passed our point; the
   * second, sent after the first came back, proves the delivery round that carried the root's
   * events has completed.
   */
  async roundTrip(): Promise<boolean> {
    return (await this.marker()) && (await this.marker());
  }

  /** Writes one marker and waits for its event; false when it did not come back in time. */
  async marker(): Promise<boolean> {
    const name = markerFileName(++this.#count);
    const file = join(this.dir, name);
    const arrived = await new Promise<boolean>((resolve) => {
      const cancel = this.#clock.after(this.#timeoutMs, () => done(false));
      const done = (ok: boolean) => {
        cancel();
        this.#waiters.delete(name);
        resolve(ok);
      };
      this.#waiters.set(name, () => done(true));
      writeFile(file, '').catch(() => done(false));
    });
    await rm(file, { force: true });
    return arrived || this.#closed();
  }

  /** One delivery of the barrier directory's subscription. */
  deliver(events: readonly WatchEvent[]): void {
    for (const e of events) {
      const name = markerIn(this.dir, e.path);
      if (name !== undefined) this.#waiters.get(name)?.();
    }
  }

  /** The watcher is closing: every marker still awaited counts as arrived. */
  release(): void {
    for (const resolve of [...this.#waiters.values()]) resolve();
  }
}

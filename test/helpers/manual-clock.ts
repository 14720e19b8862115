/**
 * A clock that moves only when the test says so (the Clock of src/core/schedule.ts), so logic that
 * decides *when* is tested without sleeping.
 */
import type { Clock } from '../../src/core/schedule.js';

/** Lets every promise chain that is already resolvable run to its end; no timers involved. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/** A clock that moves only when the test says so, firing due timers in time order. */
export class ManualClock implements Clock {
  #now = 0;
  #order = 0;
  #timers: Array<{ at: number; order: number; fn: () => void }> = [];

  now(): number {
    return this.#now;
  }

  /** Timers armed and not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), order: this.#order++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, running each due timer at its own time, then flushes microtasks. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (next === undefined || next.at > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.fn();
      await flushMicrotasks();
    }
    this.#now = end;
    await flushMicrotasks();
  }
}

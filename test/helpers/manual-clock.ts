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

  /** Delays of the timers waiting now, from now, soonest first. */
  get delays(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running each due timer at its own time, then flushes microtasks. */
  async advance(ms: number): Promise<void> {
    await this.#advance(ms, flushMicrotasks);
  }

  /** The same without flushing microtasks between timers: for code that the test drives step by step. */
  advanceNow(ms: number): void {
    void this.#advance(ms, undefined);
  }

  #advance(ms: number, between: (() => Promise<void>) | undefined): Promise<void> | undefined {
    const end = this.#now + ms;
    const step = (guard: number): Promise<void> | undefined => {
      if (guard >= 10_000) throw new Error('ManualClock: more than 10,000 timers in one advance');
      const next = [...this.#timers].sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (next === undefined || next.at > end) {
        this.#now = end;
        return between?.();
      }
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.fn();
      return between === undefined ? step(guard + 1) : between().then(() => step(guard + 1));
    };
    return step(0);
  }
}

import type { Clock } from '../../src/core/schedule.js';

/** A clock that moves only when the test says so; due timers run in time order. */
export class ManualClock implements Clock {
  #now = 0;
  #order = 0;
  #timers: Array<{ at: number; order: number; fn: () => void }> = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), order: this.#order++, fn };
    this.#timers.push(timer);
    return () => void (this.#timers = this.#timers.filter((t) => t !== timer));
  }

  /** Delays of the timers waiting now, from now, soonest first. */
  get pending(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running each due timer at its own time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const next = [...this.#timers].sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (next === undefined || next.at > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}

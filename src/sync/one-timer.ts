/**
 * A lane's one timer (its next batch, or its retry): armed for a time, replaced by a later arming
 * only when told to (`earliest` keeps the sooner of the two), and cleared before it fires its callback.
 */
import type { Clock } from '../core/schedule.js';

export class OneTimer {
  readonly #clock: Clock;
  #cancel: (() => void) | undefined;
  #at: number | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `fn` at `at` (clock time). With `earliest`, a timer already due sooner is kept instead. */
  arm(at: number, fn: () => void, opts: { earliest?: boolean } = {}): void {
    if (opts.earliest === true && this.#at !== undefined && this.#at <= at) return;
    this.#cancel?.();
    this.#at = at;
    this.#cancel = this.#clock.after(at - this.#clock.now(), () => {
      this.#at = undefined;
      this.#cancel = undefined;
      fn();
    });
  }

  cancel(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#at = undefined;
  }
}

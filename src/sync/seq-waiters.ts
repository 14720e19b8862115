/**
 * The callers of a lane's confirmed(seq): each waits until every change up to its seq is on the
 * replica, or (with `healthyOnly`) until the lane is down, or until it has failed for good.
 */
import type { MirrorError } from '../errors.js';

interface Waiter {
  seq: number;
  /** Settle with `false` as soon as the lane is down or failed, instead of waiting or rejecting. */
  healthyOnly: boolean;
  resolve(confirmed: boolean): void;
  reject(err: MirrorError): void;
}

export class SeqWaiters {
  #waiters: Waiter[] = [];

  wait(seq: number, healthyOnly: boolean): Promise<boolean> {
    return new Promise((resolve, reject) => this.#waiters.push({ seq, healthyOnly, resolve, reject }));
  }

  /** `outstandingFrom`: the oldest seq not yet on the replica; `failed`: the error of a failed lane. */
  settle(outstandingFrom: number | undefined, healthy: boolean, failed: MirrorError | undefined): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (outstandingFrom === undefined || outstandingFrom > w.seq) w.resolve(true);
      else if (w.healthyOnly && !healthy) w.resolve(false);
      else if (failed !== undefined) w.reject(failed);
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  rejectAll(err: MirrorError): void {
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}

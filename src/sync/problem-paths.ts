/**
 * A lane's problem paths: the ones rsync named as failed (permissions, a name too long on the
 * replica, …), each with the seq it was dirtied at. They are retried in a batch of their own and hold
 * the durable watermark below the oldest of them, so a restart sends them again.
 */
import type { Batch } from '../core/coalesce.js';

export class ProblemPaths {
  readonly #seqs = new Map<string, number>();

  get size(): number {
    return this.#seqs.size;
  }

  /** Oldest first. */
  list(): string[] {
    return [...this.#seqs].sort((a, b) => a[1] - b[1]).map(([p]) => p);
  }

  /** The paths of a batch that went through are settled (those rsync named are noted again after). */
  settle(batch: Batch): void {
    for (const [p] of batch.entries) this.#seqs.delete(p);
  }

  /** `paths` failed in `batch`: each keeps its seq there, or the batch's oldest, or `fallbackSeq`. */
  note(batch: Batch, paths: readonly string[], fallbackSeq: number): void {
    const seqs = new Map(batch.entries);
    const oldest = minSeq(batch) ?? fallbackSeq;
    for (const p of paths) this.#seqs.set(p, seqs.get(p) ?? oldest);
  }

  asBatch(): Batch {
    return { entries: [...this.#seqs], fullSeq: undefined };
  }

  /** The watermark: every change up to `covered` is on the replica, but never past a problem. */
  cap(covered: number): number {
    let oldest = Infinity;
    for (const seq of this.#seqs.values()) if (seq < oldest) oldest = seq;
    return Math.min(covered, oldest - 1);
  }
}

export function minSeq(batch: Batch): number | undefined {
  let min = batch.fullSeq;
  for (const [, seq] of batch.entries) if (min === undefined || seq < min) min = seq;
  return min;
}

/**
 * One replica's backlog of dirty paths. Pure: time and sequence numbers are arguments.
 *
 * Invariant (docs/internals.md, invariant 1): events are hints and rsync is the truth, so the backlog keeps only the
 * *set* of dirty root-relative paths; what happens to each (send, recurse, delete) is decided from
 * the file system at plan time. Event kinds therefore need no fold table: create, update and delete
 * of one path all fold to "dirty".
 *
 * Invariant #2 (nothing is lost): `take()` hands out a batch and forgets it; the caller either
 * confirms it (success) or `restore()`s it. Paths dirtied meanwhile were added anew and stay.
 *
 * Each path remembers the lowest sequence number it was dirtied at and not yet confirmed, so
 * `flush()` can wait for "every change seen before the call" without waiting for later ones.
 *
 * Bounded: more than `maxPerDir` dirty children of one directory fold into that directory (a
 * recursive sync of it), and more than `maxPaths` in all fold into one full pass of the root.
 */
import { parentOf } from './paths.js';
import { quietWindowMs } from './burst.js';

export interface PendingLimits {
  maxPerDir: number;
  maxPaths: number;
}

export const DEFAULT_LIMITS: PendingLimits = { maxPerDir: 1000, maxPaths: 50_000 };

export interface Batch {
  /** [path, seq] pairs; empty when `full` covers everything. */
  entries: Array<[string, number]>;
  /** Seq of the full-pass request this batch carries, or undefined. */
  fullSeq: number | undefined;
}

export class Pending {
  readonly #limits: PendingLimits;
  readonly #paths = new Map<string, number>();
  readonly #perDir = new Map<string, number>();
  #fullSeq: number | undefined;
  #firstAt: number | undefined;
  #lastAt: number | undefined;
  /** Paths added since the window opened, counted before folding: what tells a burst (core/burst.ts). */
  #arrivals = 0;

  constructor(limits: PendingLimits = DEFAULT_LIMITS) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#paths.size + (this.#fullSeq === undefined ? 0 : 1);
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** When the oldest change now waiting here arrived (undefined when empty). */
  get firstAt(): number | undefined {
    return this.#firstAt;
  }

  get hasFull(): boolean {
    return this.#fullSeq !== undefined;
  }

  /** Lowest seq still waiting here, or undefined when empty. */
  get oldestSeq(): number | undefined {
    let oldest = this.#fullSeq;
    for (const seq of this.#paths.values()) if (oldest === undefined || seq < oldest) oldest = seq;
    return oldest;
  }

  add(paths: Iterable<string>, seq: number, now: number): void {
    let added = false;
    for (const p of paths) {
      if (p === '') this.addFull(seq, now);
      else this.#addPath(p, seq);
      added = true;
      this.#arrivals++;
    }
    if (added) this.#touch(now);
  }

  addFull(seq: number, now: number): void {
    if (this.#fullSeq === undefined || seq < this.#fullSeq) this.#fullSeq = seq;
    this.#touch(now);
  }

  /** When the batch should start: quiet for `quietMs` (longer in a burst: core/burst.ts), but never later than `maxWaitMs` after the first change. */
  dueAt(quietMs: number, maxWaitMs: number): number | undefined {
    if (this.isEmpty || this.#firstAt === undefined || this.#lastAt === undefined) return undefined;
    return Math.min(this.#lastAt + quietWindowMs(this.#arrivals, quietMs), this.#firstAt + maxWaitMs);
  }

  take(): Batch | undefined {
    if (this.isEmpty) return undefined;
    const fullSeq = this.#fullSeq;
    const entries = [...this.#paths.entries()];
    this.#paths.clear();
    this.#perDir.clear();
    this.#fullSeq = undefined;
    this.#firstAt = undefined;
    this.#lastAt = undefined;
    this.#arrivals = 0;
    return { entries, fullSeq };
  }

  /** Puts a failed batch back, keeping for each path the lower (older) seq. */
  restore(batch: Batch, now: number): void {
    if (batch.fullSeq !== undefined) this.addFull(batch.fullSeq, now);
    for (const [p, seq] of batch.entries) this.#addPath(p, seq);
    if (batch.entries.length > 0) this.#touch(now);
  }

  #addPath(p: string, seq: number): void {
    const known = this.#paths.get(p);
    if (known !== undefined) {
      if (seq < known) this.#paths.set(p, seq);
      return;
    }
    this.#paths.set(p, seq);
    const dir = parentOf(p);
    const count = (this.#perDir.get(dir) ?? 0) + 1;
    this.#perDir.set(dir, count);
    if (count > this.#limits.maxPerDir) this.#foldIntoDir(dir);
    else if (this.#paths.size > this.#limits.maxPaths) this.#foldIntoFull();
  }

  #foldIntoDir(dir: string): void {
    let oldest = Infinity;
    for (const [p, seq] of this.#paths) {
      if (parentOf(p) === dir) {
        this.#paths.delete(p);
        if (seq < oldest) oldest = seq;
      }
    }
    this.#perDir.delete(dir);
    if (dir === '') this.#fullSeq = Math.min(this.#fullSeq ?? Infinity, oldest);
    else this.#addPath(dir, oldest);
  }

  #foldIntoFull(): void {
    const oldest = this.oldestSeq ?? 0;
    this.#paths.clear();
    this.#perDir.clear();
    this.#fullSeq = oldest;
  }

  #touch(now: number): void {
    if (this.#firstAt === undefined) this.#firstAt = now;
    this.#lastAt = now;
  }
}

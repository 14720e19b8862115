/**
 * Recovers the changes @parcel/watcher folds away. Its event list drops a path that was created and
 * deleted within one delivery window (Event.hh: `isCreated && isDeleted` is skipped), and a rename
 * onto an existing file is a "create": so `mv d/g f; rm f` with `f` existing before reports only
 * `d/g` deleted, and `f` would stay on every replica. The watcher's in-memory
 * tree does follow every inotify event, folded or not, so a diff of a snapshot of that tree against
 * an earlier one (`writeSnapshot` / `getEventsSince` on the live subscription's path: no crawl, about
 * 0.1 s + 0.5 s per 200k entries) names them.
 *
 * A sweep runs after a delivery that carried a delete (a folded pair needs one, or a rename from
 * outside the tree), once a burst of creates has stopped (about one in ten bursts of 1,000 new files,
 * one create was never reported although the watcher's tree had it: docs/internals.md; mid-burst, a
 * sweep would report what is merely not delivered yet), before flush() answers, and now and then even when nothing was delivered
 * (`mv /tmp/x f; rm f` delivers nothing at all), spaced by its own measured cost. Paths whose last
 * delivered event already says what the diff says are not reported again.
 */
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Event } from '@parcel/watcher';
import createDebug from 'debug';
import type { WatchBackend } from './root-subscriber.js';

const debug = createDebug('fam-mirror:sweep');

/** Creates since the last sweep from which a burst is assumed, and a sweep wanted. */
const BURST_CREATES = 32;
/** Delivered paths remembered between sweeps; past it every diff entry is reported. */
const MAX_REMEMBERED = 100_000;

type Seen = 'exists' | 'gone';

interface Base {
  file: string;
  watchedRoot: string;
}

export class Sweep {
  readonly #backend: WatchBackend;
  readonly #dir: string;
  readonly #toRel: (watchedRoot: string, abs: string) => string | undefined;
  readonly #report: (paths: string[]) => void;
  #base: Base | undefined;
  #count = 0;
  #seen = new Map<string, Seen>();
  #overflow = false;
  #creates = 0;
  /** A delivery carried a delete since the last sweep. */
  wanted = false;
  /** At least BURST_CREATES creates were delivered since the last sweep: one is wanted once they stop. */
  burst = false;
  /** Duration of the last sweep, which spaces the next ones. */
  lastMs = 0;
  lastAt = 0;

  /** `dir`: a private directory for the snapshot files; `toRel`: an event path → root-relative, or undefined when excluded. */
  constructor(backend: WatchBackend, dir: string, toRel: (watchedRoot: string, abs: string) => string | undefined, report: (paths: string[]) => void) {
    this.#backend = backend;
    this.#dir = dir;
    this.#toRel = toRel;
    this.#report = report;
  }

  /** Paths to look at in the next sweep (tree-watcher.ts recheck()). */
  #recheck = new Set<string>();

  recheck(paths: readonly string[]): void {
    for (const p of paths) if (this.#recheck.size < MAX_REMEMBERED) this.#recheck.add(p);
    this.wanted = true;
  }

  /** One delivered event (root-relative). */
  note(rel: string, type: Event['type']): void {
    if (type === 'delete') this.wanted = true;
    else if (type === 'create' && ++this.#creates >= BURST_CREATES) this.burst = true;
    if (this.#overflow) return;
    this.#seen.set(rel, type === 'delete' ? 'gone' : 'exists');
    if (this.#seen.size > MAX_REMEMBERED) {
      this.#overflow = true;
      this.#seen.clear();
    }
  }

  /**
   * A new base on the live subscription of `watchedRoot`. On a swap of subscriptions the caller
   * runs the old base first, while the old subscription is still alive, so the swap loses nothing.
   */
  async rebase(watchedRoot: string): Promise<void> {
    const file = await this.#snapshot(watchedRoot);
    const old = this.#base;
    this.#base = { file, watchedRoot };
    if (old !== undefined) await rm(old.file, { force: true });
    this.#seen.clear();
    this.#overflow = false;
  }

  /** Diffs the base against the live tree, reports what deliveries did not say, and moves the base. */
  async run(): Promise<void> {
    const base = this.#base;
    if (base === undefined) return;
    const started = Date.now();
    this.wanted = false;
    this.burst = false;
    this.#creates = 0;
    const seen = this.#overflow ? undefined : this.#seen;
    this.#seen = new Map();
    this.#overflow = false;
    // The new base first: whatever changes after it is the next sweep's.
    const next = await this.#snapshot(base.watchedRoot);
    let events: Event[];
    try {
      events = await this.#backend.getEventsSince(base.watchedRoot, base.file, { backend: 'inotify' });
    } finally {
      this.#base = { file: next, watchedRoot: base.watchedRoot };
      await rm(base.file, { force: true });
    }
    const paths: string[] = [];
    const recheck = [...this.#recheck];
    this.#recheck.clear();
    for (const p of recheck) {
      if (!(await exists(join(base.watchedRoot, p)))) paths.push(p);
    }
    for (const e of events) {
      const rel = this.#toRel(base.watchedRoot, e.path);
      if (rel === undefined) continue;
      const now: Seen = e.type === 'delete' ? 'gone' : 'exists';
      if (seen?.get(rel) === now) continue;
      paths.push(rel);
    }
    this.lastMs = Date.now() - started;
    this.lastAt = Date.now();
    debug('sweep of %s: %d changes, %d not delivered (%d ms)', base.watchedRoot, events.length, paths.length, this.lastMs);
    if (paths.length > 0) this.#report(paths);
  }

  async close(): Promise<void> {
    if (this.#base !== undefined) await rm(this.#base.file, { force: true });
    this.#base = undefined;
  }

  async #snapshot(watchedRoot: string): Promise<string> {
    const file = join(this.#dir, `sweep-${++this.#count}`);
    await this.#backend.writeSnapshot(watchedRoot, file, { backend: 'inotify' });
    return file;
  }
}

async function exists(abs: string): Promise<boolean> {
  return await lstat(abs).then(
    () => true,
    () => false,
  );
}

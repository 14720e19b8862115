/**
 * Watches one root with @parcel/watcher (inotify) and reports root-relative POSIX paths: the public
 * face mirror.ts uses, composed of
 * - events.ts: one delivery → the paths to hand on, the directories to inspect (pure);
 * - subscription.ts: the subscriptions, their swaps, recovery and health check (failures of the
 *   watcher never end the process nor leave it blind); root-subscriber.ts: one subscription
 *   under a path string never used before;
 * - barrier.ts: "every event before now has been delivered", for flush();
 * - sweep.ts: the changes the watcher folds away; hot-dirs.ts: a low-latency side watch.
 *
 * Events are hints: rsync, reading the tree, is the truth. Backend 'inotify' is forced: with
 * watchman installed the default silently changes.
 */
import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parcelWatcher, { type Event } from '@parcel/watcher';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import type { PathFilter } from '../core/filter.js';
import type { Clock } from '../core/schedule.js';
import { realClock } from '../clock.js';
import { Barrier } from './barrier.js';
import { nameableAncestor, rootRelative, translateDelivery } from './events.js';
import { HotDirs } from './hot-dirs.js';
import { RootSubscriber, type WatchBackend } from './root-subscriber.js';
import { Subscriptions } from './subscription.js';
import { Sweep } from './sweep.js';
import { saveTreeSnapshot, treeChangesSince } from './tree-snapshot.js';

export type { WatchBackend } from './root-subscriber.js';

const debug = createDebug('fam-mirror:watch');

export interface WatchHandlers {
  onChanges(paths: string[]): void;
  onError(err: MirrorError): void;
}

export interface TreeWatcherOptions {
  /** Root-relative paths not to watch at all (literal anchored excludes). */
  ignore?: readonly string[];
  backend?: WatchBackend;
  /** How often the watcher's health (a marker round trip, the root's identity) is checked. */
  healthEveryMs?: number;
  /** Longest time between two sweeps (sweep.ts) when nothing asks for one. */
  sweepEveryMs?: number;
  /** Every timer of the watcher and its parts goes through this. */
  clock?: Clock;
}

const HEALTH_EVERY_MS = 5000;
/** A sweep (sweep.ts) this long after a delivery with a delete, spaced by 20× its cost; and at least every minute (100× its cost). */
const SWEEP_AFTER_MS = 600;
const SWEEP_EVERY_MS = 60_000;
/** Directories with a low-latency side watch (hot-dirs.ts). */
const HOT_DIRS = 32;

export class TreeWatcher {
  readonly #root: string;
  readonly #excluded: PathFilter;
  readonly #handlers: WatchHandlers;
  readonly #backend: WatchBackend;
  readonly #ignore: readonly string[];
  readonly #clock: Clock;
  readonly #healthEveryMs: number;
  readonly #sweepEveryMs: number;
  readonly #hot: HotDirs;
  #closed = false;
  #starting: Promise<void> | undefined;
  #privateDir: string | undefined;
  #barrier: Barrier | undefined;
  #subs: Subscriptions | undefined;
  #inspections = new Set<Promise<void>>();
  #sweep: Sweep | undefined;
  #cancelQuietSweep: (() => void) | undefined;
  #cancelSweep: (() => void) | undefined;
  #sweepAt = 0;

  constructor(root: string, excluded: PathFilter, handlers: WatchHandlers, opts: TreeWatcherOptions = {}) {
    this.#root = root;
    this.#ignore = opts.ignore ?? [];
    this.#backend = opts.backend ?? parcelWatcher;
    this.#clock = opts.clock ?? realClock;
    this.#healthEveryMs = opts.healthEveryMs ?? HEALTH_EVERY_MS;
    this.#sweepEveryMs = opts.sweepEveryMs ?? SWEEP_EVERY_MS;
    this.#hot = new HotDirs(root, HOT_DIRS, (rel) => {
      if (this.#closed) return false;
      const path = nameableAncestor(rel);
      // '' would mean a full pass: a name the side watch cannot give is left to the full watcher.
      if (path === '' || this.#excluded(path)) return false;
      handlers.onChanges([path]);
      return true;
    });
    this.#excluded = excluded;
    this.#handlers = handlers;
  }

  async start(): Promise<void> {
    this.#starting = this.#start();
    return await this.#starting;
  }

  async #start(): Promise<void> {
    const privateDir = await mkdtemp(join(tmpdir(), 'fam-mirror-'));
    this.#privateDir = privateDir;
    await mkdir(join(privateDir, 'barrier'));
    const closed = () => this.#closed;
    const barrier = new Barrier(join(privateDir, 'barrier'), this.#clock, closed);
    this.#barrier = barrier;
    const subscriber = new RootSubscriber(this.#root, privateDir, this.#backend, this.#ignore);
    const settings = { root: this.#root, subscriber, backend: this.#backend, barrier, clock: this.#clock, healthEveryMs: this.#healthEveryMs };
    const subs = new Subscriptions(settings, {
      onEvents: (watchedRoot, events) => this.#onEvents(watchedRoot, events),
      onChanges: (paths) => this.#handlers.onChanges(paths),
      onError: (err) => this.#handlers.onError(err),
      beforeSwap: () => this.#hot.clear(),
      afterSwap: (watchedRoot, kind) => this.#afterSwap(watchedRoot, kind),
      closed,
    });
    this.#subs = subs;
    try {
      const watchedRoot = await subs.start();
      this.#sweep = new Sweep(
        this.#backend,
        privateDir,
        (w, abs) => this.#toRel(w, abs),
        (paths) => {
          if (!this.#closed) this.#handlers.onChanges(paths);
        },
      );
      await this.#sweep.rebase(watchedRoot);
    } catch (e) {
      this.#closed = true;
      await this.#teardown();
      throw e;
    }
    // close() waits for this start and then drops what it subscribed.
    if (this.#closed) throw new MirrorError('ERR_CLOSED', `Watching ${this.#root} was stopped while it started.`, { path: this.#root });
    subs.armHealth();
    this.#scheduleSweep(this.#sweepEveryMs);
  }

  /**
   * Resolves once every event the kernel queued before the call has been handed to onChanges, or,
   * when the watcher cannot prove that (a marker did not come back), once it has been replaced and
   * a full pass has been asked for: never silently on a timeout.
   */
  async barrier(): Promise<void> {
    const subs = this.#subs;
    if (subs === undefined || this.#barrier === undefined || this.#closed) return;
    await subs.recovering;
    if (!(await this.#barrier.roundTrip())) await subs.recover('a barrier marker did not come back');
    subs.checkRoot();
    // Events in hand may still be turning into a resubscription and a re-sync of blind directories.
    await Promise.all(this.#inspections);
    await subs.caughtUp;
    // A delete was delivered (a folded pair may hide behind it), or a burst of creates: sweep.ts.
    if (this.#sweep?.wanted === true || this.#sweep?.burst === true) await this.#runSweep();
  }

  /**
   * Paths rsync created below a directory it synced recursively, which no event named: if one was
   * created and removed within one delivery window of the watcher, the pair is folded away and the
   * replica keeps it. The next sweep (after that window has closed) looks whether each still exists.
   */
  recheck(paths: readonly string[]): void {
    if (this.#closed || this.#sweep === undefined) return;
    this.#sweep.recheck(paths);
    this.#scheduleSweep(SWEEP_AFTER_MS);
  }

  /**
   * Saves the tree's state for `changesSince()` after a restart. Written to a temporary file first
   * (@parcel/watcher writes in place) and moved into place only after a barrier: every change older
   * than the snapshot has then been handed to onChanges (and so journaled), so the pair journal +
   * snapshot never misses one. Always taken of the real root path, which a restart will diff.
   */
  async saveSnapshot(file: string): Promise<void> {
    await saveTreeSnapshot(this.#backend, this.#watchedRoot, this.#root, file, () => this.barrier());
  }

  /** Paths changed since the snapshot in `file` (mtime-based: a content change with its mtime restored is invisible). */
  changesSince(file: string): Promise<string[]> {
    return treeChangesSince(
      this.#backend,
      this.#watchedRoot,
      this.#root,
      () => join(this.#privateDir!, 'since'),
      file,
      (live, abs) => this.#toRel(live, abs),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#hot.clear();
    this.#cancelSweep?.();
    this.#cancelQuietSweep?.();
    await this.#subs?.close();
    this.#barrier?.release();
    await this.#sweep?.close();
    if (this.#privateDir !== undefined) await rm(this.#privateDir, { recursive: true, force: true });
  }

  /** The path string of the current root subscription (the root, or an alias of it). */
  get #watchedRoot(): string {
    return this.#subs?.watchedRoot ?? this.#root;
  }

  #onEvents(watchedRoot: string, events: Event[]): void {
    this.#subs?.checkRoot();
    const delivery = translateDelivery(watchedRoot, events, this.#excluded, this.#hot.coverage());
    if (delivery.seen.length === 0) return;
    for (const { rel, type } of delivery.seen) this.#sweep?.note(rel, type);
    if (delivery.dispatch.length > 0) this.#handlers.onChanges(delivery.dispatch);
    if (this.#sweep?.wanted === true) this.#scheduleSweep(Math.max(SWEEP_AFTER_MS, this.#sweep.lastAt + 20 * this.#sweep.lastMs - this.#clock.now()));
    else if (this.#sweep?.burst === true) this.#sweepWhenQuiet(Math.max(SWEEP_AFTER_MS, 20 * this.#sweep.lastMs));
    this.#hot.touch(delivery.touch);
    // Too many to stat one by one: resubscribe anyway and re-sync their parents (recursively).
    if (delivery.blindParents.length > 0) this.#subs?.scheduleResubscribe(delivery.blindParents);
    const { inspectCreated, inspectUpdated } = delivery;
    if (inspectCreated.length + inspectUpdated.length > 0) {
      const inspection = this.#inspect(inspectCreated, inspectUpdated).finally(() => this.#inspections.delete(inspection));
      this.#inspections.add(inspection);
    }
  }

  /**
   * A directory that already has entries when we first hear of it may hide unwatched subdirectories.
   * A directory replaced within one delivery window (`mv a tmp; mv b a; mv tmp b`) arrives as an
   * `update` (the watcher folds delete+create so): its subdirectories' watches keep their old paths,
   * exactly as after a move in. A chmod of a directory looks the same and costs one needless
   * resubscription.
   */
  async #inspect(created: string[], updated: string[]): Promise<void> {
    const filled: string[] = [];
    const inspect = async (rel: string, needsSubdir: boolean) => {
      try {
        const abs = join(this.#root, rel);
        if (!(await lstat(abs)).isDirectory()) return;
        const entries = await readdir(abs, { withFileTypes: true });
        // Only subdirectories can hold stale watches; a new directory's files may have lost their events.
        if (needsSubdir ? entries.some((e) => e.isDirectory()) : entries.length > 0) filled.push(rel);
      } catch {
        // gone again: its delete event follows
      }
    };
    await Promise.all([...created.map((rel) => inspect(rel, false)), ...updated.map((rel) => inspect(rel, true))]);
    if (filled.length > 0) this.#subs?.scheduleResubscribe(filled);
  }

  /** After a resubscription the old base is diffed while its subscription still lives; after a recovery the full pass that follows covers it. */
  async #afterSwap(watchedRoot: string, kind: 'resubscribe' | 'recovery'): Promise<void> {
    if (kind === 'resubscribe') await this.#sweepNow();
    await this.#sweep?.rebase(watchedRoot).catch((e: Error) => debug('sweep base failed: %s', e.message));
  }

  #scheduleSweep(delayMs: number): void {
    if (this.#closed || this.#sweep === undefined) return;
    const at = this.#clock.now() + Math.max(0, delayMs);
    if (this.#cancelSweep !== undefined && this.#sweepAt <= at) return;
    this.#cancelSweep?.();
    this.#sweepAt = at;
    this.#cancelSweep = this.#clock.after(delayMs, () => {
      this.#cancelSweep = undefined;
      void this.#runSweep().finally(() => this.#scheduleSweep(Math.max(this.#sweepEveryMs, 100 * (this.#sweep?.lastMs ?? 0))));
    });
  }

  /** Re-armed by every delivery of the burst, so it runs once they stop. */
  #sweepWhenQuiet(delayMs: number): void {
    this.#cancelQuietSweep?.();
    this.#cancelQuietSweep = this.#clock.after(delayMs, () => void this.#runSweep());
  }

  /** A sweep on the swap chain, so it never runs beside a change of subscription. */
  #runSweep(): Promise<void> {
    return this.#subs?.enqueue(() => this.#sweepNow()) ?? Promise.resolve();
  }

  async #sweepNow(): Promise<void> {
    if (this.#closed) return;
    await this.#sweep?.run().catch((e: Error) => debug('sweep failed: %s', e.message));
  }

  #toRel(watchedRoot: string, abs: string): string | undefined {
    const rel = rootRelative(watchedRoot, abs);
    return rel === undefined || this.#excluded(rel) ? undefined : rel;
  }
}

/**
 * Watches one root with @parcel/watcher (inotify) and reports root-relative POSIX paths.
 *
 * Events are hints (design.md invariant 3). What this module does about the watcher's measured
 * blind spots (field-notes.md):
 * - backend 'inotify' is forced: with watchman installed the default silently changes.
 * - a directory that appears already filled (moved in, renamed, `cp -r`) leaves parts of its
 *   subtree unwatched: we resubscribe the root (debounced, new subscription before the old one is
 *   dropped, so there is no gap) and report that directory again once the new watch is complete.
 * - resubscribing must crawl afresh (see #subscribe for how @parcel/watcher's tree cache is avoided).
 * - `barrier()` gives flush() an exact "every event before now has been delivered": a marker file
 *   written in a private directory watched through the same inotify instance and reader thread
 *   arrives after every earlier event of the root.
 *
 * No failure of the watcher may end the process or leave it blind (issue 9):
 * - `unsubscribe()` can reject (`Unable to remove watcher: Invalid argument` once a watched
 *   directory is gone: upstream parcel-bundler/watcher#129): it is logged and the subscription dropped.
 * - the native reader thread can die (`Unable to poll: …`), which reaches us as an error callback and
 *   ends every subscription of the process; a watcher can also go silent. A health check writes a
 *   marker every few seconds; an error, a marker that does not come back, or a barrier that times
 *   out replaces every subscription, and once the new one is live a full pass of the root is asked
 *   for (onChanges(['']): it covers whatever happened while nothing watched).
 * - the root replaced (`mv www www.old; mv www.new www`) leaves the subscription on the old inode:
 *   the root's device and inode are checked on each delivery and by the health check, and a new
 *   one is treated the same way. A root that is gone is retried until it is back.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import parcelWatcher, { type AsyncSubscription, type Event, type Options, type SubscribeCallback } from '@parcel/watcher';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import type { PathFilter } from '../core/filter.js';
import { parentOf } from '../core/paths.js';
import { HotDirs } from './hot-dirs.js';
import { Sweep } from './sweep.js';
import { rebaseSnapshot } from './snapshot-file.js';

const debug = createDebug('fam-mirror:watch');

export interface WatchHandlers {
  onChanges(paths: string[]): void;
  onError(err: MirrorError): void;
}

/** What we use of @parcel/watcher; tests inject one that throws, rejects or goes silent. */
export interface WatchBackend {
  subscribe(dir: string, fn: SubscribeCallback, opts?: Options): Promise<AsyncSubscription>;
  writeSnapshot(dir: string, snapshot: string, opts?: Options): Promise<string>;
  getEventsSince(dir: string, snapshot: string, opts?: Options): Promise<Event[]>;
}

export interface TreeWatcherOptions {
  /** Root-relative paths not to watch at all (literal anchored excludes). */
  ignore?: readonly string[];
  backend?: WatchBackend;
  /** How often the watcher's health (a marker round trip, the root's identity) is checked. */
  healthEveryMs?: number;
  /** Longest time between two sweeps (sweep.ts) when nothing asks for one. */
  sweepEveryMs?: number;
}

/** Above this many creates in one delivery we stop inspecting them and resubscribe anyway. */
const INSPECT_LIMIT = 4096;
const RESUBSCRIBE_DELAY_MS = 300;
const BARRIER_TIMEOUT_MS = 3000;
const HEALTH_EVERY_MS = 5000;
/** Retry of a subscription that failed during a recovery (a root that is gone, a full watch table). */
const RECOVER_RETRY_MIN_MS = 250;
const RECOVER_RETRY_MAX_MS = 5000;
const OVERLAP_MS = 1000;
/** A sweep (sweep.ts) this long after a delivery with a delete, spaced by 20× its cost; and at least every minute (100× its cost). */
const SWEEP_AFTER_MS = 600;
const SWEEP_EVERY_MS = 60_000;
/** Directories with a low-latency side watch (hot-dirs.ts), and the delivery size above which a
 *  burst is left to the full watcher alone. */
const HOT_DIRS = 32;
const HOT_TOUCH_LIMIT = 64;

export class TreeWatcher {
  readonly #root: string;
  readonly #excluded: PathFilter;
  readonly #handlers: WatchHandlers;
  readonly #backend: WatchBackend;
  readonly #healthEveryMs: number;
  readonly #sweepEveryMs: number;
  #sub: AsyncSubscription | undefined;
  /** Identity of the current root subscription: callbacks of superseded ones only pass their events on. */
  #subId = 0;
  #closed = false;
  #resubscribeTimer: NodeJS.Timeout | undefined;
  /** The one chain every subscription swap runs on: two swaps never overlap. */
  #swaps: Promise<void> = Promise.resolve();
  #blindDirs = new Set<string>();
  #privateDir: string | undefined;
  #barrierSub: AsyncSubscription | undefined;
  #barrierWaiters = new Map<string, () => void>();
  #barrierCount = 0;
  #generation = 0;
  /** The path string of the current root subscription (the root, or an alias of it). */
  #watchedRoot: string;
  #overlapDone: (() => void) | undefined;
  #inspections = new Set<Promise<void>>();
  #catchUp: { promise: Promise<void>; resolve: () => void } | undefined;
  /** A recovery under way (every subscription replaced, then a full pass): callers wait for it. */
  #recovering: Promise<void> | undefined;
  /** `dev:ino` of the root when the current subscription was made. */
  #rootId: string | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #checking = false;
  #starting: Promise<void> | undefined;
  #sweep: Sweep | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepAt = 0;

  readonly #ignore: readonly string[];

  readonly #hot: HotDirs;

  constructor(root: string, excluded: PathFilter, handlers: WatchHandlers, opts: TreeWatcherOptions = {}) {
    this.#root = root;
    this.#watchedRoot = root;
    this.#ignore = opts.ignore ?? [];
    this.#backend = opts.backend ?? parcelWatcher;
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
    this.#privateDir = await mkdtemp(join(tmpdir(), 'fam-mirror-'));
    await mkdir(join(this.#privateDir, 'barrier'));
    try {
      const { sub, watchedRoot } = await this.#subscribe(++this.#subId);
      this.#sub = sub;
      this.#barrierSub = await this.#subscribeBarrier();
      this.#sweep = new Sweep(this.#backend, this.#privateDir, (w, abs) => this.#toRel(w, abs), (paths) => {
        if (!this.#closed) this.#handlers.onChanges(paths);
      });
      await this.#sweep.rebase(watchedRoot);
    } catch (e) {
      this.#closed = true;
      await this.#teardown();
      throw e;
    }
    // close() waits for this start and then drops what it subscribed.
    if (this.#closed) throw new MirrorError('ERR_CLOSED', `Watching ${this.#root} was stopped while it started.`, { path: this.#root });
    this.#armHealth();
    this.#scheduleSweep(this.#sweepEveryMs);
  }

  /**
   * Resolves once every event the kernel queued before the call has been handed to onChanges, or,
   * when the watcher cannot prove that (a marker did not come back), once it has been replaced and
   * a full pass has been asked for: never silently on a timeout.
   */
  async barrier(): Promise<void> {
    if (this.#privateDir === undefined || this.#closed) return;
    await this.#recovering;
    // Twice: the first marker proves the reader thread passed our point; the second, sent after the
    // first came back, proves the delivery round that carried the root's events has completed.
    const ok = (await this.#marker()) && (await this.#marker());
    if (!ok) await this.#recover('a barrier marker did not come back');
    this.#checkRoot();
    // Events in hand may still be turning into a resubscription and a re-sync of blind directories.
    await Promise.all(this.#inspections);
    await this.#catchUp?.promise;
    // A delete was delivered: a folded pair may hide behind it (sweep.ts).
    if (this.#sweep?.wanted === true) await this.#runSweep();
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
    const tmp = `${file}.tmp`;
    // From the live subscription's tree (no crawl), spelled with the real root for the next start.
    const live = this.#watchedRoot;
    await this.#backend.writeSnapshot(live, tmp, { backend: 'inotify' });
    if (live !== this.#root) await writeFile(tmp, rebaseSnapshot(await readFile(tmp), live, this.#root));
    await this.barrier();
    await rename(tmp, file);
  }

  /** Paths changed since the snapshot in `file` (mtime-based: a content change with its mtime restored is invisible). */
  async changesSince(file: string): Promise<string[]> {
    const live = this.#watchedRoot;
    let from = file;
    if (live !== this.#root) {
      from = join(this.#privateDir!, 'since');
      await writeFile(from, rebaseSnapshot(await readFile(file), this.#root, live));
    }
    const events = await this.#backend.getEventsSince(live, from, { backend: 'inotify' });
    const out = new Set<string>();
    for (const e of events) {
      const rel = relativeTo(live, e.path);
      if (rel !== undefined && !this.#excluded(rel)) out.add(rel);
    }
    return [...out];
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#hot.clear();
    clearTimeout(this.#resubscribeTimer);
    clearTimeout(this.#healthTimer);
    clearTimeout(this.#sweepTimer);
    this.#catchUp?.resolve();
    this.#overlapDone?.();
    await this.#swaps;
    await this.#recovering;
    await dropSubscription(this.#sub, 'the root');
    await dropSubscription(this.#barrierSub, 'the barrier');
    this.#sub = undefined;
    this.#barrierSub = undefined;
    for (const resolve of this.#barrierWaiters.values()) resolve();
    await this.#sweep?.close();
    if (this.#privateDir !== undefined) {
      // Unlink the aliases first, by themselves: nothing may ever walk from one into the source tree.
      for (let g = 1; g < this.#generation; g++) await unlink(join(this.#privateDir, `a${g}`)).catch(() => {});
      await rm(this.#privateDir, { recursive: true, force: true });
    }
  }

  /** Writes one marker and waits for its event; false when it did not come back in time. */
  async #marker(): Promise<boolean> {
    const file = join(this.#privateDir!, 'barrier', `m${++this.#barrierCount}`);
    const arrived = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), BARRIER_TIMEOUT_MS);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#barrierWaiters.delete(file);
        resolve(ok);
      };
      this.#barrierWaiters.set(file, () => done(true));
      writeFile(file, '').catch(() => done(false));
    });
    await rm(file, { force: true });
    return arrived || this.#closed;
  }

  async #subscribeBarrier(): Promise<AsyncSubscription> {
    const id = this.#subId;
    return await this.#backend.subscribe(
      join(this.#privateDir!, 'barrier'),
      (err, events) => {
        if (err) return this.#onFailure(id, err);
        for (const e of events ?? []) this.#barrierWaiters.get(e.path)?.();
      },
      { backend: 'inotify' },
    );
  }

  /**
   * @parcel/watcher caches its crawled tree per root path string and reuses it for a second
   * subscription while the first is alive, so resubscribing the same string crawls nothing and
   * adds no watches; and an unsubscribe() that failed (upstream #129) leaves that tree cached, stale,
   * for good. So each subscription after the first uses a path string never used before: an alias
   * of the root through a new symlink to its parent in our private directory. The new subscription
   * crawls afresh and is complete before the old one is dropped, so no event falls in a gap.
   */
  async #subscribe(id: number): Promise<{ sub: AsyncSubscription; watchedRoot: string }> {
    const generation = this.#generation++;
    const watchedRoot = generation === 0 ? this.#root : await this.#aliasRoot(generation);
    const before = rootIdOf(this.#root);
    try {
      const sub = await this.#backend.subscribe(watchedRoot, (err, events) => this.#onEvents(id, watchedRoot, err, events), { backend: 'inotify', ignore: [...this.#ignore] });
      // The identity read before subscribing: if the root was swapped meanwhile, the next check sees it.
      this.#rootId = before;
      this.#watchedRoot = watchedRoot;
      return { sub, watchedRoot };
    } catch (e) {
      const message = (e as Error).message;
      const limit = /No space left on device/.test(message);
      throw new MirrorError(
        limit ? 'ERR_WATCH_LIMIT' : 'ERR_WATCH',
        limit
          ? `Cannot watch ${this.#root}: the inotify watch limit was reached while watching (the tree grew, or another process took watches). Raise it: sysctl -w fs.inotify.max_user_watches=1048576`
          : `Cannot watch ${this.#root}: ${message}`,
        { path: this.#root, cause: e },
      );
    }
  }

  async #aliasRoot(generation: number): Promise<string> {
    const link = join(this.#privateDir!, `a${generation}`);
    await symlink(dirname(this.#root), link);
    return join(link, basename(this.#root));
  }

  /** An error callback: of the current subscriptions it means they are dead (the reader thread died). */
  #onFailure(id: number, err: Error): void {
    if (this.#closed) return;
    if (id !== this.#subId) return void debug('error from a superseded subscription: %s', err.message);
    this.#handlers.onError(new MirrorError('ERR_WATCH', `Watching ${this.#root} failed: ${err.message}. The watch is being replaced and a full pass follows.`, { path: this.#root, cause: err }));
    void this.#recover(`a watcher error (${err.message})`);
  }

  #onEvents(id: number, watchedRoot: string, err: Error | null, events: Event[]): void {
    if (this.#closed) return;
    if (err) return this.#onFailure(id, err);
    this.#checkRoot();
    const paths: string[] = [];
    const created: string[] = [];
    const updated: string[] = [];
    const seen: string[] = [];
    const covered = this.#hot.coverage();
    for (const e of events) {
      const rel = relativeTo(watchedRoot, e.path);
      if (rel === undefined || this.#excluded(rel)) continue;
      seen.push(rel);
      this.#sweep?.note(rel, e.type);
      if (e.type === 'create') created.push(rel);
      else if (e.type === 'update') updated.push(rel);
      // Already reported by the side watch, which also reports any later change of it: see hot-dirs.ts.
      if (!covered(rel)) paths.push(rel);
    }
    if (seen.length === 0) return;
    if (paths.length > 0) this.#handlers.onChanges(paths);
    if (this.#sweep?.wanted === true) this.#scheduleSweep(Math.max(SWEEP_AFTER_MS, this.#sweep.lastAt + 20 * this.#sweep.lastMs - Date.now()));
    if (seen.length <= HOT_TOUCH_LIMIT) this.#hot.touch(new Set(seen.map(parentOf)));
    // Too many to stat one by one: resubscribe anyway and re-sync their parents (recursively).
    if (created.length > INSPECT_LIMIT) this.#scheduleResubscribe([...new Set(created.map(parentOf))]);
    // A directory replaced within one delivery window (`mv a tmp; mv b a; mv tmp b`) arrives as an
    // `update` (the watcher folds delete+create so): its subdirectories' watches keep their old
    // paths, exactly as after a move in. A chmod of a directory looks the same and costs one
    // needless resubscription.
    const newDirs = created.length > INSPECT_LIMIT ? [] : created;
    if (newDirs.length + updated.length > 0) {
      const inspection = this.#inspectNew(newDirs, updated).finally(() => this.#inspections.delete(inspection));
      this.#inspections.add(inspection);
    }
  }

  /**
   * The root replaced or gone since the subscription was made: the subscription watches the wrong
   * tree. A full pass is asked for at once (rsync reads the path, so it mirrors the new tree, and a
   * root that is gone holds it under the mass-delete guard so flush() cannot say complete), and
   * another once the new subscription is live.
   */
  #checkRoot(): void {
    if (this.#recovering !== undefined || this.#closed) return;
    const now = rootIdOf(this.#root);
    if (now === this.#rootId) return;
    this.#handlers.onChanges(['']);
    void this.#recover(now === undefined ? `the root ${this.#root} is gone` : `the root ${this.#root} was replaced`);
  }

  #armHealth(): void {
    if (this.#closed || this.#healthEveryMs <= 0) return;
    this.#healthTimer = setTimeout(() => void this.#healthCheck().finally(() => this.#armHealth()), this.#healthEveryMs);
    this.#healthTimer.unref();
  }

  async #healthCheck(): Promise<void> {
    if (this.#checking || this.#closed || this.#recovering !== undefined) return;
    this.#checking = true;
    try {
      this.#checkRoot();
      if (this.#recovering === undefined && !(await this.#marker())) await this.#recover('the watcher went silent');
    } finally {
      this.#checking = false;
    }
  }

  /**
   * Replaces every subscription (root and barrier), retrying while that fails, then asks for a full
   * pass: whatever changed while nothing watched is covered by it, and everything after by the new
   * subscription. Concurrent callers share one recovery.
   */
  #recover(why: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#recovering !== undefined) return this.#recovering;
    debug('recovering %s: %s', this.#root, why);
    const run = async () => {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#replaceAll();
          break;
        } catch (e) {
          const err = e instanceof MirrorError ? e : new MirrorError('ERR_WATCH', `Cannot watch ${this.#root}: ${(e as Error).message}`, { path: this.#root, cause: e });
          if (attempt === 0) this.#handlers.onError(err);
          debug('recovery attempt %d failed: %s', attempt + 1, err.message);
          await new Promise((r) => setTimeout(r, Math.min(RECOVER_RETRY_MAX_MS, RECOVER_RETRY_MIN_MS * 2 ** Math.min(attempt, 10))).unref());
        }
      }
      if (!this.#closed) this.#handlers.onChanges(['']);
    };
    const recovering: Promise<void> = this.#enqueue(run).finally(() => {
      if (this.#recovering === recovering) this.#recovering = undefined;
    });
    this.#recovering = recovering;
    return recovering;
  }

  async #replaceAll(): Promise<void> {
    this.#hot.clear();
    const id = ++this.#subId;
    const { sub: fresh, watchedRoot } = await this.#subscribe(id);
    const freshBarrier = await this.#subscribeBarrier().catch(async (e: unknown) => {
      await dropSubscription(fresh, 'the new root');
      throw e;
    });
    const old = [this.#sub, this.#barrierSub];
    this.#sub = fresh;
    this.#barrierSub = freshBarrier;
    // The full pass that follows covers what the old base would have found.
    await this.#sweep?.rebase(watchedRoot).catch((e: Error) => debug('sweep base failed: %s', e.message));
    debug('replaced the subscriptions of %s', this.#root);
    // A recovery asks for a full pass: no overlap with the old subscriptions is needed.
    await dropSubscription(old[0], 'the old root');
    await dropSubscription(old[1], 'the old barrier');
  }

  #scheduleSweep(delayMs: number): void {
    if (this.#closed || this.#sweep === undefined) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.#sweepTimer !== undefined && this.#sweepAt <= at) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      void this.#runSweep().finally(() => this.#scheduleSweep(Math.max(this.#sweepEveryMs, 100 * (this.#sweep?.lastMs ?? 0))));
    }, Math.max(0, delayMs));
    this.#sweepTimer.unref();
  }

  /** A sweep on the swap chain, so it never runs beside a change of subscription. */
  #runSweep(): Promise<void> {
    return this.#enqueue(() => this.#sweepNow());
  }

  async #sweepNow(): Promise<void> {
    if (this.#closed) return;
    await this.#sweep?.run().catch((e: Error) => debug('sweep failed: %s', e.message));
  }

  #toRel(watchedRoot: string, abs: string): string | undefined {
    const rel = relativeTo(watchedRoot, abs);
    return rel === undefined || this.#excluded(rel) ? undefined : rel;
  }

  /** Runs `task` on the swap chain; the chain never rejects. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#swaps.then(() => (this.#closed ? undefined : task()));
    this.#swaps = next.catch((e: Error) => debug('subscription swap failed: %s', e.message));
    return this.#swaps;
  }

  /** A directory that already has entries when we first hear of it may hide unwatched (or stale) subdirectories. */
  async #inspectNew(created: string[], updated: string[] = []): Promise<void> {
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
    if (filled.length > 0) this.#scheduleResubscribe(filled);
  }

  #scheduleResubscribe(dirs: string[]): void {
    for (const d of dirs) this.#blindDirs.add(d);
    if (this.#closed) return;
    if (this.#catchUp === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#catchUp = { promise, resolve };
    }
    if (this.#resubscribeTimer !== undefined) return;
    this.#resubscribeTimer = setTimeout(() => {
      this.#resubscribeTimer = undefined;
      // One at a time: a subscription to a root string that is still alive would not crawl again.
      void this.#enqueue(() => this.#resubscribe());
    }, RESUBSCRIBE_DELAY_MS);
  }

  async #resubscribe(): Promise<void> {
    const catchUp = this.#catchUp;
    this.#catchUp = undefined;
    try {
      await this.#swapSubscription(catchUp);
    } finally {
      catchUp?.resolve();
    }
  }

  async #swapSubscription(catchUp: { resolve: () => void } | undefined): Promise<void> {
    const dirs = [...this.#blindDirs];
    this.#blindDirs.clear();
    const started = Date.now();
    let old: AsyncSubscription | undefined;
    this.#hot.clear();
    let watchedRoot: string;
    try {
      const fresh = await this.#subscribe(++this.#subId);
      old = this.#sub;
      this.#sub = fresh.sub;
      watchedRoot = fresh.watchedRoot;
    } catch (e) {
      // The old subscription may be dead too (a root that is gone): a recovery retries until it is back.
      this.#handlers.onError(e as MirrorError);
      void this.#recover(`a resubscription failed (${(e as Error).message})`);
      return;
    }
    debug('resubscribed %s in %d ms (%d filled dirs)', this.#root, Date.now() - started, dirs.length);
    // The old base is diffed while its subscription still lives, then the base moves to the new one.
    await this.#sweepNow();
    await this.#sweep?.rebase(watchedRoot).catch((e: Error) => debug('sweep base failed: %s', e.message));
    // Writes made while the old watch was blind below these directories were never reported.
    if (!this.#closed && dirs.length > 0) this.#handlers.onChanges(dirs);
    catchUp?.resolve();
    // The new subscription adds its watches only after its crawl: an event in between reached the
    // old one alone, and an unsubscribe drops whatever it has not delivered yet. So the old one
    // lives on for longer than the watcher's longest debounce (500 ms); duplicates are harmless.
    await new Promise<void>((resolve) => {
      this.#overlapDone = resolve;
      setTimeout(resolve, OVERLAP_MS).unref();
    });
    this.#overlapDone = undefined;
    await dropSubscription(old, 'the old root');
  }
}

/**
 * unsubscribe() rejects when a watched directory is already gone (`Unable to remove watcher: Invalid
 * argument`, upstream parcel-bundler/watcher#129); the subscription is dropped all the same.
 */
async function dropSubscription(sub: AsyncSubscription | undefined, what: string): Promise<void> {
  if (sub === undefined) return;
  try {
    await sub.unsubscribe();
  } catch (e) {
    debug('unsubscribing %s failed (dropped anyway): %s', what, (e as Error).message);
  }
}

function rootIdOf(root: string): string | undefined {
  try {
    const st = statSync(root);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function relativeTo(root: string, abs: string): string | undefined {
  const rel = relative(root, abs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`)) return undefined;
  const posix = sep === '/' ? rel : rel.split(sep).join('/');
  return nameableAncestor(posix);
}

/**
 * @parcel/watcher hands paths over as JS strings, decoding bytes that are not UTF-8 as U+FFFD: such
 * a path names a different file (or none). Its nearest ancestor whose name survived is synced
 * recursively instead; rsync reads that directory itself and carries the raw bytes. ('' = the root.)
 */
function nameableAncestor(rel: string): string {
  const bad = rel.indexOf('\uFFFD');
  if (bad === -1) return rel;
  const slash = rel.lastIndexOf('/', bad);
  return slash === -1 ? '' : rel.slice(0, slash);
}

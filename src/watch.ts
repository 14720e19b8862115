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
 */
import { lstat, mkdir, mkdtemp, readdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import watcher, { type AsyncSubscription, type Event } from '@parcel/watcher';
import createDebug from 'debug';
import { MirrorError } from './errors.js';
import type { PathFilter } from './filter.js';
import { parentOf } from './paths.js';
import { HotDirs } from './hot-dirs.js';

const debug = createDebug('fam-mirror:watch');

export interface WatchHandlers {
  onChanges(paths: string[]): void;
  onError(err: MirrorError): void;
}

/** Above this many creates in one delivery we stop inspecting them and resubscribe anyway. */
const INSPECT_LIMIT = 4096;
const RESUBSCRIBE_DELAY_MS = 300;
const BARRIER_TIMEOUT_MS = 3000;
const OVERLAP_MS = 1000;
/** Directories with a low-latency side watch (hot-dirs.ts), and the delivery size above which a
 *  burst is left to the full watcher alone. */
const HOT_DIRS = 32;
const HOT_TOUCH_LIMIT = 64;

export class TreeWatcher {
  readonly #root: string;
  readonly #excluded: PathFilter;
  readonly #handlers: WatchHandlers;
  #sub: AsyncSubscription | undefined;
  #closed = false;
  #resubscribeTimer: NodeJS.Timeout | undefined;
  #resubscribing: Promise<void> | undefined;
  #blindDirs = new Set<string>();
  #privateDir: string | undefined;
  #barrierSub: AsyncSubscription | undefined;
  #barrierWaiters = new Map<string, () => void>();
  #barrierCount = 0;
  #generation = 0;
  #overlapDone: (() => void) | undefined;
  #inspections = new Set<Promise<void>>();
  #catchUp: { promise: Promise<void>; resolve: () => void } | undefined;

  readonly #ignore: readonly string[];

  /** `ignore`: root-relative paths not to watch at all (literal anchored excludes). */
  readonly #hot: HotDirs;

  constructor(root: string, excluded: PathFilter, handlers: WatchHandlers, ignore: readonly string[] = []) {
    this.#root = root;
    this.#ignore = ignore;
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
    this.#privateDir = await mkdtemp(join(tmpdir(), 'fam-mirror-'));
    this.#sub = await this.#subscribe();
    const barrierDir = join(this.#privateDir, 'barrier');
    await mkdir(barrierDir);
    this.#barrierSub = await watcher.subscribe(
      barrierDir,
      (_err, events) => {
        for (const e of events) this.#barrierWaiters.get(e.path)?.();
      },
      { backend: 'inotify' },
    );
  }

  /** Resolves once every event the kernel queued before the call has been handed to onChanges. */
  async barrier(): Promise<void> {
    if (this.#privateDir === undefined) return;
    // Twice: the first marker proves the reader thread passed our point; the second, sent after the
    // first came back, proves the delivery round that carried the root's events has completed.
    await this.#marker();
    await this.#marker();
    // Events in hand may still be turning into a resubscription and a re-sync of blind directories.
    await Promise.all(this.#inspections);
    await this.#catchUp?.promise;
  }

  /**
   * Saves the tree's state for `changesSince()` after a restart. Written to a temporary file first
   * (@parcel/watcher writes in place) and moved into place only after a barrier: every change older
   * than the snapshot has then been handed to onChanges (and so journaled), so the pair journal +
   * snapshot never misses one. Always taken of the real root path, which a restart will diff.
   */
  async saveSnapshot(file: string): Promise<void> {
    const tmp = `${file}.tmp`;
    await watcher.writeSnapshot(this.#root, tmp, { backend: 'inotify' });
    await this.barrier();
    await rename(tmp, file);
  }

  /** Paths changed since the snapshot in `file` (mtime-based: a content change with its mtime restored is invisible). */
  async changesSince(file: string): Promise<string[]> {
    const events = await watcher.getEventsSince(this.#root, file, { backend: 'inotify' });
    const out = new Set<string>();
    for (const e of events) {
      const rel = relativeTo(this.#root, e.path);
      if (rel !== undefined && !this.#excluded(rel)) out.add(rel);
    }
    return [...out];
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#hot.clear();
    clearTimeout(this.#resubscribeTimer);
    this.#catchUp?.resolve();
    this.#overlapDone?.();
    await this.#resubscribing;
    await this.#sub?.unsubscribe();
    await this.#barrierSub?.unsubscribe();
    for (const resolve of this.#barrierWaiters.values()) resolve();
    if (this.#privateDir !== undefined) {
      // Unlink the alias first, by itself: nothing may ever walk from it into the source tree.
      await unlink(join(this.#privateDir, 'parent')).catch(() => {});
      await rm(this.#privateDir, { recursive: true, force: true });
    }
  }

  async #marker(): Promise<void> {
    const file = join(this.#privateDir!, 'barrier', `m${++this.#barrierCount}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, BARRIER_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#barrierWaiters.set(file, () => {
        this.#barrierWaiters.delete(file);
        done();
      });
      writeFile(file, '').catch(done);
    });
    await rm(file, { force: true });
  }

  /**
   * @parcel/watcher caches its crawled tree per root path string and reuses it for a second
   * subscription while the first is alive, so resubscribing the same string crawls nothing and
   * adds no watches. We alternate between the real path and an alias of it (through a symlink to
   * its parent in our private directory): the new subscription crawls afresh and is complete
   * before the old one is dropped, so no event falls in a gap.
   */
  async #subscribe(): Promise<AsyncSubscription> {
    const viaAlias = this.#generation++ % 2 === 1;
    const watchedRoot = viaAlias ? await this.#aliasRoot() : this.#root;
    try {
      return await watcher.subscribe(watchedRoot, (err, events) => this.#onEvents(watchedRoot, err, events), { backend: 'inotify', ignore: [...this.#ignore] });
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

  async #aliasRoot(): Promise<string> {
    const link = join(this.#privateDir!, 'parent');
    await symlink(dirname(this.#root), link).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    return join(link, basename(this.#root));
  }

  #onEvents(watchedRoot: string, err: Error | null, events: Event[]): void {
    if (this.#closed) return;
    if (err) {
      this.#handlers.onError(new MirrorError('ERR_WATCH', `Watching ${this.#root} failed: ${err.message}`, { path: this.#root, cause: err }));
      return;
    }
    const paths: string[] = [];
    const created: string[] = [];
    const seen: string[] = [];
    const covered = this.#hot.coverage();
    for (const e of events) {
      const rel = relativeTo(watchedRoot, e.path);
      if (rel === undefined || this.#excluded(rel)) continue;
      seen.push(rel);
      if (e.type === 'create') created.push(rel);
      // Already reported by the side watch, which also reports any later change of it: see hot-dirs.ts.
      if (!covered(rel)) paths.push(rel);
    }
    if (seen.length === 0) return;
    if (paths.length > 0) this.#handlers.onChanges(paths);
    if (seen.length <= HOT_TOUCH_LIMIT) this.#hot.touch(new Set(seen.map(parentOf)));
    // Too many to stat one by one: resubscribe anyway and re-sync their parents (recursively).
    if (created.length > INSPECT_LIMIT) this.#scheduleResubscribe([...new Set(created.map(parentOf))]);
    else if (created.length > 0) {
      const inspection = this.#inspectCreated(created).finally(() => this.#inspections.delete(inspection));
      this.#inspections.add(inspection);
    }
  }

  /** A directory that already has entries when we first hear of it may hide unwatched subdirectories. */
  async #inspectCreated(created: string[]): Promise<void> {
    const filled: string[] = [];
    await Promise.all(
      created.map(async (rel) => {
        try {
          const abs = join(this.#root, rel);
          if (!(await lstat(abs)).isDirectory()) return;
          if ((await readdir(abs)).length > 0) filled.push(rel);
        } catch {
          // gone again: its delete event follows
        }
      }),
    );
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
      const previous = this.#resubscribing ?? Promise.resolve();
      const next: Promise<void> = previous
        .then(() => (this.#closed ? undefined : this.#resubscribe()))
        .finally(() => {
          if (this.#resubscribing === next) this.#resubscribing = undefined;
        });
      this.#resubscribing = next;
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
    try {
      const fresh = await this.#subscribe();
      old = this.#sub;
      this.#sub = fresh;
    } catch (e) {
      this.#handlers.onError(e as MirrorError);
      return;
    }
    debug('resubscribed %s in %d ms (%d filled dirs)', this.#root, Date.now() - started, dirs.length);
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
    await old?.unsubscribe();
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

/**
 * One @parcel/watcher subscription of the root, under a path string never used before.
 *
 * @parcel/watcher caches its crawled tree per root path string and reuses it for a second
 * subscription while the first is alive, so resubscribing the same string crawls nothing and adds
 * no watches; and an unsubscribe() that failed (upstream parcel-bundler/watcher#129) leaves that tree
 * cached, stale, for good. So each subscription after the first uses an alias of the root through a
 * new symlink to its parent in our private directory (`privateDir/a<n>/<root's name>`). The new
 * subscription crawls afresh and is complete before the old one is dropped (subscription.ts), so no
 * event falls in a gap.
 */
import { statSync } from 'node:fs';
import { symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AsyncSubscription, Event, Options, SubscribeCallback } from '@parcel/watcher';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';

const debug = createDebug('fam-mirror:watch');

/**
 * @parcel/watcher compares every path it crawls or reports with every ignored path in turn
 * (measured: 10,000 of them made subscribing to 1,050 entries take 0.5 s instead of 5 ms). It is
 * given this many at most; the others are still never sent, the event filter drops them.
 */
const WATCH_IGNORE_MAX = 128;

/** What we use of @parcel/watcher; tests inject one that throws, rejects or goes silent. */
export interface WatchBackend {
  subscribe(dir: string, fn: SubscribeCallback, opts?: Options): Promise<AsyncSubscription>;
  writeSnapshot(dir: string, snapshot: string, opts?: Options): Promise<string>;
  getEventsSince(dir: string, snapshot: string, opts?: Options): Promise<Event[]>;
}

export interface RootSubscription {
  sub: AsyncSubscription;
  /** The path string subscribed: the root, or an alias of it. Event paths start with it. */
  watchedRoot: string;
  /** `dev:ino` of the root read just before subscribing (undefined: it was gone). */
  rootId: string | undefined;
}

export class RootSubscriber {
  readonly #root: string;
  readonly #privateDir: string;
  readonly #backend: WatchBackend;
  readonly #ignore: readonly string[];
  #generation = 0;

  constructor(root: string, privateDir: string, backend: WatchBackend, ignore: readonly string[]) {
    this.#root = root;
    this.#privateDir = privateDir;
    this.#backend = backend;
    this.#ignore = ignore.slice(0, WATCH_IGNORE_MAX);
  }

  /** The first subscription is of the root itself, every later one of a new alias. */
  async subscribe(fn: (watchedRoot: string, err: Error | null, events: Event[]) => void): Promise<RootSubscription> {
    const root = this.#root;
    const generation = this.#generation++;
    const watchedRoot = generation === 0 ? root : await this.#aliasRoot(generation);
    // Read before subscribing: if the root was swapped meanwhile, the next check sees it.
    const rootId = rootIdOf(root);
    try {
      const sub = await this.#backend.subscribe(watchedRoot, (err, events) => fn(watchedRoot, err, events), { backend: 'inotify', ignore: [...this.#ignore] });
      return { sub, watchedRoot, rootId };
    } catch (e) {
      const message = (e as Error).message;
      const limit = /No space left on device/.test(message);
      throw new MirrorError(
        limit ? 'ERR_WATCH_LIMIT' : 'ERR_WATCH',
        limit
          ? `Cannot watch ${root}: the inotify watch limit was reached while watching (the tree grew, or another process took watches). Raise it: sysctl -w fs.inotify.max_user_watches=1048576`
          : `Cannot watch ${root}: ${message}`,
        { path: root, cause: e },
      );
    }
  }

  /** Unlinks every alias, by itself, before anything removes the private directory: nothing may ever walk from one into the source tree. */
  async unlinkAliases(): Promise<void> {
    for (let g = 1; g < this.#generation; g++) await unlink(join(this.#privateDir, `a${g}`)).catch(() => {});
  }

  async #aliasRoot(generation: number): Promise<string> {
    const link = join(this.#privateDir, `a${generation}`);
    await symlink(dirname(this.#root), link);
    return join(link, basename(this.#root));
  }
}

/** The root's identity: a root replaced (`mv www www.old; mv www.new www`) has another. */
export function rootIdOf(root: string): string | undefined {
  try {
    const st = statSync(root);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * unsubscribe() rejects when a watched directory is already gone (`Unable to remove watcher: Invalid
 * argument`, upstream parcel-bundler/watcher#129); the subscription is dropped all the same.
 */
export async function dropSubscription(sub: AsyncSubscription | undefined, what: string): Promise<void> {
  if (sub === undefined) return;
  try {
    await sub.unsubscribe();
  } catch (e) {
    debug('unsubscribing %s failed (dropped anyway): %s', what, (e as Error).message);
  }
}

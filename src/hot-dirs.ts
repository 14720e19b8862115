/**
 * A low-latency side channel for the directories being written right now. @parcel/watcher delays
 * every event by at least 50 ms once anything changed in the last 500 ms (its Debounce.cc: MIN_WAIT
 * 50, MAX_WAIT 500), which doubles the latency of a steady trickle of writes. The few most recently
 * active directories also get a plain inotify watch through Node's fs.watch (libuv: no debounce),
 * whose events go the same way as the watcher's. Bounded (LRU), non-recursive, hints only: the full
 * watcher remains the source of truth, and a duplicate event costs one rsync that finds nothing.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export class HotDirs {
  readonly #root: string;
  readonly #max: number;
  readonly #onPath: (rel: string) => void;
  readonly #watchers = new Map<string, FSWatcher>();

  constructor(root: string, max: number, onPath: (rel: string) => void) {
    this.#root = root;
    this.#max = max;
    this.#onPath = onPath;
  }

  /** Marks directories active (root-relative, '' = the root), most recent last. */
  touch(dirs: Iterable<string>): void {
    for (const dir of dirs) {
      const known = this.#watchers.get(dir);
      if (known !== undefined) {
        this.#watchers.delete(dir);
        this.#watchers.set(dir, known);
        continue;
      }
      let w: FSWatcher;
      try {
        w = watch(dir === '' ? this.#root : join(this.#root, dir), { persistent: false }, (_type, name) => {
          this.#onPath(name === null ? dir : dir === '' ? name : `${dir}/${name}`);
        });
      } catch {
        continue; // gone or unreadable: the full watcher reports what happened
      }
      w.on('error', () => this.#drop(dir));
      this.#watchers.set(dir, w);
      while (this.#watchers.size > this.#max) this.#drop(this.#watchers.keys().next().value!);
    }
  }

  /** Forgets every watch (after a rename the paths they report would be stale). */
  clear(): void {
    for (const dir of [...this.#watchers.keys()]) this.#drop(dir);
  }

  #drop(dir: string): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
  }
}

/**
 * A low-latency side channel for the directories being written right now. @parcel/watcher delays
 * every event by at least 50 ms once anything changed in the last 500 ms (its Debounce.cc: MIN_WAIT
 * 50, MAX_WAIT 500), which doubles the latency of a steady trickle of writes. The few most recently
 * active directories also get a plain inotify watch through Node's fs.watch (libuv: no debounce),
 * whose events go the same way as the watcher's. Bounded (LRU), non-recursive, hints only: the full
 * watcher remains the source of truth.
 *
 * The full watcher then reports the same change again ≈ 50 ms later, which would cost a second rsync
 * per replica that finds nothing (twice the processes under a trickle). `coverage()` lets it drop those:
 * a name this side watch has reported since it opened is covered for as long as the watch stays open
 * on the same directory inode, because every later change of that name is reported here too, and
 * every earlier one is synced by the batch that carried the report.
 */
import { lstatSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

/** Names remembered per watched directory; past it, new names are simply not deduplicated. */
const MAX_NAMES = 4096;

interface SideWatch {
  watcher: FSWatcher;
  /** Inode of the directory when the watch opened: a directory renamed away and replaced has another. */
  ino: number | undefined;
  reported: Set<string>;
}

export class HotDirs {
  readonly #root: string;
  readonly #max: number;
  /** Returns whether the path was passed on (a name that could not be is never taken as covered). */
  readonly #onPath: (rel: string) => boolean;
  readonly #watchers = new Map<string, SideWatch>();

  constructor(root: string, max: number, onPath: (rel: string) => boolean) {
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
      const ino = inodeOf(this.#abs(dir));
      const reported = new Set<string>();
      let watcher: FSWatcher;
      try {
        watcher = watch(this.#abs(dir), { persistent: false }, (_type, name) => {
          const passed = this.#onPath(name === null ? dir : dir === '' ? name : `${dir}/${name}`);
          if (passed && name !== null && reported.size < MAX_NAMES) reported.add(name);
        });
      } catch {
        continue; // gone or unreadable: the full watcher reports what happened
      }
      const entry: SideWatch = { watcher, ino, reported };
      entry.watcher.on('error', () => this.#drop(dir));
      this.#watchers.set(dir, entry);
      while (this.#watchers.size > this.#max) this.#drop(this.#watchers.keys().next().value!);
    }
  }

  /**
   * A test for one delivery of the full watcher: has a side watch already passed on `rel`
   * (root-relative), and is it still on the same directory? Each directory's inode is read once per
   * test, not once per path: a burst brings thousands of paths in a few directories.
   */
  coverage(): (rel: string) => boolean {
    const sameDir = new Map<string, boolean>();
    return (rel) => {
      const slash = rel.lastIndexOf('/');
      const dir = slash < 0 ? '' : rel.slice(0, slash);
      const entry = this.#watchers.get(dir);
      if (entry === undefined || entry.ino === undefined || !entry.reported.has(rel.slice(slash + 1))) return false;
      let same = sameDir.get(dir);
      if (same === undefined) sameDir.set(dir, (same = inodeOf(this.#abs(dir)) === entry.ino));
      return same;
    };
  }

  #abs(dir: string): string {
    return dir === '' ? this.#root : join(this.#root, dir);
  }

  /** Forgets every watch (after a rename the paths they report would be stale). */
  clear(): void {
    for (const dir of [...this.#watchers.keys()]) this.#drop(dir);
  }

  #drop(dir: string): void {
    this.#watchers.get(dir)?.watcher.close();
    this.#watchers.delete(dir);
  }
}

function inodeOf(abs: string): number | undefined {
  try {
    return lstatSync(abs).ino;
  } catch {
    return undefined;
  }
}

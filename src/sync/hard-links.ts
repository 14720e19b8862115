/**
 * The other names of a hard-linked file. A write through one name changes every name of the inode,
 * but inotify reports only the name written to, so the replicas would keep the old content under the
 * others. Incremental batches cannot use rsync -H (it links only names within one file list), so the
 * executor sends every name of a changed multi-link inode instead: each replica gets equal copies.
 *
 * Finding the names of an inode needs a walk of the tree. Why this design, cheap where it matters:
 * - No hard links (the common case): nothing here runs. The probe's lstat already gives st.nlink, and
 *   only a changed regular file with nlink > 1 asks.
 * - An index of the multi-link inodes, kept from the last walk (dev+ino → names, and nlink then),
 *   answers without a walk when it can vouch for an inode: the link count is what the walk saw (no
 *   name added or removed anywhere since), the asked name is one the walk found, and each known name
 *   still lstats to the same inode (none renamed or moved out). Then a write costs one lstat per
 *   name.
 * - Otherwise the tree is walked again (one lstat per regular file, excluded subtrees skipped), at
 *   most once per batch. A name moved in from outside the tree keeps the link count, so a directory
 *   that appears (created, moved in, renamed: an event for a present directory newer than the walk)
 *   makes the index stale: its subtree may hold names the walk never saw.
 * Names outside the tree do not matter (they are not mirrored); excluded names are not sent.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PathFilter } from '../core/filter.js';

interface Entry {
  names: Set<string>;
  links: bigint;
}

interface Index {
  byInode: Map<string, Entry>;
  /** Every change dispatched up to this sequence number happened before the walk. */
  seq: number;
}

/** At most this many lstat calls in flight during a walk. */
const WALK_CONCURRENCY = 32;

export class HardLinks {
  readonly #root: string;
  readonly #excluded: PathFilter;
  #index: Index | undefined;
  #walking: Promise<Index> | undefined;
  #walkingSeq = 0;
  /** The newest change to a present directory seen (a sequence number). */
  #dirSeq = 0;
  #walks = 0;

  constructor(root: string, excluded: PathFilter) {
    this.#root = root;
    this.#excluded = excluded;
  }

  /** Walks of the tree so far (tests and debug logs). */
  get walks(): number {
    return this.#walks;
  }

  /** A present directory was named by a change with this sequence number. */
  directoryChanged(seq: number): void {
    this.#dirSeq = Math.max(this.#dirSeq, seq);
  }

  /**
   * The other names (root-relative, not excluded) of the inodes of `paths`, which were all dirtied by
   * changes up to `seq`. Paths that are not regular files with several links contribute nothing.
   */
  async otherNames(paths: readonly string[], seq: number): Promise<string[]> {
    const asked = new Map<string, { path: string; links: bigint }>();
    for (const [i, st] of (await Promise.all(paths.map((p) => this.#stat(p)))).entries()) {
      if (st?.isFile() && st.nlink > 1n) asked.set(inodeKey(st), { path: paths[i]!, links: st.nlink });
    }
    if (asked.size === 0) return [];
    let index = this.#index;
    if (index === undefined || !(await this.#vouches(index, asked))) index = await this.#walk(seq);
    const out = new Set<string>();
    for (const key of asked.keys()) for (const name of index.byInode.get(key)?.names ?? []) out.add(name);
    for (const p of paths) out.delete(p);
    return [...out];
  }

  async #vouches(index: Index, asked: Map<string, { path: string; links: bigint }>): Promise<boolean> {
    if (this.#dirSeq > index.seq) return false;
    for (const [key, { path, links }] of asked) {
      const entry = index.byInode.get(key);
      if (entry === undefined || entry.links !== links || !entry.names.has(path)) return false;
      const same = await Promise.all(
        [...entry.names].map(async (name) => {
          const st = await this.#stat(name);
          return st !== undefined && inodeKey(st) === key;
        }),
      );
      if (same.includes(false)) return false;
    }
    return true;
  }

  #walk(seq: number): Promise<Index> {
    // One walk at a time. A walk in flight serves a caller whose changes it is sure to see (every
    // lane asks about the same change); any other caller waits for it and then walks anew.
    if (this.#walking !== undefined && seq <= this.#walkingSeq) return this.#walking;
    const previous = this.#walking ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(() => this.#walkTree(seq));
    this.#walking = next;
    this.#walkingSeq = seq;
    // Handled here and by the caller, so a failed walk is never an unhandled rejection.
    next.then(
      () => this.#walkDone(next),
      () => this.#walkDone(next),
    );
    return next;
  }

  #walkDone(walk: Promise<Index>): void {
    if (this.#walking === walk) this.#walking = undefined;
  }

  async #walkTree(seq: number): Promise<Index> {
    this.#walks++;
    const byInode = new Map<string, Entry>();
    const dirs = [''];
    const files: string[] = [];
    const flush = async () => {
      const batch = files.splice(0);
      for (let i = 0; i < batch.length; i += WALK_CONCURRENCY) {
        await Promise.all(
          batch.slice(i, i + WALK_CONCURRENCY).map(async (name) => {
            const st = await this.#stat(name);
            if (st === undefined || !st.isFile() || st.nlink < 2n) return;
            const key = inodeKey(st);
            const entry = byInode.get(key) ?? { names: new Set<string>(), links: st.nlink };
            entry.names.add(name);
            byInode.set(key, entry);
          }),
        );
      }
    };
    for (let d = 0; d < dirs.length; d++) {
      const dir = dirs[d]!;
      const entries = await readdir(dir === '' ? this.#root : join(this.#root, dir), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const name = dir === '' ? e.name : `${dir}/${e.name}`;
        if (e.isDirectory()) {
          if (!this.#excluded(name, true)) dirs.push(name);
        } else if (e.isFile() && !this.#excluded(name, false)) files.push(name);
      }
      if (files.length >= 1024) await flush();
    }
    await flush();
    const index = { byInode, seq };
    this.#index = index;
    return index;
  }

  #stat(path: string) {
    return lstat(join(this.#root, path), { bigint: true }).catch(() => undefined);
  }
}

function inodeKey(st: { dev: bigint; ino: bigint }): string {
  return `${st.dev}:${st.ino}`;
}

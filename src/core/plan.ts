/**
 * Batch → Plan. Pure: the file-system facts (does the path exist now, and if not, which of its
 * ancestors is the topmost one gone) arrive as data from the probe at the I/O edge.
 *
 * - A full request wins: one `rsync -a --delete` pass of the root covers every path.
 * - A path whose ancestor is also listed is dropped: rsync's `-r` recursion (for a directory) or
 *   the deletion of the ancestor (when it is gone) already covers it.
 * - A gone path is replaced by its topmost gone ancestor: rsync cannot delete `a/b` when `a` is
 *   gone too (exit 24, and `a` would stay on the replica). See docs/internals.md, "rsync options".
 * - Excludes, now that the type is known: a directory matched by a directory-only pattern
 *   (`cache/`) is dropped. A gone path such a pattern could match is never listed: rsync deletes a
 *   listed missing path without asking whether the replica's entry is a directory that pattern
 *   protects (it tests the exclude as for a file). Its parent is synced one level deep instead
 *   (`shallow`), where rsync's --delete sees the replica's real types: an excluded directory stays,
 *   a file of that name goes.
 * - A file named by an event is compared by content (rsync --ignore-times), because a rewrite that
 *   keeps size and mtime (`cp -p`, `touch -r`, unpacking an archive) passes rsync's quick check.
 *   -I applies to every file of an rsync call, and a listed directory is recursed: with no existing
 *   directory listed, the one call gets -I (`ignoreTimes`); otherwise the named files go to a second
 *   call of their own (`recheck`), so a directory's subtree keeps the quick check. Full passes keep
 *   the quick check too.
 */
import type { Batch } from './coalesce.js';
import type { PathFilter } from './filter.js';
import { parentOf } from './paths.js';

export interface Probe {
  /** The path as it should be listed: itself when present, its topmost gone ancestor when gone. */
  listAs: string;
  exists: boolean;
  /** Present and a real directory. */
  isDir?: boolean;
  /** The path itself is present and a regular file. */
  isFile?: boolean;
  /** Regular files: the inode's link count (st.nlink). */
  links?: number;
}

export type Plan =
  | { kind: 'full' }
  | {
      kind: 'paths';
      /** Listed to one recursive rsync call (may be empty when only the lists below have work). */
      paths: string[];
      /** Deletions: gone paths listed, plus gone names left to a shallow sync. */
      deleted: number;
      /** The call of `paths` compares every file by content (no directory among them). */
      ignoreTimes?: true;
      /** Files named by events, compared by content in a call of their own. */
      recheck?: string[];
      /** Directories synced one level deep (rsync -d, `dir/.`), with --delete. */
      shallow?: string[];
    }
  | { kind: 'none' };

const NOTHING_EXCLUDED: PathFilter = () => false;

export function planBatch(batch: Batch, probes: ReadonlyMap<string, Probe>, excluded: PathFilter = NOTHING_EXCLUDED): Plan {
  if (batch.fullSeq !== undefined) return { kind: 'full' };
  const listed = new Map<string, boolean>();
  // Listed present paths that are, or may be (type unknown), directories.
  const dirs = new Set<string>();
  const named = new Set<string>();
  const goneByType = new Set<string>();
  for (const [p] of batch.entries) {
    const probe = probes.get(p) ?? { listAs: p, exists: false };
    const at = probe.listAs;
    if (at !== '') {
      if (probe.exists && excluded(at, probe.isDir)) continue;
      if (!probe.exists) {
        const asFile = excluded(at, false);
        const asDir = excluded(at, true);
        if (asFile && asDir) continue;
        // Whether rsync would delete it depends on the replica's type there.
        if (asFile !== asDir) {
          goneByType.add(at);
          continue;
        }
      }
    }
    const known = listed.get(at);
    listed.set(at, (known ?? false) || probe.exists);
    if (probe.exists && probe.isDir !== false) dirs.add(at);
    if (probe.exists && probe.isFile === true && at === p) named.add(p);
  }
  if (listed.has('')) return { kind: 'full' };
  const cover = coverOf([...listed.keys()]);
  const isListedDir = (c: string) => listed.get(c) === true && dirs.has(c);
  // A shallow sync is needed only where no listed directory's recursion already covers the parent.
  const coveredByDir = (d: string) => cover.some((c) => isListedDir(c) && (d === c || d.startsWith(`${c}/`)));
  const shallowGone = [...goneByType].filter((g) => !coveredByDir(parentOf(g)));
  const shallow = [...new Set(shallowGone.map(parentOf))].sort(compareAsTree);
  const deleted = cover.filter((p) => listed.get(p) === false).length + shallowGone.length;
  const extra = shallow.length > 0 ? { shallow } : {};
  if (named.size === 0) {
    if (cover.length === 0 && shallow.length === 0) return { kind: 'none' };
    return { kind: 'paths', paths: cover, deleted, ...extra };
  }
  if (!cover.some(isListedDir)) return { kind: 'paths', paths: cover, deleted, ignoreTimes: true, ...extra };
  return { kind: 'paths', paths: cover.filter((c) => !named.has(c)), deleted, recheck: [...named].sort(compareAsTree), ...extra };
}

/** The smallest sorted subset such that every input path is listed or lies below a listed one. */
export function coverOf(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort(compareAsTree);
  const out: string[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && p.startsWith(`${last}/`)) continue;
    out.push(p);
  }
  return out;
}

/**
 * Orders paths so that every descendant directly follows its ancestor: '/' sorts before any other
 * character ('a/b' < 'a-b' < 'a.b'), which plain string order does not do.
 */
export function compareAsTree(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 47) return -1;
    if (cb === 47) return 1;
    return ca - cb;
  }
  return a.length - b.length;
}

export interface Rename {
  from: string;
  to: string;
}

/**
 * Guesses directory renames in a batch, so the replica can move what it has instead of receiving it
 * again (@parcel/watcher reports a rename as delete + create, with no link between the two). A guess
 * only ever saves bytes: the move is done on the replica only when `to` is absent there and `from` is
 * a directory, and the rsync of `to` that follows makes it exactly the source's either way. Pure.
 * Pairs: the only gone path with the only new directory; otherwise a gone path and a directory with
 * the same name (a move to another parent), when that name is unique on both sides.
 */
export function pairRenames(batch: Batch, probes: ReadonlyMap<string, Probe>, plan: Plan): Rename[] {
  if (plan.kind !== 'paths' || plan.deleted === 0) return [];
  const listed = new Set(plan.paths);
  const gone = new Set<string>();
  const dirs = new Set<string>();
  for (const [p] of batch.entries) {
    const probe = probes.get(p);
    if (probe === undefined || !listed.has(probe.listAs)) continue;
    if (!probe.exists) gone.add(probe.listAs);
    else if (probe.isDir === true && probe.listAs === p) dirs.add(p);
  }
  if (gone.size === 0 || dirs.size === 0) return [];
  if (gone.size === 1 && dirs.size === 1) return [{ from: [...gone][0]!, to: [...dirs][0]! }];
  const byName = (paths: Set<string>) => {
    const m = new Map<string, string[]>();
    for (const p of paths) m.set(baseName(p), [...(m.get(baseName(p)) ?? []), p]);
    return m;
  };
  const goneByName = byName(gone);
  const out: Rename[] = [];
  for (const [name, tos] of byName(dirs)) {
    const froms = goneByName.get(name);
    if (froms?.length === 1 && tos.length === 1) out.push({ from: froms[0]!, to: tos[0]! });
  }
  return out;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * Batch → Plan. Pure: the file-system facts (does the path exist now, and if not, which of its
 * ancestors is the topmost one gone) arrive as data from the probe at the I/O edge.
 *
 * - A full request wins: one `rsync -a --delete` pass of the root covers every path.
 * - A path whose ancestor is also listed is dropped: rsync's `-r` recursion (for a directory) or
 *   the deletion of the ancestor (when it is gone) already covers it.
 * - A gone path is replaced by its topmost gone ancestor: rsync cannot delete `a/b` when `a` is
 *   gone too (exit 24, and `a` would stay on the replica). See field-notes.md.
 */
import type { Batch } from './coalesce.js';

export interface Probe {
  /** The path as it should be listed: itself when present, its topmost gone ancestor when gone. */
  listAs: string;
  exists: boolean;
  /** Present and a real directory. */
  isDir?: boolean;
}

export type Plan =
  | { kind: 'full' }
  | { kind: 'paths'; paths: string[]; deleted: number }
  | { kind: 'none' };

export function planBatch(batch: Batch, probes: ReadonlyMap<string, Probe>): Plan {
  if (batch.fullSeq !== undefined) return { kind: 'full' };
  const listed = new Map<string, boolean>();
  for (const [p] of batch.entries) {
    const probe = probes.get(p) ?? { listAs: p, exists: false };
    const known = listed.get(probe.listAs);
    listed.set(probe.listAs, (known ?? false) || probe.exists);
  }
  if (listed.has('')) return { kind: 'full' };
  const paths = coverOf([...listed.keys()]);
  if (paths.length === 0) return { kind: 'none' };
  const deleted = paths.filter((p) => listed.get(p) === false).length;
  return { kind: 'paths', paths, deleted };
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

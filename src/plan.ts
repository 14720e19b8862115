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

/**
 * One delivery of @parcel/watcher events → what the tree watcher does with it. Pure (paths and a
 * few predicates in, plain data out), so every rule is a row in test/watch/events.test.ts.
 *
 * - An event path is made relative to the path string that was subscribed: the root itself, or an
 *   alias of it through a symlink in the private directory (subscription.ts says why). A name beyond
 *   that root (the root itself, a sibling, the private directory, a barrier marker) is dropped, and
 *   so is an excluded one (rsync would skip it anyway).
 * - A directory that appears already filled, or that was replaced within one delivery window
 *   (`update`), may hide unwatched subdirectories: created and updated paths are handed back to be
 *   inspected; above INSPECT_LIMIT creates, their parents are re-synced after a resubscription instead.
 * - A name the side watch (hot-dirs.ts) has already passed on is not dispatched again.
 */
import { relative, sep } from 'node:path';
import type { PathFilter } from '../core/filter.js';
import { parentOf } from '../core/paths.js';

export type WatchEventType = 'create' | 'update' | 'delete';

/** The part of @parcel/watcher's Event this module reads. */
export interface WatchEvent {
  path: string;
  type: WatchEventType;
}

/** Above this many creates in one delivery we stop inspecting them and resubscribe anyway. */
export const INSPECT_LIMIT = 4096;
/** The delivery size above which a burst is left to the full watcher alone (no side watches: hot-dirs.ts). */
export const HOT_TOUCH_LIMIT = 64;

export interface Delivery {
  /** Every event below the root that is not excluded, root-relative and in order ('' = the root: a full pass). */
  seen: Array<{ rel: string; type: WatchEventType }>;
  /** The paths to hand on: `seen` less the names the side watch has already reported. */
  dispatch: string[];
  /** Created paths to look into: one that is a directory with any entry may hide unwatched subdirectories. */
  inspectCreated: string[];
  /** Updated paths to look into: a directory replaced in one window keeps stale watches on its subdirectories. */
  inspectUpdated: string[];
  /** Parents of a burst of creates too large to inspect: to be re-synced recursively after a resubscription. */
  blindParents: string[];
  /** Directories the side watch should follow now (none for a burst). */
  touch: string[];
}

export function translateDelivery(watchedRoot: string, events: readonly WatchEvent[], excluded: PathFilter, covered: (rel: string) => boolean = () => false): Delivery {
  const seen: Delivery['seen'] = [];
  const dispatch: string[] = [];
  const created: string[] = [];
  const updated: string[] = [];
  for (const e of events) {
    const rel = rootRelative(watchedRoot, e.path);
    if (rel === undefined || excluded(rel)) continue;
    seen.push({ rel, type: e.type });
    if (e.type === 'create') created.push(rel);
    else if (e.type === 'update') updated.push(rel);
    if (!covered(rel)) dispatch.push(rel);
  }
  const burst = created.length > INSPECT_LIMIT;
  return {
    seen,
    dispatch,
    inspectCreated: burst ? [] : created,
    inspectUpdated: updated,
    blindParents: burst ? [...new Set(created.map(parentOf))] : [],
    touch: seen.length <= HOT_TOUCH_LIMIT ? [...new Set(seen.map((s) => parentOf(s.rel)))] : [],
  };
}

/** Root-relative POSIX path of `abs`, or undefined when it is the root itself or not below it. */
export function rootRelative(root: string, abs: string): string | undefined {
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
export function nameableAncestor(rel: string): string {
  const bad = rel.indexOf('\uFFFD');
  if (bad === -1) return rel;
  const slash = rel.lastIndexOf('/', bad);
  return slash === -1 ? '' : rel.slice(0, slash);
}

/** The marker files of barrier.ts: `m<n>` directly in its directory. */
export function markerFileName(n: number): string {
  return `m${n}`;
}

/** The marker an event of the barrier directory's subscription names, if it names one. */
export function markerIn(barrierDir: string, path: string): string | undefined {
  const rel = relative(barrierDir, path);
  return /^m[0-9]+$/.test(rel) ? rel : undefined;
}

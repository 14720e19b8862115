/**
 * The plan's file-system facts, gathered at the I/O edge: for each dirty path, what to list so that
 * rsync does the right thing with it. Walking from the root down, the first component that is not a
 * real directory decides:
 * - gone → list it (the topmost gone path: rsync cannot delete `a/b` when `a` is gone too);
 * - a symlink or a file → list it, present: a stale event below it (a phantom after a rename) must
 *   never make rsync -R walk *through* the link and copy what it points to;
 * - none (the path itself exists) → list the path; a regular file also reports its link count, so
 *   the executor can find the other names of a hard-linked file (hard-links.ts).
 * One lstat per component, memoized within the batch. Every replica's lane probes the same paths of a
 * burst at about the same moment: an lstat already under way for the same path is shared (never one
 * that has finished, so no answer is older than the probe that asked), which made four replicas cost
 * four times one (bench/README.md, "Bursts and seeds").
 */
import type { Dir } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Probe } from '../core/plan.js';
import type { RootFacts } from '../core/guard.js';
import { InFlight } from './in-flight.js';

type Kind = { is: 'dir' | 'other' | 'gone' } | { is: 'file'; links: number };

/** lstat calls under way, by absolute path. */
const lstats = new InFlight<Kind>();

function lstatShared(abs: string): Promise<Kind> {
  return lstats.get(abs, () =>
    lstat(abs).then(
      (st): Kind => (st.isDirectory() ? { is: 'dir' } : st.isFile() ? { is: 'file', links: st.nlink } : { is: 'other' }),
      (): Kind => ({ is: 'gone' }),
    ),
  );
}

export async function probePaths(root: string, paths: readonly string[]): Promise<Map<string, Probe>> {
  const kinds = new Map<string, Promise<Kind>>();
  const kindOf = (p: string): Promise<Kind> => {
    let known = kinds.get(p);
    if (known === undefined) {
      known = lstatShared(join(root, p));
      kinds.set(p, known);
    }
    return known;
  };
  const out = new Map<string, Probe>();
  await Promise.all(
    paths.map(async (p) => {
      const parts = p.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        const kind = await kindOf(prefix);
        if (kind.is === 'gone') return void out.set(p, { listAs: prefix, exists: false });
        if (kind.is === 'dir' && i < parts.length) continue;
        const probe: Probe = { listAs: prefix, exists: true, isDir: kind.is === 'dir' };
        if (kind.is === 'file' && i === parts.length) {
          probe.isFile = true;
          probe.links = kind.links;
        }
        return void out.set(p, probe);
      }
    }),
  );
  return out;
}

/** Root checks under way, by root. */
const roots = new InFlight<RootFacts>();

/**
 * Whether the source root exists and holds any entry (`entries` is 0 or 1: only that matters). One
 * entry is read, not the whole listing: every batch of every replica asks, and a web root can hold
 * thousands of names.
 */
export function probeRoot(root: string): Promise<RootFacts> {
  return roots.get(root, () => firstEntry(root));
}

async function firstEntry(root: string): Promise<RootFacts> {
  let dir: Dir;
  try {
    dir = await opendir(root);
  } catch {
    return { exists: false, entries: 0 };
  }
  try {
    return { exists: true, entries: (await dir.read()) === null ? 0 : 1 };
  } catch {
    return { exists: true, entries: 0 };
  } finally {
    await dir.close().catch(() => undefined);
  }
}

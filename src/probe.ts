/**
 * The plan's file-system facts, gathered at the I/O edge: for each dirty path, does it exist now,
 * and if not, which ancestor is the topmost one gone (so the deletion is listed where rsync can
 * perform it). One lstat per path, plus one per gone ancestor, memoized within the batch.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Probe } from './plan.js';
import { parentOf } from './paths.js';

export async function probePaths(root: string, paths: readonly string[]): Promise<Map<string, Probe>> {
  const exists = new Map<string, Promise<boolean>>();
  const existsAt = (p: string): Promise<boolean> => {
    let known = exists.get(p);
    if (known === undefined) {
      known = p === '' ? Promise.resolve(true) : lstat(join(root, p)).then(() => true, () => false);
      exists.set(p, known);
    }
    return known;
  };
  const out = new Map<string, Probe>();
  await Promise.all(
    paths.map(async (p) => {
      if (await existsAt(p)) {
        out.set(p, { listAs: p, exists: true });
        return;
      }
      let top = p;
      for (let up = parentOf(p); up !== '' && !(await existsAt(up)); up = parentOf(up)) top = up;
      out.set(p, { listAs: top, exists: false });
    }),
  );
  return out;
}

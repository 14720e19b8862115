/**
 * Performs guessed directory renames (plan.ts pairRenames) on a replica before the batch's rsync, so
 * a renamed tree is moved there instead of sent again. Each move happens only when the target is
 * absent and the source is a real directory on the replica; failures are ignored: the rsync that
 * follows is what makes the replica right, the move only saves bytes.
 */
import { lstat, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rename } from '../core/plan.js';
import { shellQuote } from '../core/shell-quote.js';

/** The remote command: one guarded `mv` per rename, run from the replica root. Pure. */
export function buildMoveCommand(root: string, renames: readonly Rename[]): string {
  const moves = renames.map(({ from, to }) => {
    const f = shellQuote(from);
    const t = shellQuote(to);
    return `if [ ! -e ${t} ] && [ ! -L ${t} ] && [ -d ${f} ] && [ ! -L ${f} ]; then mv -- ${f} ${t}; fi`;
  });
  return `cd -- ${shellQuote(root)} || exit 0; ${moves.join('; ')}; exit 0`;
}

/** The same guarded moves on a directory of this machine. */
export async function moveLocally(root: string, renames: readonly Rename[]): Promise<void> {
  for (const { from, to } of renames) {
    const target = join(root, to);
    const source = join(root, from);
    const taken = await lstat(target).then(
      () => true,
      () => false,
    );
    const st = await lstat(source).catch(() => undefined);
    if (taken || st === undefined || !st.isDirectory()) continue;
    await rename(source, target).catch(() => {});
  }
}

/**
 * What start() and verify() check before they touch anything: the source is a directory, rsync
 * is installed here, and (start only) the watch limit leaves room for the whole tree. Each refusal
 * is a MirrorError that says what to do.
 */
import { stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import type { PathFilter } from '../core/filter.js';
import { checkWatchBudget, countDirectories, countUsedWatches, directoryUpperBound, readWatchLimit } from '../watch/watch-limit.js';

const debug = createDebug('fam-mirror:preflight');

/** Refuses to watch part of a tree: see watch/watch-limit.ts. An injected limit counts as all free. */
export async function preflightWatches(root: string, excluded: PathFilter, injected: number | undefined): Promise<void> {
  const limit = injected ?? (await readWatchLimit());
  if (limit === undefined) return; // not Linux /proc: nothing to check against
  const used = injected === undefined ? await countUsedWatches(process.getuid?.()) : 0;
  const started = Date.now();
  if (injected === undefined) {
    const bound = await directoryUpperBound(root);
    if (bound !== undefined && bound <= limit - used) {
      debug('preflight: at most %d directories (inodes in use), %d of %d watches in use', bound, used, limit);
      return;
    }
  }
  const dirs = await countDirectories(root, excluded, Math.max(0, limit - used));
  debug('preflight: %d directories, %d of %d watches in use (%d ms)', dirs, used, limit, Date.now() - started);
  checkWatchBudget(root, dirs, { limit, used });
}

export async function checkSource(source: string): Promise<void> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(source);
  } catch (e) {
    throw new MirrorError('ERR_SOURCE_MISSING', `Source ${source} does not exist (${(e as NodeJS.ErrnoException).code}). Check the path, or mount the disk it lives on.`, { path: source, cause: e });
  }
  if (!st.isDirectory()) {
    throw new MirrorError('ERR_SOURCE_NOT_DIR', `Source ${source} is not a directory. Give the directory tree to mirror.`, { path: source });
  }
}

export function checkRsync(rsyncPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(rsyncPath, ['--version'], (err) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new MirrorError('ERR_RSYNC_MISSING', `rsync was not found ("${rsyncPath}"). Install it (e.g. apt-get install rsync) on this machine and on every replica.`, { cause: err }));
      } else resolve();
    });
  });
}

/** What start() and verify() need before anything else: the source and rsync. */
export async function checkTools(o: { source: string; rsyncPath: string }): Promise<void> {
  await checkSource(o.source);
  await checkRsync(o.rsyncPath);
}

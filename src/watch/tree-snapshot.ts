/**
 * The watcher's tree snapshots, for the changes made while no mirror ran: taken from the live
 * subscription's tree (no crawl) and always spelled with the real root, which the next start diffs
 * (snapshot-file.ts moves a snapshot between spellings of the root).
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import type { WatchBackend } from './root-subscriber.js';
import { rebaseSnapshot } from './snapshot-file.js';

/**
 * Written to a temporary file first (@parcel/watcher writes in place) and moved into place only
 * after `barrier`: every change older than the snapshot has then been handed on (and so journaled),
 * so the pair journal + snapshot never misses one.
 */
export async function saveTreeSnapshot(backend: WatchBackend, live: string, root: string, file: string, barrier: () => Promise<void>): Promise<void> {
  const tmp = `${file}.tmp`;
  await backend.writeSnapshot(live, tmp, { backend: 'inotify' });
  // It names every path of the tree; @parcel/watcher creates it with the umask's mode (0644).
  await chmod(tmp, 0o600);
  if (live !== root) await writeFile(tmp, rebaseSnapshot(await readFile(tmp), live, root));
  await barrier();
  await rename(tmp, file);
}

/** Root-relative paths changed since the snapshot in `file`; `scratch` names a file for its respelling. */
export async function treeChangesSince(
  backend: WatchBackend,
  live: string,
  root: string,
  scratch: () => string,
  file: string,
  toRel: (live: string, abs: string) => string | undefined,
): Promise<string[]> {
  let from = file;
  if (live !== root) {
    from = scratch();
    await writeFile(from, rebaseSnapshot(await readFile(file), root, live));
  }
  const events = await backend.getEventsSince(live, from, { backend: 'inotify' });
  const out = new Set<string>();
  for (const e of events) {
    const rel = toRel(live, e.path);
    if (rel !== undefined) out.add(rel);
  }
  return [...out];
}

/**
 * The mirror's exclude rule file (rsync/args.ts encodes it): written once per mirror, private (0600
 * in a fresh 0700 directory), removed at close. rsync reads the patterns from it instead of argv,
 * where a long list made every exec fail with E2BIG.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MirrorError } from '../errors.js';
import { encodeExcludeRules } from './args.js';

export interface ExcludeFile {
  /** undefined when there are no patterns: rsync then gets no exclude option at all. */
  readonly path: string | undefined;
  remove(): Promise<void>;
}

export async function writeExcludeFile(patterns: readonly string[]): Promise<ExcludeFile> {
  if (patterns.length === 0) return { path: undefined, remove: async () => {} };
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'fam-mirror-'));
    const path = join(dir, 'excludes');
    await writeFile(path, encodeExcludeRules(patterns), { mode: 0o600, flag: 'wx' });
    const made = dir;
    return { path, remove: () => rm(made, { recursive: true, force: true }) };
  } catch (e) {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw new MirrorError(
      'ERR_EXCLUDE_FILE',
      `Cannot write the exclude rule file under ${tmpdir()}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Free space there, or point TMPDIR at a writable directory.`,
      { path: dir, cause: e },
    );
  }
}

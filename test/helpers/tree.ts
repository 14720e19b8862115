/**
 * The end-to-end oracle: two trees are equal when they hold the same paths (below the roots) with the
 * same type, permission bits, content, symlink target and file mtime.
 *
 * What is compared, and why not more:
 * - File mtimes as Math.floor(mtimeMs). rsync -a on Linux preserves nanoseconds (measured with
 *   rsync 3.5: `2020-01-02 03:04:05.123456789` arrived intact), so whole milliseconds is a safe, strict
 *   enough grain; comparing whole seconds would hide a lost sub-second part.
 * - Directory and symlink mtimes are compared too. rsync sets them to the nanosecond, but its quick
 *   check compares whole seconds unless --modify-window=-1 (measured with rsync 3.5: without it a link
 *   or a directory changed within the same second keeps the receiver's time, off by a few ms, e.g. a
 *   directory after a --delete-missing-args deletion in it); fam-mirror passes -1, so they must match.
 *   `{ symlinkMtime: false, dirMtime: false }` relaxes that for a test of something else.
 * - The roots themselves are not compared (their modes come from mkdtemp, not from the mirror).
 * - Ownership is not compared: a non-root receiver keeps its own uid.
 *
 * Paths are root-relative, '/'-separated, sorted by UTF-16 code unit (deterministic, locale-free).
 * Names are plain data (newlines, quotes, leading '-', non-ASCII all fine); names that are not valid
 * UTF-8 are out of scope (readdir decodes them lossily).
 */
import { AssertionError } from 'node:assert';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { MARKER_FILES } from '../../src/core/replica-guard.js';

export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  /** st.mode & 0o7777 */
  mode: number;
  /** files only */
  size?: number;
  /** files only */
  sha1?: string;
  /** files and symlinks: Math.floor(st.mtimeMs) */
  mtimeMs?: number;
  /** symlinks only */
  target?: string;
}

export interface DiffOptions {
  /** Compare symlink mtimes (default true; fam-mirror's rsync sets them to the nanosecond). */
  symlinkMtime?: boolean;
  /** Compare directory mtimes (default true). */
  dirMtime?: boolean;
}

/** At most this many files hashed (or lstat'ed) at once: big trees must not hit EMFILE. */
const CONCURRENCY = 16;
const MAX_SHOWN = 20;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function sha1File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha1');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function isENOENT(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

const MARKERS = new Set<string>(MARKER_FILES);

/** The names in a replica root, without its fence marker and owner record. */
export async function listRoot(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !MARKERS.has(n));
}

/** lstat-based walk: symlinks are recorded, never followed. */
export async function snapshotTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const dirs: string[] = [''];
  // Each directory is taken once; the walk ends when no new directory is found.
  for (let d = 0; d < dirs.length; d++) {
    const rel = dirs[d]!;
    let names: string[];
    try {
      names = await readdir(rel === '' ? root : join(root, rel));
    } catch (err) {
      // Removed between its listing and ours: a snapshot of a tree being written may lose it.
      if (rel !== '' && isENOENT(err)) continue;
      throw err;
    }
    // A replica root's fence marker and owner record (src/core/replica-guard.ts) are no part of the tree.
    if (rel === '') names = names.filter((n) => !MARKERS.has(n));
    const entries = await mapLimit(names, CONCURRENCY, async (name): Promise<TreeEntry | undefined> => {
      const p = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, p);
      try {
        const st = await lstat(abs);
        const mode = st.mode & 0o7777;
        if (st.isSymbolicLink()) {
          return { path: p, type: 'symlink', mode, target: await readlink(abs), mtimeMs: Math.floor(st.mtimeMs) };
        }
        if (st.isDirectory()) return { path: p, type: 'dir', mode, mtimeMs: Math.floor(st.mtimeMs) };
        if (st.isFile()) {
          return { path: p, type: 'file', mode, size: st.size, sha1: await sha1File(abs), mtimeMs: Math.floor(st.mtimeMs) };
        }
        return { path: p, type: 'other', mode };
      } catch (err) {
        if (isENOENT(err)) return undefined;
        throw err;
      }
    });
    for (const e of entries) {
      if (!e) continue;
      out.push(e);
      if (e.type === 'dir') dirs.push(e.path);
    }
  }
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

const q = (p: string): string => JSON.stringify(p);
const oct = (m: number): string => `0${m.toString(8).padStart(3, '0')}`;
const when = (ms: number | undefined): string => (ms === undefined ? '?' : new Date(ms).toISOString());

/** Human-readable differences from `a` (expected) to `b` (actual); [] when equal. */
export async function diffTrees(a: string, b: string, opts: DiffOptions = {}): Promise<string[]> {
  const [ea, eb] = await Promise.all([snapshotTree(a), snapshotTree(b)]);
  const diffs: string[] = [];
  // Everything below a directory missing on one side is one line, not hundreds.
  let hidden: { prefix: string; side: 'a' | 'b'; line: number; count: number } | undefined;
  const hide = (e: TreeEntry, side: 'a' | 'b'): boolean => {
    if (hidden && hidden.side === side && e.path.startsWith(hidden.prefix)) {
      hidden.count++;
      return true;
    }
    return false;
  };
  const flush = (): void => {
    if (hidden && hidden.count > 0) diffs[hidden.line] += ` (and ${hidden.count} ${hidden.count === 1 ? 'entry' : 'entries'} below it)`;
    hidden = undefined;
  };
  const onlyIn = (e: TreeEntry, side: 'a' | 'b'): void => {
    if (hide(e, side)) return;
    flush();
    diffs.push(side === 'a' ? `missing: ${q(e.path)} (${e.type})` : `extra: ${q(e.path)} (${e.type})`);
    if (e.type === 'dir') hidden = { prefix: `${e.path}/`, side, line: diffs.length - 1, count: 0 };
  };

  let i = 0;
  let j = 0;
  // Merge of two sorted lists: each step consumes at least one entry.
  while (i < ea.length || j < eb.length) {
    const x = ea[i];
    const y = eb[j];
    if (x && (!y || x.path < y.path)) {
      onlyIn(x, 'a');
      i++;
      continue;
    }
    if (y && (!x || y.path < x.path)) {
      onlyIn(y, 'b');
      j++;
      continue;
    }
    i++;
    j++;
    if (!x || !y) continue;
    flush();
    const name = q(x.path);
    if (x.type !== y.type) {
      diffs.push(`type: ${name}: ${x.type} vs ${y.type}`);
      // Children of the directory side show up as missing/extra; fold them into this line.
      if (x.type === 'dir') hidden = { prefix: `${x.path}/`, side: 'a', line: diffs.length - 1, count: 0 };
      if (y.type === 'dir') hidden = { prefix: `${y.path}/`, side: 'b', line: diffs.length - 1, count: 0 };
      continue;
    }
    if (x.mode !== y.mode) diffs.push(`mode: ${name}: ${oct(x.mode)} vs ${oct(y.mode)}`);
    if (x.type === 'file') {
      if (x.size !== y.size || x.sha1 !== y.sha1) {
        diffs.push(`content: ${name}: ${x.size} bytes sha1 ${x.sha1?.slice(0, 10)} vs ${y.size} bytes sha1 ${y.sha1?.slice(0, 10)}`);
      }
      if (x.mtimeMs !== y.mtimeMs) {
        const delta = (y.mtimeMs ?? 0) - (x.mtimeMs ?? 0);
        diffs.push(`mtime: ${name}: ${when(x.mtimeMs)} vs ${when(y.mtimeMs)} (${delta > 0 ? '+' : ''}${delta} ms)`);
      }
    }
    if (x.type === 'dir' && opts.dirMtime !== false && x.mtimeMs !== y.mtimeMs) {
      diffs.push(`dir mtime: ${name}: ${when(x.mtimeMs)} vs ${when(y.mtimeMs)}`);
    }
    if (x.type === 'symlink') {
      if (x.target !== y.target) diffs.push(`target: ${name}: ${q(x.target ?? '')} vs ${q(y.target ?? '')}`);
      if (opts.symlinkMtime !== false && x.mtimeMs !== y.mtimeMs) {
        diffs.push(`symlink mtime: ${name}: ${when(x.mtimeMs)} vs ${when(y.mtimeMs)}`);
      }
    }
  }
  flush();
  return diffs;
}

/** Throws an AssertionError listing at most 20 differences when the trees differ. */
export async function assertTreesEqual(a: string, b: string, label?: string, opts?: DiffOptions): Promise<void> {
  const diffs = await diffTrees(a, b, opts);
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, MAX_SHOWN).map((d) => `  - ${d}`);
  if (diffs.length > MAX_SHOWN) shown.push(`  … and ${diffs.length - MAX_SHOWN} more`);
  throw new AssertionError({
    message: `${label ? `${label}: ` : ''}tree ${b} differs from ${a} (${diffs.length} difference${diffs.length === 1 ? '' : 's'}):\n${shown.join('\n')}`,
  });
}

/**
 * Polls `fn` until it returns something other than undefined/false, and returns that. A throw counts as
 * "not yet" (so assertions can be polled); the last one is the cause of the timeout error. A call that
 * never settles is abandoned at the deadline.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = Math.max(1, opts.intervalMs ?? 20);
  const deadline = Date.now() + timeoutMs;
  // The deadline bounds the loop; the round cap guards against a clock that does not move.
  const maxRounds = Math.ceil(timeoutMs / intervalMs) + 2;
  let lastError: unknown;
  let pending = false;
  for (let round = 0; round < maxRounds; round++) {
    const remaining = deadline - Date.now();
    const timer = new AbortController();
    const TIMEOUT = Symbol('timeout');
    try {
      const v = await Promise.race([Promise.resolve().then(fn), delay(Math.max(remaining, 0), TIMEOUT, { signal: timer.signal })]);
      if (v === TIMEOUT) {
        pending = true;
        break;
      }
      if (v !== undefined && v !== false) return v as T;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    } finally {
      timer.abort();
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
  const why = pending ? ' (the last call never settled)' : lastError ? `; last error: ${String((lastError as Error)?.message ?? lastError)}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${why}`, { cause: lastError });
}

const temps = new Set<string>();

/** mkdtemp under os.tmpdir(), removed by cleanupTempDirs(). */
export async function makeTempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.add(d);
  return d;
}

/** Tests chmod things to 0; a non-root rm then needs the directories made writable again. */
async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => {});
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const p = join(dir, name);
    const st = await lstat(p).catch(() => undefined);
    if (st?.isDirectory()) await makeWritable(p);
  }
}

export async function cleanupTempDirs(): Promise<void> {
  const dirs = [...temps];
  temps.clear();
  await Promise.all(
    dirs.map(async (d) => {
      try {
        await rm(d, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        await makeWritable(d);
        await rm(d, { recursive: true, force: true, maxRetries: 2 });
      }
    }),
  );
}

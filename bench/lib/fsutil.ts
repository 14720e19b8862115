/**
 * Trees for the comparison scenarios, and cheap "is it there yet?" checks on replicas.
 *
 * Replica checks count only final names: rsync writes a file as `.NAME.XXXXXX` and renames it into
 * place once complete (field-notes.md), so a name without a leading dot is a whole file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { TreeEntry } from '../../test/helpers/tree.js';
import { loRxBytes } from './cli.js';

/** Runs fn(0..n-1) with at most `limit` in flight. */
export async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Entries of `dir` that are not dot-names (rsync's temp files); -1 when the directory is missing. */
export async function finalEntries(dir: string): Promise<number> {
  try {
    const names = await readdir(dir);
    let n = 0;
    for (const name of names) if (name.charCodeAt(0) !== 46) n++;
    return n;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * Polls `check(i)` for each of `n` targets until every one returned true; resolves with, per target,
 * the ms from `t0` to the end of the first poll that found it true. Bounded by `deadlineMs` after t0.
 */
export async function waitEach(n: number, check: (i: number) => Promise<boolean>, t0: number, deadlineMs: number, intervalMs: number, what: string, signal: AbortSignal): Promise<number[]> {
  const found: (number | undefined)[] = Array.from({ length: n }, () => undefined);
  const maxPolls = Math.ceil(deadlineMs / Math.max(1, intervalMs)) + 100;
  for (let poll = 0; poll < maxPolls; poll++) {
    await Promise.all(
      found.map(async (f, i) => {
        if (f === undefined && (await check(i))) found[i] = performance.now() - t0;
      }),
    );
    if (found.every((x) => x !== undefined)) return found as number[];
    if (signal.aborted) throw new Error(`aborted while waiting for ${what}`);
    if (performance.now() - t0 >= deadlineMs) break;
    await delay(intervalMs);
  }
  const missing = found.flatMap((f, i) => (f === undefined ? [i + 1] : []));
  throw new Error(`${what}: not done within ${deadlineMs} ms on target(s) ${missing.join(', ')}`);
}

/**
 * Waits until the loopback interface has carried less than `maxBytes` in `quietMs` (the transfer and
 * its trailing acks are over); returns the rx_bytes reading at that point. Bounded.
 */
export async function waitLoQuiet(quietMs: number, maxBytes: number, deadlineMs: number, signal: AbortSignal): Promise<number> {
  const deadline = performance.now() + deadlineMs;
  let last = loRxBytes();
  const maxPolls = Math.ceil(deadlineMs / quietMs) + 2;
  for (let i = 0; i < maxPolls && performance.now() < deadline; i++) {
    if (signal.aborted) throw new Error('aborted');
    await delay(quietMs);
    const now = loRxBytes();
    if (now - last < maxBytes) return now;
    last = now;
  }
  return loRxBytes();
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export const KiB = (bytes: number): number => bytes / 1024;

/** Bytes per second on lo over one idle second (something else using loopback would skew byte figures). */
export async function loIdleRate(signal: AbortSignal): Promise<number> {
  const before = loRxBytes();
  await delay(1000, undefined, { signal }).catch(() => {});
  return loRxBytes() - before;
}

/**
 * Differences between a snapshot taken once (snapshotTree of the source) and a replica's snapshot:
 * path, type, mode, size, sha1, mtime (ms) and symlink target; directory mtimes too unless
 * `dirMtime` is false. At most `limit` lines.
 */
export function compareSnapshots(a: readonly TreeEntry[], b: readonly TreeEntry[], opts: { dirMtime?: boolean; limit?: number } = {}): string[] {
  const limit = opts.limit ?? 5;
  const key = (e: TreeEntry): string => JSON.stringify([e.type, e.mode, e.size, e.sha1, e.target, e.type === 'dir' && opts.dirMtime === false ? 0 : e.mtimeMs]);
  const bm = new Map(b.map((e) => [e.path, e]));
  const out: string[] = [];
  let more = 0;
  const note = (s: string): void => {
    if (out.length < limit) out.push(s);
    else more++;
  };
  for (const e of a) {
    const o = bm.get(e.path);
    if (o === undefined) note(`missing: ${e.path}`);
    else if (key(e) !== key(o)) note(`differs: ${e.path}`);
    bm.delete(e.path);
  }
  for (const p of bm.keys()) note(`extra: ${p}`);
  if (more > 0) out.push(`… and ${more} more`);
  return out;
}

/**
 * The big-tree scenarios' tree: `top` directories `tNNNN` of `perTop` directories `dNNNN` each, one
 * small `f.txt` in every one of them (top × (perTop + 1) directories and as many files).
 */
export function writeWideTree(source: string, top: number, perTop: number, signal: AbortSignal): void {
  for (let i = 0; i < top; i++) {
    const t = join(source, `t${String(i).padStart(4, '0')}`);
    mkdirSync(t);
    writeFileSync(join(t, 'f.txt'), `top ${i}\n`);
    for (let j = 0; j < perTop; j++) {
      const d = join(t, `d${String(j).padStart(4, '0')}`);
      mkdirSync(d);
      writeFileSync(join(d, 'f.txt'), `dir ${i}/${j}\n`);
    }
    if (signal.aborted) throw new Error('aborted');
  }
}

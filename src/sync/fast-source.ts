/**
 * The source side of a fast-path batch (core/fast-path.ts): each listed path and each of its parents
 * as the source has it now, times to the nanosecond (bigint stat), owners by name as rsync sends
 * them (the master's passwd and group files; a number where a name is missing, as rsync does).
 * A file is read only when it is small enough, and kept only when its stat did not change while it
 * was read (a file being written goes to rsync). Every replica's lane reads the same paths of a
 * change at about the same moment: a read already under way for the same path is shared, as
 * sync/probe.ts shares its lstat (never one that has finished; a change made while it ran is caught
 * by the fstat after its read), so N replicas cost one read instead of N.
 */
import type { BigIntStats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FAST_LIMITS, type FastLimits, type SourceEntry } from '../core/fast-path.js';
import { InFlight } from './in-flight.js';

export async function readSourceEntries(root: string, listed: readonly string[], limits: FastLimits = FAST_LIMITS): Promise<Map<string, SourceEntry>> {
  const names = await ownerNames();
  const out = new Map<string, SourceEntry>();
  const parents = new Set<string>();
  for (const p of listed) {
    for (let a = p; a !== ''; ) {
      a = a.includes('/') ? a.slice(0, a.lastIndexOf('/')) : '';
      parents.add(a);
    }
  }
  await Promise.all([
    ...listed.map(async (p) => out.set(p, await entryShared(root, p, names, limits, true))),
    ...[...parents].map(async (p) => out.set(p, await entryShared(root, p, names, limits, false))),
  ]);
  return out;
}

/** Reads under way, by path, listed or not, and size limit. */
const reads = new InFlight<SourceEntry>();

function entryShared(root: string, path: string, names: Names, limits: FastLimits, listed: boolean): Promise<SourceEntry> {
  return reads.get(`${listed ? 'l' : 'p'}${limits.fileBytes}\0${root}\0${path}`, () => entryOf(root, path, names, limits, listed));
}

async function entryOf(root: string, path: string, names: Names, limits: FastLimits, listed: boolean): Promise<SourceEntry> {
  const full = path === '' ? root : join(root, path);
  let st: BigIntStats;
  try {
    st = await lstat(full, { bigint: true });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? { type: 'gone' } : { type: 'other' };
  }
  if (st.mtimeNs < 0n) return { type: 'other' };
  const mtime = `${st.mtimeNs / 1_000_000_000n}.${(st.mtimeNs % 1_000_000_000n).toString().padStart(9, '0')}`;
  const owner = { user: names.users.get(Number(st.uid)) ?? String(st.uid), group: names.groups.get(Number(st.gid)) ?? String(st.gid) };
  const mode = Number(st.mode & 0o7777n);
  try {
    if (st.isSymbolicLink()) return { type: 'symlink', mtime, ...owner, target: await readlink(full) };
    if (st.isDirectory()) return { type: 'dir', mode, mtime, ...owner, empty: listed ? (await readdir(full)).length === 0 : false };
    if (!st.isFile()) return { type: 'other' };
    const size = Number(st.size);
    const data = listed && size <= limits.fileBytes ? await readStable(full, st, size) : undefined;
    return { type: 'file', mode, mtime, ...owner, links: Number(st.nlink), size, data };
  } catch {
    // Changed under us: rsync's business.
    return { type: 'other' };
  }
}

/**
 * The file's bytes when the file read is the one lstat saw and did not change while it was read
 * (same inode, size and mtime after the read, and exactly `size` bytes), else undefined. One read
 * call of size + 1 bytes on a descriptor that does not follow links, and its fstat: the fewest
 * round trips through libuv's pool (this is on the path of every small change).
 */
async function readStable(full: string, st: BigIntStats, size: number): Promise<Buffer | undefined> {
  const fh = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    const { bytesRead } = await fh.read(buf, 0, size + 1, 0);
    const again = await fh.stat({ bigint: true });
    if (bytesRead !== size || again.ino !== st.ino || again.size !== st.size || again.mtimeNs !== st.mtimeNs) return undefined;
    return buf.subarray(0, size);
  } finally {
    // Not waited for: nothing depends on it.
    void fh.close().catch(() => undefined);
  }
}

interface Names {
  users: Map<number, string>;
  groups: Map<number, string>;
}

let cached: { at: number; names: Promise<Names> } | undefined;
/** Re-read at most this often: accounts change rarely, and rsync looks them up per run. */
const NAMES_TTL_MS = 60_000;

function ownerNames(): Promise<Names> {
  const now = Date.now();
  if (cached === undefined || now - cached.at > NAMES_TTL_MS) cached = { at: now, names: Promise.all([idFile('/etc/passwd'), idFile('/etc/group')]).then(([users, groups]) => ({ users, groups })) };
  return cached.names;
}

/** name:x:id:… lines; the first name of an id wins, as getpwuid's does. */
async function idFile(file: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name === undefined || name === '' || id === undefined || !/^\d+$/.test(id)) continue;
    if (!out.has(Number(id))) out.set(Number(id), name);
  }
  return out;
}

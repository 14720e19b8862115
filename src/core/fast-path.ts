/**
 * Fast path or rsync, for one planned batch and one replica. Pure: the source's entries (read at the
 * I/O edge, sync/fast-source.ts) and what the replica's connection offers (probed once per
 * connection, transport/fast-session.ts) arrive as data.
 *
 * The fast path takes the common small change off rsync (README.md, "How it works"): a few regular
 * files under a size limit, deletes, empty directories, symlinks. Everything else goes to rsync:
 * full passes, directories with content (rsync recurses and deletes there), big files, hard links,
 * special files, a one-level sync, and any batch the fast path is unsure of. It writes what rsync -a
 * would: content, type, mode, symlink target, mtime to the nanosecond, and the owner as rsync's
 * receiver would (by name; as root the user and group, otherwise only a group the login is in), on
 * each listed entry and on every implied parent directory up to the root (rsync sets those too).
 */
import type { Plan } from './plan.js';
import { MARKER_FILES } from './replica-guard.js';

/** A source entry as the fast path needs it; `mtime` is `SEC.NSEC`, exact. */
export type SourceEntry =
  | { type: 'gone' }
  | { type: 'other' }
  | { type: 'file'; mode: number; mtime: string; user: string; group: string; links: number; size: number; data: Buffer | undefined }
  | { type: 'dir'; mode: number; mtime: string; user: string; group: string; empty: boolean }
  | { type: 'symlink'; mtime: string; user: string; group: string; target: string };

/** What the replica's connection offers, probed once: undefined when the fast path cannot run there. */
export interface FastCaps {
  /** The login's uid on the replica: 0 sets owners as rsync's receiver does as root. */
  uid: number;
  /** Group names the login is a member of (a non-root receiver keeps those only). */
  groups: readonly string[];
  /** The login's name and primary group: an owner that is already theirs is not set again. */
  login?: Login;
  /** The replica's sh printf writes any byte exactly: small files travel inside the first step. */
  inline?: boolean;
}

/** Who the replica's login is (its name and primary group's), as the probe found it. */
export interface Login {
  user: string;
  group: string;
}

export interface FastLimits {
  /** The largest file the fast path sends; bigger ones go to rsync (its delta transfer). */
  fileBytes: number;
  /** Bytes of one batch. */
  batchBytes: number;
  /** Listed paths of one batch. */
  paths: number;
}

/**
 * Measured on loopback, one file to 8 replicas (README.md, "How it works"): the fast path's p50 was
 * 0.27× rsync's at 64 bytes, 0.36× at 256 KiB, 0.43× at 1 MiB and 1.1× at 4 MiB (whole files over
 * SFTP against rsync's delta transfer), so files up to 1 MiB. Each path costs a `touch` on the
 * replica (its own nanosecond mtime), so a batch of more than 16 paths goes to rsync, one process.
 */
export const FAST_LIMITS: FastLimits = { fileBytes: 1024 * 1024, batchBytes: 4 * 1024 * 1024, paths: 16 };

/** One attribute set to apply: mode (not for symlinks), mtime, and owner as `user:group` or `:group`. */
export interface FastAttrs {
  path: string;
  mode?: number;
  mtime: string;
  owner?: string;
}

export type FastOp =
  | { kind: 'delete'; path: string }
  | { kind: 'write'; path: string; data: Buffer; attrs: FastAttrs }
  | { kind: 'mkdir'; path: string; attrs: FastAttrs }
  | { kind: 'symlink'; path: string; target: string; attrs: FastAttrs };

export interface FastBatch {
  ops: FastOp[];
  /** Implied parent directories, deepest first, the root ('') last. */
  parents: FastAttrs[];
  /** Exclude rules are set: a directory the batch would remove on the replica goes to rsync (it keeps excluded names). */
  excludes: boolean;
  bytes: number;
}

export type FastDecision = { kind: 'fast'; batch: FastBatch } | { kind: 'rsync'; reason: string };

export interface FastInput {
  plan: Plan;
  /** Every listed path of the plan and every parent of one (root ''), as the source has it now. */
  entries: ReadonlyMap<string, SourceEntry>;
  caps: FastCaps | undefined;
  excludes: boolean;
}

/** The longest name the fast path writes: its temporary name `.NAME.XXXXXX` must fit NAME_MAX (255). */
const MAX_NAME_BYTES = 240;

/**
 * Why the plan goes to rsync whatever its entries are, or undefined: asked before the source is read,
 * so a burst of thousands of paths opens no file for the fast path (reading them all at once ran the
 * process out of file descriptors).
 */
export function rsyncByShape(plan: Plan, limits: FastLimits = FAST_LIMITS): string | undefined {
  if (plan.kind !== 'paths') return plan.kind === 'full' ? 'a full pass' : 'nothing to do';
  if (plan.shallow !== undefined && plan.shallow.length > 0) return 'a one-level sync';
  const listed = plan.paths.length + (plan.recheck?.length ?? 0);
  if (listed === 0) return 'nothing listed';
  if (listed > limits.paths) return `more than ${limits.paths} paths`;
  return undefined;
}

export function decideFastPath(input: FastInput, limits: FastLimits = FAST_LIMITS): FastDecision {
  const { plan, entries, caps } = input;
  if (caps === undefined) return { kind: 'rsync', reason: 'no fast path on this replica' };
  const byShape = rsyncByShape(plan, limits);
  if (byShape !== undefined || plan.kind !== 'paths') return { kind: 'rsync', reason: byShape ?? 'nothing to do' };
  const listed = [...plan.paths, ...(plan.recheck ?? [])];
  const ownerOf = (e: { user: string; group: string }): string | undefined => (caps.uid === 0 ? `${e.user}:${e.group}` : caps.groups.includes(e.group) ? `:${e.group}` : undefined);
  const attrsOf = (path: string, e: Exclude<SourceEntry, { type: 'gone' | 'other' }>): FastAttrs => {
    const owner = ownerOf(e);
    return { path, ...(e.type === 'symlink' ? {} : { mode: e.mode }), mtime: e.mtime, ...(owner === undefined ? {} : { owner }) };
  };
  const ops: FastOp[] = [];
  const parentPaths = new Set<string>();
  let bytes = 0;
  for (const path of listed) {
    if (path === '' || (MARKER_FILES as readonly string[]).includes(path)) return { kind: 'rsync', reason: `${path || 'the root'} is rsync's` };
    if (Buffer.byteLength(path.slice(path.lastIndexOf('/') + 1)) > MAX_NAME_BYTES) return { kind: 'rsync', reason: 'a long name' };
    const e = entries.get(path);
    if (e === undefined || e.type === 'other') return { kind: 'rsync', reason: `${path}: not a file, directory or symlink` };
    for (let p = path; p !== ''; ) {
      p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      parentPaths.add(p);
    }
    if (e.type === 'gone') ops.push({ kind: 'delete', path });
    else if (e.type === 'symlink') ops.push({ kind: 'symlink', path, target: e.target, attrs: attrsOf(path, e) });
    else if (e.type === 'dir') {
      if (!e.empty) return { kind: 'rsync', reason: `${path}: a directory with content` };
      ops.push({ kind: 'mkdir', path, attrs: attrsOf(path, e) });
    } else {
      if (e.links > 1) return { kind: 'rsync', reason: `${path}: hard-linked` };
      if (e.size > limits.fileBytes || e.data === undefined) return { kind: 'rsync', reason: `${path}: bigger than ${limits.fileBytes} bytes` };
      bytes += e.size;
      if (bytes > limits.batchBytes) return { kind: 'rsync', reason: `more than ${limits.batchBytes} bytes` };
      ops.push({ kind: 'write', path, data: e.data, attrs: attrsOf(path, e) });
    }
  }
  const parents: FastAttrs[] = [];
  for (const path of [...parentPaths].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1))) {
    const e = entries.get(path);
    if (e?.type !== 'dir') return { kind: 'rsync', reason: `${path || 'the root'}: not a directory on the source` };
    parents.push(attrsOf(path, e));
  }
  return { kind: 'fast', batch: { ops, parents, excludes: input.excludes, bytes } };
}

function depth(path: string): number {
  if (path === '') return -1;
  let n = 0;
  for (const c of path) if (c === '/') n++;
  return n;
}

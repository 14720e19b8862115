/**
 * Several watched roots mirrored to the same replicas (a watch list), as data. Pure: the files are
 * read by the caller. Each root becomes the options of one Mirror (mirror-group.ts):
 * - a bare host gets each root at the same path (as fam_mirror did); a replica with a path P gets
 *   root R at P/R (rsync -R style), so roots never land on top of each other;
 * - `- PATTERN` lines below a root in the list are excludes of that root only;
 * - never-replicate paths inside a root become anchored excludes of that root: not watched, not
 *   sent, and, being excluded, never deleted on a replica.
 */
import { posix as path } from 'node:path';
import { MirrorError } from '../errors.js';
import type { MirrorOptions } from '../options.js';
import { parseReplicaSpec } from '../replica-spec.js';

/** One watched root and the excludes of that root only. */
export interface WatchRoot {
  source: string;
  exclude: string[];
}

/** One entry per line; blank lines and lines starting with '#' or ';' are comments (as rsync's --exclude-from). */
export function parseListText(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}

/**
 * A watch list: one root per line (relative ones resolved against `cwd`); `- PATTERN` lines (rsync's
 * exclude-rule syntax) below a root are excludes of that root only. An exclude above every root
 * is ERR_WATCH_LIST.
 */
export function parseWatchList(text: string, cwd: string): WatchRoot[] {
  const out: WatchRoot[] = [];
  for (const line of parseListText(text)) {
    if (line.startsWith('- ')) {
      const last = out[out.length - 1];
      if (last === undefined) throw new MirrorError('ERR_WATCH_LIST', `watch list: the exclude "${line}" comes before any root`);
      last.exclude.push(line.slice(2).trim());
    } else out.push({ source: path.resolve(cwd, line), exclude: [] });
  }
  return out;
}

/**
 * Where root `root` goes on the replica `spec` when several roots share it: a bare host keeps the
 * root's path, a host or local directory with a path P gets P/root. A relative local replica
 * (`./backup`) is relative to `cwd`.
 */
export function placeRoot(spec: string, root: string, cwd: string): string {
  const parsed = parseReplicaSpec(spec, cwd);
  if (parsed.kind === 'local') return path.join(parsed.path, root);
  if (parsed.path === undefined) return spec;
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return `ssh://${parsed.user === undefined ? '' : `${parsed.user}@`}${host}:${parsed.port}${path.join(parsed.path, root)}`;
}

/** The never-replicate paths inside `root`, as anchored rsync excludes of that root. */
export function neverExcludes(never: readonly string[], root: string): string[] {
  return never.filter((p) => p.startsWith(`${root}/`)).map((p) => `/${escapePattern(p.slice(root.length + 1))}`);
}

/** A literal path as an rsync pattern: rsync reads backslashes as escapes only in a pattern with wildcards. */
export function escapePattern(literal: string): string {
  return /[*?[]/.test(literal) ? literal.replace(/[\\*?[\]]/g, (c) => `\\${c}`) : literal;
}

/**
 * The options of the Mirror of one root of a group: `shared` are the options every root has in
 * common (no source), `roots` all the group's roots (one root alone keeps the replicas as given).
 * A replica that is not a string is left for normalizeOptions to refuse with its own message.
 */
export function rootOptions(shared: Omit<MirrorOptions, 'source'>, roots: readonly WatchRoot[], never: readonly string[], source: string, cwd: string): MirrorOptions {
  const several = roots.length > 1;
  const replicas = several && Array.isArray(shared.replicas) ? shared.replicas.map((spec) => (typeof spec === 'string' ? placeRoot(spec, source, cwd) : spec)) : shared.replicas;
  const options: MirrorOptions = { ...shared, source, replicas };
  const own = roots.find((r) => r.source === source)?.exclude ?? [];
  const anchored = neverExcludes(never, source);
  if (anchored.length > 0 || own.length > 0) options.exclude = [...(shared.exclude ?? []), ...own, ...anchored];
  return options;
}

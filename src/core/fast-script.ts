/**
 * The shell half of a fast-path batch (core/fast-path.ts): POSIX sh run by the long-lived session on
 * the replica, in three steps around the SFTP transfers (transport/fast-apply.ts). Pure; every path
 * and value passes through shellQuote. Each script runs in a subshell, so `exit` ends the step only.
 *
 * 1. `before`: the replica guard (the same shell as rsync's, core/replica-guard.ts), then checks that
 *    change nothing (every parent a real directory; no directory the batch would remove where exclude
 *    rules could protect names in it; no listed empty directory that has content on the replica:
 *    rsync's --delete would prune it) and, only when all pass, deletes, empty directories, symlinks.
 * 2. `temps`: mtime and owner of the uploaded temporary files, before they are renamed into place.
 * 3. `after`: mtime and owner of symlinks, listed directories and the implied parents, deepest first
 *    (a rename or delete in a directory changes its mtime, so this comes last).
 *
 * mtimes are set by GNU touch with `-d @SEC.NSEC`, the one portable-enough tool that sets them to the
 * nanosecond (rsync compares them with --modify-window=-1): entries sharing a time share one touch.
 */
import type { FastAttrs, FastBatch } from './fast-path.js';
import { guardCommand, type GuardSpec } from './replica-guard.js';
import { shellQuote } from './shell-quote.js';

/** A check failed before anything was written: the batch goes to rsync. Not an rsync or guard code. */
export const FAST_UNSURE = 86;
/** A step failed part-way: the batch goes to rsync, which makes the replica right. */
export const FAST_FAILED = 87;

/** The replica root as the session's `cd` takes it (an empty path is the login's home, as rsync reads `host:`). */
export function remoteRoot(path: string): string {
  return path.replace(/(.)\/+$/, '$1') || '.';
}

/** A root-relative path as an operand inside the root ('' is the root itself). */
function q(path: string): string {
  return shellQuote(path === '' ? '.' : `./${path}`);
}

const fail = ` || exit ${FAST_FAILED}`;
/** True when directory $1 holds any entry (dot names too), with builtins only. */
const HAS_ENTRIES = 'ne() { for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do if [ -e "$f" ] || [ -L "$f" ]; then return 0; fi; done; return 1; }';

export function beforeScript(batch: FastBatch, root: string, guard: GuardSpec | undefined): string {
  const lines: string[] = [];
  if (guard !== undefined) lines.push(guardCommand(guard));
  lines.push(`cd -- ${shellQuote(remoteRoot(root))} || exit ${FAST_UNSURE}`, HAS_ENTRIES);
  for (const p of batch.parents) if (p.path !== '') lines.push(`if [ -L ${q(p.path)} ] || [ ! -d ${q(p.path)} ]; then exit ${FAST_UNSURE}; fi`);
  for (const op of batch.ops) {
    const p = q(op.path);
    if (op.kind === 'mkdir') lines.push(`if [ -d ${p} ] && [ ! -L ${p} ] && ne ${p}; then exit ${FAST_UNSURE}; fi`);
    else if (batch.excludes) lines.push(`if [ -d ${p} ] && [ ! -L ${p} ]; then exit ${FAST_UNSURE}; fi`);
  }
  for (const op of batch.ops) {
    const p = q(op.path);
    if (op.kind === 'delete') lines.push(`if [ -e ${p} ] || [ -L ${p} ]; then rm -rf -- ${p}${fail}; fi`);
    else if (op.kind === 'write') lines.push(`if [ -d ${p} ] && [ ! -L ${p} ]; then rm -rf -- ${p}${fail}; fi`);
    else if (op.kind === 'mkdir') lines.push(`if [ -L ${p} ] || { [ -e ${p} ] && [ ! -d ${p} ]; }; then rm -f -- ${p}${fail}; fi`, `[ -d ${p} ] || mkdir -- ${p}${fail}`);
    else lines.push(`if [ -e ${p} ] || [ -L ${p} ]; then rm -rf -- ${p}${fail}; fi`, `ln -s -- ${shellQuote(op.target)} ${p}${fail}`);
  }
  return lines.join('\n');
}

/** Attributes of the uploaded temporary files (`temps[i]` stands for the i-th write of the batch). */
export function tempsScript(batch: FastBatch, root: string, temps: readonly string[]): string {
  const writes = batch.ops.filter((op) => op.kind === 'write');
  return attrLines(
    root,
    writes.map((w, i) => ({ ...w.attrs, path: temps[i]! })),
    false,
  );
}

export function afterScript(batch: FastBatch, root: string): string {
  const links = batch.ops.flatMap((op) => (op.kind === 'symlink' ? [op.attrs] : []));
  const dirs = batch.ops.flatMap((op) => (op.kind === 'mkdir' ? [op.attrs] : []));
  return [attrLines(root, links, true), attrLines(root, [...dirs, ...batch.parents], false)].filter((s) => s !== '').join('\n');
}

/** chown (grouped by owner) before touch (grouped by time, in order of first appearance). */
function attrLines(root: string, attrs: readonly FastAttrs[], noFollow: boolean): string {
  if (attrs.length === 0) return '';
  const lines = [`cd -- ${shellQuote(remoteRoot(root))} || exit ${FAST_FAILED}`];
  const h = noFollow ? '-h ' : '';
  for (const [owner, paths] of groupBy(attrs, (a) => a.owner)) if (owner !== undefined) lines.push(`chown -h -- ${shellQuote(owner)} ${paths.map(q).join(' ')}${fail}`);
  for (const [mtime, paths] of groupBy(attrs, (a) => a.mtime)) lines.push(`touch ${h}-m -d ${shellQuote(`@${mtime}`)} -- ${paths.map(q).join(' ')}${fail}`);
  return lines.join('\n');
}

function groupBy<K>(attrs: readonly FastAttrs[], key: (a: FastAttrs) => K): Map<K, string[]> {
  const out = new Map<K, string[]>();
  for (const a of attrs) out.set(key(a), [...(out.get(key(a)) ?? []), a.path]);
  return out;
}

/**
 * The shell half of a fast-path batch (core/fast-path.ts): POSIX sh run by the long-lived session on
 * the replica, in two or three steps around the SFTP requests (transport/fast-apply.ts). Pure; every
 * path and value passes through shellQuote. Each script runs in a subshell, so `exit` ends the step only.
 *
 * 1. `before`: the replica guard (the same shell as rsync's, core/replica-guard.ts), then checks that
 *    change nothing (every parent a real directory; no directory the batch would remove where exclude
 *    rules could protect names in it; no listed empty directory that has content on the replica:
 *    rsync's --delete would prune it) and, only when all pass, deletes, empty directories, symlinks,
 *    and the small files' temporary copies, written by the shell's own printf (no process, no SFTP
 *    round trips) with their owner and mtime.
 * 2. `temps`: mtime and owner of the temporary files SFTP uploaded (the bigger ones), before they are
 *    renamed into place.
 * 3. `after`: mtime and owner of symlinks, listed directories and the implied parents, deepest first
 *    (a rename or delete in a directory changes its mtime, so this comes last).
 *
 * mtimes are set by GNU touch with `-d @SEC.NSEC`, the one portable-enough tool that sets them to the
 * nanosecond (rsync compares them with --modify-window=-1): entries sharing a time share one touch.
 * Each `touch` and `chown` is a process on the replica, its main cost per change (bench/README.md,
 * "Full run with the fast path"), so an owner the entry already has (tested with the shell's own
 * `-O`/`-G` where it is the login's) is not set again.
 */
import type { FastAttrs, FastBatch, Login } from './fast-path.js';
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

/** A file's temporary copy beside its target: `temp` is its name, `attrs` the target's. */
export interface TempCopy {
  temp: string;
  data: Buffer;
  attrs: FastAttrs;
}

export interface BeforeExtras {
  inline?: readonly TempCopy[];
  login?: Login | undefined;
}

export function beforeScript(batch: FastBatch, root: string, guard: GuardSpec | undefined, extras: BeforeExtras = {}): string {
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
  const inline = extras.inline ?? [];
  if (inline.length > 0) {
    // Private until SFTP gives the file its mode; noclobber: never through a name someone else made.
    lines.push('umask 077', 'set -C');
    for (const t of inline) lines.push(`if [ -e ${q(t.temp)} ] || [ -L ${q(t.temp)} ]; then exit ${FAST_FAILED}; fi`, `printf ${printfFormat(t.data)} > ${q(t.temp)}${fail}`);
    lines.push(
      ...attrBody(
        inline.map((t) => ({ ...t.attrs, path: t.temp })),
        false,
        extras.login,
      ),
    );
  }
  return lines.join('\n');
}

/** Each byte's spelling in a printf format: as itself only where it cannot mean anything to printf or the quotes. */
const SPELLING = Array.from({ length: 256 }, (_, b) => (/^[A-Za-z0-9 .,:/=+_@]$/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`));

/**
 * `data` as a quoted printf format that prints exactly those bytes: every other byte as a
 * three-digit octal escape (`\NNN`, POSIX printf; a NUL too), so no `%`, backslash, quote or
 * leading `-` is ever read as anything but a byte.
 */
export function printfFormat(data: Buffer): string {
  const parts = new Array<string>(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = SPELLING[data[i]!]!;
  return `'${parts.join('')}'`;
}

/**
 * Attributes of the temporary files SFTP uploaded: `temps` holds them as `{ temp, attrs }` (the
 * attributes of the file each stands for).
 */
export function tempsScript(root: string, temps: readonly { temp: string; attrs: FastAttrs }[], login?: Login): string {
  if (temps.length === 0) return '';
  return [
    cdRoot(root),
    ...attrBody(
      temps.map((t) => ({ ...t.attrs, path: t.temp })),
      false,
      login,
    ),
  ].join('\n');
}

/**
 * `renamed`: the temporary names SFTP is renaming into place at the same moment (the two travel
 * together, on two channels the replica serves independently): the script first waits, bounded,
 * until none of them is left, as a rename in a directory changes its mtime. A rename that fails
 * leaves its name: the master removes it, which ends the wait, and the batch goes to rsync.
 */
export function afterScript(batch: FastBatch, root: string, login?: Login, renamed: readonly string[] = []): string {
  const links = batch.ops.flatMap((op) => (op.kind === 'symlink' ? [op.attrs] : []));
  const dirs = [...batch.ops.flatMap((op) => (op.kind === 'mkdir' ? [op.attrs] : [])), ...batch.parents];
  if (links.length + dirs.length === 0) return '';
  const wait = renamed.length === 0 ? [] : [WAIT_GONE, ...renamed.map((t) => `wg ${q(t)} || exit ${FAST_FAILED}`)];
  return [cdRoot(root), ...wait, ...attrBody(links, true, login), ...attrBody(dirs, false, login)].join('\n');
}

/**
 * Returns once name $1 is gone: first with builtins only (the rename is usually done before the
 * shell gets here), then in 10 ms sleeps; fails after about 5 s (or where sleep takes no fraction).
 */
const WAIT_GONE = 'wg() { i=0; while [ -e "$1" ] || [ -L "$1" ]; do i=$((i+1)); [ $i -le 2500 ] || return 1; [ $i -le 2000 ] || sleep 0.01 || return 1; done; }';

function cdRoot(root: string): string {
  return `cd -- ${shellQuote(remoteRoot(root))} || exit ${FAST_FAILED}`;
}

/**
 * chown (grouped by owner) before touch (grouped by time, in order of first appearance). An owner
 * that is the login's own is tested first with the shell's `-O`/`-G` (no process) and set only on a
 * group where some entry lacks it; a symlink's is always set (test follows links).
 */
function attrBody(attrs: readonly FastAttrs[], noFollow: boolean, login: Login | undefined): string[] {
  const lines: string[] = [];
  const h = noFollow ? '-h ' : '';
  for (const [owner, paths] of groupBy(attrs, (a) => a.owner)) {
    if (owner === undefined) continue;
    const chown = `chown -h -- ${shellQuote(owner)} ${paths.map(q).join(' ')}${fail}`;
    const test = noFollow || login === undefined ? undefined : owner === `${login.user}:${login.group}` ? '[ -O "$f" ] && [ -G "$f" ]' : owner === `:${login.group}` ? '[ -G "$f" ]' : undefined;
    if (test === undefined) lines.push(chown);
    else lines.push(`c=; for f in ${paths.map(q).join(' ')}; do { ${test}; } || c=1; done`, `if [ -n "$c" ]; then ${chown}; fi`);
  }
  for (const [mtime, paths] of groupBy(attrs, (a) => a.mtime)) lines.push(`touch ${h}-m -d ${shellQuote(`@${mtime}`)} -- ${paths.map(q).join(' ')}${fail}`);
  return lines;
}

function groupBy<K>(attrs: readonly FastAttrs[], key: (a: FastAttrs) => K): Map<K, string[]> {
  const out = new Map<K, string[]>();
  for (const a of attrs) out.set(key(a), [...(out.get(key(a)) ?? []), a.path]);
  return out;
}

/**
 * Plan × Replica → rsync argv and stdin; rsync exit code → what the lane does next. Pure.
 *
 * Paths never appear in argv: they travel NUL-separated on stdin (`--from0 --files-from=-`), so a
 * file name is data whatever bytes it holds. The incremental recipe is lsyncd's modern one
 * (field-notes.md): `-r` because --files-from turns -a's recursion off (a new directory would
 * arrive empty); `--delete-missing-args --force` so a gone path, even a non-empty directory, is
 * deleted; `--delete` so a listed directory's extraneous entries go too (only listed directories:
 * implied parents are not touched); `--ignore-errors` so one unreadable file does not cancel the
 * deletions of the rest. `--ignore-times` where the plan asks for a comparison by content.
 *
 * Excludes never appear in argv either: a long list (200,000 patterns) made every exec fail with
 * E2BIG. They go through a rule file (encodeExcludeRules) read with `--exclude-from`.
 */
import type { Plan } from '../core/plan.js';

export interface RsyncTarget {
  /** Local directory, or the remote path when `remote` is set. */
  path: string;
  /** For a remote replica: the remote-shell command rsync must start (the ssh2 bridge). */
  rsh?: string;
  remoteRsyncPath?: string;
}

export interface RsyncCall {
  args: string[];
  /** NUL-separated path list for --files-from=-, or undefined for a full pass. */
  stdin: Buffer | undefined;
}

export interface RsyncSettings {
  source: string;
  /** The mirror's exclude rule file (encodeExcludeRules), or undefined when there are no excludes. */
  excludeFile: string | undefined;
  timeoutSec: number;
}

/** One stdout line per changed entry: item code, bytes sent for it, name (see parseItem). */
export const ITEM_FORMAT = '--out-format=%i %b %n%L';

/** rsync never sees this name as a real host: the bridge routes by its own socket, not by name. */
export const BRIDGE_HOST = 'fam-mirror';

/** Directories synced one level deep: their entries, not their subtrees (see planBatch). */
export interface ShallowPlan {
  kind: 'shallow';
  dirs: string[];
}

export function buildRsyncCall(plan: Exclude<Plan, { kind: 'none' }> | ShallowPlan, target: RsyncTarget, settings: RsyncSettings): RsyncCall {
  const common = [
    '-a',
    '--force',
    '--ignore-errors',
    '--delete',
    // rsync's quick check compares whole seconds by default: a same-size rewrite within the same
    // second (or a file read while being written) would never be sent again. -1 = nanoseconds.
    '--modify-window=-1',
    `--timeout=${settings.timeoutSec}`,
    ...excludeArgs(settings.excludeFile, plan.kind !== 'full'),
    ...remoteShellArgs(target),
  ];
  const ends = ['--', withSlash(settings.source), destinationOf(target)];
  // Full passes (seeds, reconciles) can be long: rsync reports overall progress on stdout too.
  if (plan.kind === 'full') return { args: [ITEM_FORMAT, '--info=progress2', '--no-h', ...common, ...ends], stdin: undefined };
  // -d without -r: a listed 'dir/.' brings the directory's entries, and --delete acts in it alone.
  if (plan.kind === 'shallow') {
    return { args: [ITEM_FORMAT, '-d', '--from0', '--files-from=-', ...common, ...ends], stdin: fileList(plan.dirs.map((d) => (d === '' ? '.' : `${d}/.`))) };
  }
  return {
    args: [ITEM_FORMAT, '-r', '--from0', '--files-from=-', '--delete-missing-args', ...(plan.ignoreTimes === true ? ['--ignore-times'] : []), ...common, ...ends],
    stdin: fileList(plan.paths),
  };
}

/** './' because rsync skips --files-from entries that start with ';' or '#' as comments. */
function fileList(paths: readonly string[]): Buffer {
  return Buffer.from(paths.map((p) => `./${p}\0`).join(''), 'utf8');
}

export interface PlannedCall extends RsyncCall {
  /** What the call lists on stdin, as planned ('full': the whole root). */
  paths: string[] | 'full';
}

/**
 * Every rsync call of a plan, in the order they run: the listed paths (recursive, deletions), the
 * directories synced one level deep, then the event-named files compared by content (-I).
 */
export function buildRsyncCalls(plan: Exclude<Plan, { kind: 'none' }>, target: RsyncTarget, settings: RsyncSettings): PlannedCall[] {
  if (plan.kind === 'full') return [{ ...buildRsyncCall(plan, target, settings), paths: 'full' }];
  const calls: PlannedCall[] = [];
  if (plan.paths.length > 0) calls.push({ ...buildRsyncCall(plan, target, settings), paths: plan.paths });
  if (plan.shallow !== undefined && plan.shallow.length > 0) {
    calls.push({ ...buildRsyncCall({ kind: 'shallow', dirs: plan.shallow }, target, settings), paths: plan.shallow });
  }
  if (plan.recheck !== undefined && plan.recheck.length > 0) {
    const recheck = { kind: 'paths', paths: plan.recheck, deleted: 0, ignoreTimes: true } as const;
    calls.push({ ...buildRsyncCall(recheck, target, settings), paths: plan.recheck });
  }
  return calls;
}

/**
 * A checksum dry run of a full pass: what rsync *would* change, one itemized line per difference
 * (`--out-format` keeps it to the item code and the name; rsync escapes unprintable bytes as \#ooo).
 * Nothing is written on the replica (-n).
 */
export function buildVerifyCall(target: RsyncTarget, settings: RsyncSettings): RsyncCall {
  return {
    args: [
      '-a', '-n', '--checksum', '--delete', '--force', '--modify-window=-1', '--out-format=%i %n%L',
      `--timeout=${settings.timeoutSec}`,
      ...excludeArgs(settings.excludeFile, false),
      ...remoteShellArgs(target),
      '--', withSlash(settings.source), destinationOf(target),
    ],
    stdin: undefined,
  };
}

/**
 * rsync reads an --exclude-from file while it parses that option, so --from0 (which also makes it
 * read the file NUL-separated) must come first; the incremental recipe has it already.
 */
function excludeArgs(file: string | undefined, from0Given: boolean): string[] {
  if (file === undefined) return [];
  return from0Given ? [`--exclude-from=${file}`] : ['--from0', `--exclude-from=${file}`];
}

/**
 * The exclude rule file: one NUL-terminated line per pattern, read with `--from0 --exclude-from`,
 * where each line means exactly what `--exclude=LINE` meant (rsync's man page, FILTER RULES: both
 * options take a pattern with an optional "- " or "+ " prefix, or a lone "!" that clears the
 * list). NUL-terminated, a pattern with a newline survives. rsync skips a line starting with ';'
 * or '#' as a comment: such a pattern is written as the explicit exclude rule "- PATTERN", which is
 * what --exclude made of it. Pure; options.ts refuses what excludeRuleProblem() names.
 */
export function encodeExcludeRules(patterns: readonly string[]): Buffer {
  return Buffer.from(patterns.map((p) => `${ruleLine(p)}\0`).join(''), 'utf8');
}

function ruleLine(pattern: string): string {
  return pattern.startsWith('#') || pattern.startsWith(';') ? `- ${pattern}` : pattern;
}

/** rsync discards a rule line of 4,096 bytes or more ("discarding over-long filter"). */
const MAX_RULE_BYTES = 4095;

/** Why a pattern cannot go through the rule file, or undefined. Pure. */
export function excludeRuleProblem(pattern: string): string | undefined {
  if (pattern.includes('\0')) return 'contains a NUL byte';
  if (Buffer.byteLength(ruleLine(pattern), 'utf8') > MAX_RULE_BYTES) return `is longer than rsync reads (${MAX_RULE_BYTES} bytes with its rule prefix)`;
  return undefined;
}

function remoteShellArgs(target: RsyncTarget): string[] {
  if (target.rsh === undefined) return [];
  const args = [`--rsh=${target.rsh}`];
  if (target.remoteRsyncPath !== undefined && target.remoteRsyncPath !== 'rsync') {
    args.push(`--rsync-path=${target.remoteRsyncPath}`);
  }
  return args;
}

function destinationOf(target: RsyncTarget): string {
  const dir = withSlash(target.path);
  return target.rsh === undefined ? dir : `${BRIDGE_HOST}:${dir}`;
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

export type ExitVerdict = 'ok' | 'partial' | 'retry' | 'fatal';

/**
 * rsync's exit codes (errcode.h) → verdict. `partial` retries the batch but reports the paths as a
 * problem; `fatal` means retrying cannot help until someone fixes the setup (usage, rsync missing
 * on the replica). Anything not in the table is `retry`: an unknown code never stops a lane
 * (design.md invariant 4).
 */
export const EXIT_VERDICTS = {
  0: 'ok',
  24: 'ok', // vanished between event and transfer: the delete event that follows re-plans it
  23: 'partial',
  1: 'fatal', // syntax or usage
  2: 'fatal', // protocol incompatibility
  4: 'fatal', // requested action not supported
  126: 'fatal', // remote rsync not executable
  127: 'fatal', // remote rsync not found
  3: 'retry', // destination missing or unwritable: may be mounted later
  5: 'retry',
  6: 'retry',
  10: 'retry',
  11: 'retry', // file I/O, e.g. receiver disk full
  12: 'retry',
  13: 'retry',
  14: 'retry',
  20: 'retry',
  21: 'retry',
  22: 'retry',
  25: 'retry',
  30: 'retry',
  35: 'retry',
  255: 'retry',
} as const satisfies Record<number, ExitVerdict>;

export function classifyExit(code: number): ExitVerdict {
  return (EXIT_VERDICTS as Record<number, ExitVerdict>)[code] ?? 'retry';
}

export interface PathProblem {
  path: string;
  message: string;
}

/**
 * The per-path failures in rsync's stderr, e.g.
 * `rsync: [receiver] write failed on "/srv/www/big.bin": No space left on device (28)` or
 * `rsync: [generator] delete_file: unlink(old.txt) failed: Permission denied (13)`. Pure; at most
 * `limit` (rsync can print one line per file of a huge tree).
 */
export function parsePathProblems(stderr: string, limit = 50): PathProblem[] {
  const out: PathProblem[] = [];
  for (const line of stderr.split('\n')) {
    if (out.length >= limit) break;
    const m = /^rsync: (?:\[\w+\] )?(.*?)(?:"([^"]+)"|\(([^()]+)\))(.*?): ([^:]+?)(?: \(\d+\))?$/.exec(line.trim());
    if (m === null) continue;
    const path = m[2] ?? m[3];
    if (path === undefined) continue;
    out.push({ path, message: line.trim().replace(/^rsync: /, '') });
  }
  return out;
}

export interface ItemTally {
  /** Entries rsync changed or deleted. */
  changed: number;
  /** Regular files whose data was sent. */
  files: number;
  deleted: number;
  /** Bytes rsync reports as transferred for those entries. */
  bytes: number;
}

export function emptyTally(): ItemTally {
  return { changed: 0, files: 0, deleted: 0, bytes: 0 };
}

/** Adds one ITEM_FORMAT line (`>f.st...... 4096 www/a.html`, `*deleting   0 old`) to a tally. Pure. */
export function tallyItem(t: ItemTally, line: string): void {
  const m = /^(\S+)\s+(\d+) /.exec(line);
  if (m === null) return;
  const item = m[1]!;
  t.changed++;
  t.bytes += Number(m[2]);
  if (item.startsWith('*deleting')) t.deleted++;
  else if ((item[0] === '<' || item[0] === '>') && item[1] === 'f') t.files++;
}

/**
 * The path of an itemized line that created a file or a directory (`>f+++++++++ 12 a/b`,
 * `cd+++++++++ 0 a/`), with rsync's escapes (`\#ooo`) undone; undefined for anything else. Pure.
 */
export function createdItem(line: string): string | undefined {
  const m = /^(>f|cd)\+{9} \d+ (.+)$/s.exec(line);
  if (m === null) return undefined;
  const bytes: number[] = [];
  const raw = Buffer.from(m[2]!.replace(/\/$/, ''), 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 2, i + 5).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 2, i + 5).toString('latin1'), 8));
      i += 4;
    } else bytes.push(raw[i]!);
  }
  const path = Buffer.from(bytes).toString('utf8');
  return path === '' || path === '.' ? undefined : path;
}

export interface ProgressRecord {
  bytes: number;
  percent: number;
  /** rsync's own rendering, e.g. `172.82MB/s`. */
  rate: string;
  /** rsync's estimate (h:mm:ss) of the time left. */
  eta: string;
  /** Files checked so far and in all, when rsync knows (`to-chk`; `ir-chk` while the list still grows). */
  filesDone?: number;
  filesTotal?: number;
}

/** Parses one `--info=progress2 --no-h` record (`6000000 100%  172.82MB/s  0:00:00 (xfr#300, to-chk=0/301)`). Pure. */
export function parseProgress(record: string): ProgressRecord | undefined {
  const m = /^\s*(\d+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:\s+\(xfr#\d+, (?:to|ir)-chk=(\d+)\/(\d+)\))?\s*$/.exec(record);
  if (m === null) return undefined;
  const out: ProgressRecord = { bytes: Number(m[1]), percent: Number(m[2]), rate: m[3]!, eta: m[4]! };
  if (m[5] !== undefined && m[6] !== undefined) {
    out.filesTotal = Number(m[6]);
    out.filesDone = out.filesTotal - Number(m[5]);
  }
  return out;
}

/** Above this many named paths a partial failure is not treated path by path. */
const MAX_PROBLEM_PATHS = 1000;

/**
 * The root-relative paths a partial failure (exit 23) names, so the rest of the batch can be
 * confirmed; undefined when any named path cannot be placed (the whole batch is then retried).
 * rsync names a path absolutely under the source or the replica root, or relative to the replica
 * root; a failed `mkstemp` or `rename` names its temporary file (`dir/.name.XXXXXX`), which stands
 * for `dir/name`. Pure.
 */
export function problemPaths(stderr: string, sourceRoot: string, replicaRoot: string): string[] | undefined {
  const found = parsePathProblems(stderr, MAX_PROBLEM_PATHS + 1);
  // A name deeper than rsync's MAXPATHLEN (4096) is skipped with its own message, relative to the root.
  for (const m of stderr.matchAll(/^filename overflows max-path len by \d+: (.+)$/gm)) found.push({ path: m[1]!, message: m[0] });
  if (found.length === 0 || found.length > MAX_PROBLEM_PATHS) return undefined;
  const out = new Set<string>();
  for (const { path, message } of found) {
    let rel = underRoot(path, sourceRoot) ?? underRoot(path, replicaRoot) ?? (path.startsWith('/') ? undefined : path.replace(/^(?:\.\/)+/, ''));
    if (rel === undefined || rel === '' || rel === '.') return undefined;
    if (/^\[\w+\] (?:mkstemp|rename) /.test(message) || /^(?:mkstemp|rename) /.test(message)) {
      const slash = rel.lastIndexOf('/');
      const m = /^\.(.+)\.[A-Za-z0-9]{6}$/.exec(rel.slice(slash + 1));
      if (m !== null) rel = `${rel.slice(0, slash + 1)}${m[1]}`;
    }
    out.add(rel.replace(/\/+$/, ''));
  }
  return [...out];
}

function underRoot(path: string, root: string): string | undefined {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

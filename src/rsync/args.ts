/**
 * Plan × Replica → rsync argv and stdin. Pure. (What rsync answers is read in output.ts.)
 *
 * Paths never appear in argv: they travel NUL-separated on stdin (`--from0 --files-from=-`), so a
 * file name is data whatever bytes it holds. The incremental recipe is lsyncd's modern one
 * (docs/internals.md, "rsync options"): `-r` because --files-from turns -a's recursion off (a new directory would
 * arrive empty); `--delete-missing-args --force` so a gone path, even a non-empty directory, is
 * deleted; `--delete` so a listed directory's extraneous entries go too (only listed directories:
 * implied parents are not touched); `--ignore-errors` so one unreadable file does not cancel the
 * deletions of the rest. `--ignore-times` where the plan asks for a comparison by content.
 *
 * Excludes never appear in argv either: a long list (200,000 patterns) made every exec fail with
 * E2BIG. They go through a rule file (encodeExcludeRules) read with `--exclude-from`.
 */
import type { Plan } from '../core/plan.js';
import { MARKER_FILES } from '../core/replica-guard.js';

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
    ...MARKER_RULES,
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
      '-a',
      '-n',
      '--checksum',
      '--delete',
      '--force',
      '--modify-window=-1',
      '--out-format=%i %n%L',
      `--timeout=${settings.timeoutSec}`,
      ...MARKER_RULES,
      ...excludeArgs(settings.excludeFile, false),
      ...remoteShellArgs(target),
      '--',
      withSlash(settings.source),
      destinationOf(target),
    ],
    stdin: undefined,
  };
}

/**
 * The fence marker and the owner record at the replica root (core/replica-guard.ts) are neither
 * sent (a promoted standby's own fence must not spread), deleted (--delete leaves excluded names
 * alone) nor listed by verify. First, so no user rule can include them again.
 */
const MARKER_RULES = MARKER_FILES.map((name) => `--filter=- /${name}`);

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

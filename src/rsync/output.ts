/**
 * What rsync says back, read as data: its exit code → what the lane does next (a table), the
 * itemized lines (`--out-format`) → counts and the paths it created, `--info=progress2` records, and
 * the per-path complaints on stderr. Pure.
 */

export type ExitVerdict = 'ok' | 'partial' | 'retry' | 'fatal';

/**
 * rsync's exit codes (errcode.h) → verdict. `partial` retries the batch but reports the paths as a
 * problem; `fatal` means retrying cannot help until someone fixes the setup (usage, rsync missing
 * on the replica). Anything not in the table is `retry`: an unknown code never stops a lane
 * (docs/internals.md, invariant 4).
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
  // Codes rsync never uses: the replica guard's refusals (core/replica-guard.ts, GUARD_EXIT). A
  // refusal needs a human; a root emptied under a seeded replica is answered with a full pass.
  81: 'fatal', // the target's file system is no longer mounted
  82: 'fatal', // the replica is fenced
  83: 'fatal', // another master owns the replica
  84: 'retry', // the root or its owner record vanished: re-seed
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
  /** Of the file list known so far: it can drop while the list still grows (listComplete false). */
  percent: number;
  /** rsync's own rendering, e.g. `172.82MB/s`. */
  rate: string;
  /** The same rate in bytes per second. */
  bytesPerSec: number;
  /** rsync's estimate (h:mm:ss) of the time left, of the list known so far. */
  eta: string;
  /** Files checked so far and in all, when rsync knows (`to-chk`; `ir-chk` while the list still grows). */
  filesDone?: number;
  filesTotal?: number;
  /**
   * rsync has its whole file list (`to-chk`): percent and filesTotal are final. With incremental
   * recursion (`ir-chk`, rsync's man page, --recursive) the list grows while files are sent.
   * Absent when the record does not say (one printed while a file is under way).
   */
  listComplete?: boolean;
}

/** rsync's progress rate units: powers of 1024 whatever the letters say (progress.c). */
const RATE_UNITS: Record<string, number> = { 'kB/s': 1024, 'MB/s': 1024 ** 2, 'GB/s': 1024 ** 3 };

/** Parses one `--info=progress2 --no-h` record (`6000000 100%  172.82MB/s  0:00:00 (xfr#300, to-chk=0/301)`). Pure. */
export function parseProgress(record: string): ProgressRecord | undefined {
  const m = /^\s*(\d+)\s+(\d+)%\s+((\d+(?:\.\d+)?)([kMG]B\/s))\s+(\d+:\d\d:\d\d)(?:\s+\(xfr#\d+, (to|ir)-chk=(\d+)\/(\d+)\))?\s*$/.exec(record);
  if (m === null) return undefined;
  const out: ProgressRecord = {
    bytes: Number(m[1]),
    percent: Number(m[2]),
    rate: m[3]!,
    bytesPerSec: Math.round(Number(m[4]) * RATE_UNITS[m[5]!]!),
    eta: m[6]!,
  };
  if (m[7] !== undefined) out.listComplete = m[7] === 'to';
  if (m[8] !== undefined && m[9] !== undefined) {
    out.filesTotal = Number(m[9]);
    out.filesDone = out.filesTotal - Number(m[8]);
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

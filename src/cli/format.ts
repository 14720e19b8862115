/**
 * What the command prints: log lines, progress bars, the status table, verify's and a reload's
 * report. Pure functions, plus Terminal, which keeps the progress bars below the log on an output
 * it is given (time is an argument too).
 */
import type { StartResult } from '../mirror.js';
import type { GroupReconfigureResult } from '../mirror-group.js';
import type { FullPassReason, ProgressEvent, RepairedEvent, ReplicaCheckedEvent, RestartBacklog, RestartBacklogEvent, SyncedEvent } from '../types.js';
import { codeVerdict } from '../core/error-verdicts.js';
import { repairedSample } from '../sync/drift.js';
import type { VerifyResult } from '../rsync/verify.js';
import type { StatusDocument } from './control.js';
import { describeProgress, humanBytes, nextView, ProgressThrottle, progressBar, type ProgressView } from './progress.js';

export { humanBytes } from './progress.js';

export function logLine(at: Date, line: string): string {
  return `${at.toISOString()} ${line}\n`;
}

/**
 * One line per replica as its start-up check ends; its retries print only when they succeed (a
 * replica down at start would otherwise log every backoff). Undefined: print nothing.
 */
export function describeCheck(e: ReplicaCheckedEvent): string | undefined {
  if (e.check !== undefined) return `${e.replica}: ready (rsync ${e.check.rsyncVersion}, ${e.check.path}${e.check.created ? ', created' : ''})`;
  if (e.attempt > 1 || e.error === undefined) return undefined;
  const state = codeVerdict(e.error.code) === 'needs-a-human' ? 'failed' : 'down, retrying:';
  return `${e.replica}: ${state} ${e.error.code} ${e.error.message}`;
}

/** What a replica lacked at the restart: its count and the seq of the oldest change. */
export function describeOwed(b: RestartBacklog): string {
  const since = b.oldestAt === undefined ? '' : `, ${new Date(b.oldestAt).toISOString().replace(/\.\d+Z$/, 'Z')}`;
  return `${b.changes} journaled change${b.changes === 1 ? '' : 's'} from before the restart (the oldest #${b.oldestSeq}${since})`;
}

export function describeRestartBacklog(e: RestartBacklogEvent): string {
  return e.cleared ? `replica ${e.replica} has caught up: it has the ${describeOwed(e)}` : `replica ${e.replica} is behind: it lacks ${describeOwed(e)}`;
}

/**
 * What the ready line may say about the seed: only what start() observed (design: every claim is
 * true when made), and a dry run only what it would do.
 */
export function seedClaim(options: { initMirror: boolean; dryRun: boolean }, results: StartResult[]): string {
  if (!options.initMirror) return '';
  const seeded = results.flatMap((r) => r.seeded);
  const unseeded = results.flatMap((r) => r.unseeded);
  const failed = results.flatMap((r) => r.failed);
  const total = seeded.length + unseeded.length + failed.length;
  const down = unseeded.length === 0 ? '' : `${unseeded.join(', ')} ${unseeded.length === 1 ? 'is' : 'are'} down`;
  const needsHuman = failed.length === 0 ? '' : `${failed.map((f) => `${f.replica} failed (${f.code})`).join(', ')}`;
  if (options.dryRun) {
    if (unseeded.length + failed.length === 0) return 'dry run: every replica would be seeded (nothing sent); ';
    return `dry run: ${seeded.length} of ${total} would be seeded (nothing sent); ${[down, needsHuman].filter(Boolean).join('; ')}; `;
  }
  if (unseeded.length + failed.length === 0) return 'seeded and ';
  const later = [down && `${down} and will be seeded when back`, needsHuman && `${needsHuman}: it needs a human (see the error above) and is seeded once fixed`];
  return `${seeded.length} of ${total} seeded; ${later.filter(Boolean).join('; ')}; `;
}

export function describeSynced(e: SyncedEvent): string {
  const what = e.full ? 'full pass' : `${e.paths} path${e.paths === 1 ? '' : 's'}${e.deleted ? ` (${e.deleted} deleted)` : ''}`;
  return `synced ${what} to ${e.replica} in ${e.durationMs} ms`;
}

/** A drift pass that ran to its end: why, how many paths it repaired and some of them (names are data: quoted), or that it found nothing. */
export function describeRepaired(e: RepairedEvent): string {
  const why = e.reason === 'drift-startup' ? 'start-up' : 'periodic';
  if (e.repaired === 0) return `drift pass (${why}) on ${e.replica}: nothing to repair`;
  const more = e.repaired > e.sample.length ? ', …' : '';
  return `drift pass (${why}) on ${e.replica} repaired ${e.repaired} path${e.repaired === 1 ? '' : 's'}: ${e.sample.map((p) => JSON.stringify(p)).join(', ')}${more}`;
}

/** Why a full pass ran, in the log's words (core/reconcile-triggers.ts). */
export const FULL_PASS_WHY = {
  seed: 'seed',
  manual: 'asked for',
  burst: 'event burst, events may have been lost',
  'watcher-error': 'watcher error',
  'drift-startup': 'start-up',
  'drift-periodic': 'periodic',
  'unclean-stop': 'unclean stop',
  'no-snapshot': 'no snapshot of the last run',
  'damaged-state': 'damaged state',
  'replica-added': 'replica added',
  'journal-overflow': 'journal overflow',
  'target-emptied': 'replica root emptied',
  resumed: 'resumed after a restart',
} as const satisfies Record<FullPassReason, string>;

/** A live full pass that ran to its end: why, and what it changed (a sample, quoted) or that it found nothing. */
export function describeFullPass(e: SyncedEvent): string {
  const why = FULL_PASS_WHY[e.reason ?? 'resumed'];
  const n = e.changed ?? 0;
  const head = `full pass (${why}) on ${e.replica}`;
  if (n === 0) return `${head}: nothing to ${e.reason === 'seed' ? 'send' : 'repair'} (${e.durationMs} ms)`;
  const sample = repairedSample(e.sample ?? [], 5);
  const more = n > sample.length ? ', …' : '';
  return `${head} ${e.reason === 'seed' ? 'sent' : 'repaired'} ${n} path${n === 1 ? '' : 's'} in ${e.durationMs} ms: ${sample.map((p) => JSON.stringify(p)).join(', ')}${more}`;
}

export function describeVerify(results: VerifyResult[]): string {
  let out = '';
  for (const r of results) {
    if (r.identical) {
      out += `${r.replica}: identical\n`;
      continue;
    }
    const count = r.differences.length + r.more;
    out += `${r.replica}: ${count} difference${count === 1 ? '' : 's'}\n`;
    for (const d of r.differences) out += `  ${d}\n`;
    if (r.more > 0) out += `  … and ${r.more} more\n`;
  }
  return out;
}

/** The log lines of a SIGHUP reload. */
export function describeReload(result: GroupReconfigureResult): string[] {
  const lines = result.rootsChanged ? ['SIGHUP: the watched roots changed; that needs a restart, the replicas are updated only'] : [];
  for (const { source, added, removed, restartNeeded } of result.roots) {
    lines.push(
      `SIGHUP: config reloaded for ${source}; ${added.length === 0 ? 'no replica added' : `added (seeding) ${added.join(', ')}`}; ${removed.length === 0 ? 'none removed' : `removed ${removed.join(', ')}`}`,
    );
    if (restartNeeded.length > 0) lines.push(`SIGHUP: changed for ${source}, but needs a restart (the running mirror keeps the old value): ${restartNeeded.join(', ')}`);
  }
  return lines;
}

/** What a full pass did, in few words: a seed sends, any other pass repairs. */
function describeRepairCount(reason: FullPassReason, n: number): string {
  const verb = reason === 'seed' ? 'send' : 'repair';
  return n === 0 ? `nothing to ${verb}` : `${n} ${reason === 'seed' ? 'sent' : 'repaired'}`;
}

/** `fam-mirror status`: one table per running mirror. */
export function formatStatus(d: StatusDocument, now: number): string {
  const head = ['REPLICA', 'STATE', 'LAG', 'BACKLOG', 'LAST SUCCESS', 'FILES', 'BYTES', 'LAST FULL PASS', 'LAST ERROR'];
  const rows = d.replicas.map((r) => [
    r.replica,
    r.restartBacklog === undefined ? r.state : `${r.state}, lacks ${describeOwed(r.restartBacklog)}`,
    `${r.lagSec.toFixed(1)}s`,
    String(r.backlog),
    r.lastSuccessAt === undefined ? '-' : new Date(r.lastSuccessAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    String(r.filesSent),
    humanBytes(r.bytesSent),
    r.lastFullPass === undefined ? '-' : `${new Date(r.lastFullPass.at).toISOString().slice(11, 19)} ${r.lastFullPass.reason}: ${describeRepairCount(r.lastFullPass.reason, r.lastFullPass.repaired)}`,
    r.lastError === undefined
      ? '-'
      : `${r.lastErrorAt === undefined ? '' : `${new Date(r.lastErrorAt).toISOString().slice(11, 19)} `}${r.lastError.length > 120 ? `${r.lastError.slice(0, 119)}…` : r.lastError}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${d.source} (pid ${d.pid}, up ${Math.round((now - d.startedAt) / 1000)}s)\n${[head, ...rows].map((r) => `  ${line(r)}`).join('\n')}\n`;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Without a terminal, a replica's progress is logged at most this often, fit for journald. */
export const PLAIN_PROGRESS_EVERY_MS = 5000;

/**
 * The log with the progress of full passes: on a terminal, one bar per replica kept at the bottom
 * (redrawn in place); otherwise a plain log line per replica every few seconds.
 */
export class Terminal {
  readonly #out: Output;
  readonly #now: () => number;
  readonly #tty: boolean;
  readonly #current = new Map<string, ProgressEvent>();
  readonly #views = new Map<string, ProgressView>();
  readonly #throttle = new ProgressThrottle(PLAIN_PROGRESS_EVERY_MS);
  readonly #line: (line: string, at: Date) => string;
  #shown = 0;

  /** `line` formats a log line (cli/log-line.ts: the chosen --log-format); default: timestamped. */
  constructor(out: Output, now: () => number = Date.now, line: (line: string, at: Date) => string = (l, at) => logLine(at, l)) {
    this.#out = out;
    this.#now = now;
    this.#line = line;
    this.#tty = out.isTTY === true;
  }

  /** A timestamped line, above the bars. */
  log(line: string): void {
    this.#clear();
    this.#out.write(this.#line(line, new Date(this.#now())));
    this.#draw();
  }

  /** A formatted log line, above the bars, on this output or another (stderr on the same terminal). */
  print(text: string, to: Output = this.#out): void {
    this.#clear();
    to.write(text);
    this.#draw();
  }

  /** Text as it is (a dry run's details below its log line). */
  write(text: string): void {
    this.#out.write(text);
  }

  progress(e: ProgressEvent): void {
    const view = nextView(this.#views.get(e.replica), e);
    this.#views.set(e.replica, view);
    if (!this.#tty) {
      if (this.#throttle.admit(e.replica, this.#now())) this.log(`progress ${e.replica}: ${describeProgress(e, view)}`);
      return;
    }
    this.#clear();
    this.#current.set(e.replica, e);
    this.#draw();
  }

  /** The replica's pass is over: its bar goes. */
  done(replica: string): void {
    this.#views.delete(replica);
    this.#throttle.end(replica);
    if (!this.#current.has(replica)) return;
    this.#clear();
    this.#current.delete(replica);
    this.#draw();
  }

  #clear(): void {
    if (this.#shown === 0) return;
    this.#out.write(`\x1b[${this.#shown}F\x1b[0J`);
    this.#shown = 0;
  }

  #draw(): void {
    if (!this.#tty || this.#current.size === 0) return;
    // A terminal of unknown size (a pty nobody sized says 0 columns) is taken for 80.
    const columns = this.#out.columns !== undefined && this.#out.columns > 0 ? this.#out.columns : 80;
    for (const e of this.#current.values()) this.#out.write(`${progressBar(e, this.#views.get(e.replica) ?? nextView(undefined, e), columns)}\n`);
    this.#shown = this.#current.size;
  }
}

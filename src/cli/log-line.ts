/**
 * One log record as the command writes it: the stream its level goes to, and its text in the
 * chosen format (README, Operating it: Logs). Pure: the clock, the environment and the stream's
 * identity are arguments; cli/logger.ts writes what this returns.
 *
 * - `timestamped`: an ISO time, then the message (a terminal, a plain file);
 * - `plain`: the message alone (`--log-format plain`, or a supervisor that stamps lines itself);
 * - `journald`: the message behind a syslog priority prefix (`<3>` error, `<4>` warning, `<6>`
 *   info), which journald reads from a service's output and keeps as the entry's PRIORITY, so
 *   `journalctl -p warning` still finds them; no timestamp, the journal has its own;
 * - `json`: one object per line for log shippers, fields only where they apply.
 */

export type LogLevel = 'error' | 'warn' | 'info';
export const LOG_FORMATS = ['auto', 'plain', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LineStyle = 'timestamped' | 'plain' | 'journald' | 'json';

export interface LogEntry {
  level: LogLevel;
  /** What happened, stable for scripts: `synced`, `replica-down`, `full-pass`, `stopped`, … */
  event: string;
  message: string;
  replica?: string;
  /** Paths listed to rsync in a batch. */
  paths?: number;
  bytes?: number;
  /** How long it took. */
  ms?: number;
  /** The MirrorError code of a failure. */
  code?: string;
  /** Why a full pass ran (core/reconcile-triggers.ts). */
  reason?: string;
  /** Entries a full pass changed on the replica, and some of their paths. */
  repaired?: number;
  sample?: readonly string[];
}

/** The JSON fields after time, level and event, in this order; message last. */
const FIELDS = ['replica', 'paths', 'bytes', 'ms', 'code', 'reason', 'repaired', 'sample'] as const satisfies ReadonlyArray<keyof LogEntry>;

/** sd-daemon(3)'s SD_ERR, SD_WARNING, SD_INFO. */
export const SYSLOG_PRIORITY = { error: 3, warn: 4, info: 6 } as const satisfies Record<LogLevel, number>;

/**
 * Errors and warnings go to stderr (a pipeline's stdout stays the plain record of work done, and
 * `2>` separates trouble); info to stdout. Under systemd both streams reach the journal.
 */
export function streamOf(level: LogLevel): 'stdout' | 'stderr' {
  return level === 'info' ? 'stdout' : 'stderr';
}

/** `-q` keeps errors and warnings: a warning (an unchecked host key, damaged state) is never routine. */
export function isShown(level: LogLevel, quiet: boolean): boolean {
  return !quiet || level !== 'info';
}

/**
 * Whether stderr is the journal: systemd sets JOURNAL_STREAM to `DEVICE:INODE` of the stream it
 * connected, and only a stream with that identity is it (an inherited variable on a terminal is not).
 */
export function isJournalStream(journalStream: string | undefined, stderr: { dev: number | bigint; ino: number | bigint } | undefined): boolean {
  if (journalStream === undefined || stderr === undefined) return false;
  return journalStream === `${stderr.dev}:${stderr.ino}`;
}

export function lineStyle(format: LogFormat, stderrIsJournal: boolean): LineStyle {
  if (format === 'json') return 'json';
  if (format === 'plain') return 'plain';
  return stderrIsJournal ? 'journald' : 'timestamped';
}

/** The entry as one line (journald: every line of a multi-line message keeps its priority), newline included. */
export function formatLogLine(e: LogEntry, at: Date, style: LineStyle): string {
  switch (style) {
    case 'timestamped':
      return `${at.toISOString()} ${e.message}\n`;
    case 'plain':
      return `${e.message}\n`;
    case 'journald':
      return `${e.message
        .split('\n')
        .map((line) => `<${SYSLOG_PRIORITY[e.level]}>${line}`)
        .join('\n')}\n`;
    case 'json': {
      const o: Record<string, unknown> = { time: at.toISOString(), level: e.level, event: e.event };
      for (const f of FIELDS) if (e[f] !== undefined) o[f] = e[f];
      o.message = e.message;
      return `${JSON.stringify(o)}\n`;
    }
  }
}

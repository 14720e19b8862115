/**
 * The command's log writer: each entry formatted by cli/log-line.ts and written on the stream of its
 * level, above the progress bars. A stdout whose reader went away (`| head`, a closed journal
 * stream) is said once on stderr as ERR_STDOUT_CLOSED and written no more: the mirror goes on.
 */
import { MirrorError } from '../errors.js';
import { formatLogLine, isShown, streamOf, type LineStyle, type LogEntry, type LogLevel } from './log-line.js';
import type { Output, Terminal } from './format.js';

type Fields = Omit<LogEntry, 'level' | 'event' | 'message'>;

export class Logger {
  readonly #term: Terminal;
  readonly #stderr: Output;
  readonly #style: LineStyle;
  readonly #quiet: boolean;
  readonly #now: () => number;
  #stdoutOpen = true;

  constructor(term: Terminal, stderr: Output, opts: { style: LineStyle; quiet: boolean; now?: () => number }) {
    this.#term = term;
    this.#stderr = stderr;
    this.#style = opts.style;
    this.#quiet = opts.quiet;
    this.#now = opts.now ?? Date.now;
  }

  get quiet(): boolean {
    return this.#quiet;
  }

  log(entry: LogEntry): void {
    if (!isShown(entry.level, this.#quiet)) return;
    const text = formatLogLine(entry, new Date(this.#now()), this.#style);
    if (streamOf(entry.level) === 'stderr') this.#term.print(text, this.#stderr);
    else if (this.#stdoutOpen) this.#term.print(text);
  }

  info(event: string, message: string, fields: Fields = {}): void {
    this.#entry('info', event, message, fields);
  }

  warn(event: string, message: string, fields: Fields = {}): void {
    this.#entry('warn', event, message, fields);
  }

  error(event: string, message: string, fields: Fields = {}): void {
    this.#entry('error', event, message, fields);
  }

  /** stdout failed (EPIPE and the like): said once, then info lines are dropped. */
  stdoutClosed(cause: NodeJS.ErrnoException): void {
    if (!this.#stdoutOpen) return;
    this.#stdoutOpen = false;
    const err = new MirrorError(
      'ERR_STDOUT_CLOSED',
      `stdout was closed (${cause.code ?? cause.message}): info lines are no longer written; errors and warnings still go to stderr, and mirroring goes on. Keep the reader open (or redirect stdout to a file or /dev/null).`,
      { cause },
    );
    this.error('stdout-closed', `${err.message} (${err.code})`, { code: err.code });
  }

  #entry(level: LogLevel, event: string, message: string, fields: Fields): void {
    this.log({ level, event, message, ...fields });
  }
}

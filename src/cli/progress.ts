/**
 * How the command shows a full pass under way: one unit system (KiB, MiB, GiB and `/s`, powers of
 * 1024), a percentage only once rsync knows its whole file list and never lower than one already
 * shown, a throttle for logs without a terminal, and bars that fit the terminal's width. Pure; time
 * is an argument.
 *
 * rsync's `--info=progress2` percent is of the file list known so far: with incremental recursion
 * (`ir-chk`, rsync's man page under --recursive) the list grows while files are sent and the percent
 * drops. Until rsync says `to-chk` the line shows files checked and the rate, without percent or ETA.
 */
import type { ProgressEvent } from '../types.js';

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function humanRate(bytesPerSec: number): string {
  return `${humanBytes(Math.round(bytesPerSec))}/s`;
}

/** What one replica's pass has shown so far. */
export interface ProgressView {
  /** undefined while rsync's file list still grows. */
  percent: number | undefined;
  bytes: number;
  /** rsync said its list is complete (to-chk); a record printed mid-file says nothing and keeps it. */
  complete: boolean;
  /** The last file counts rsync gave (a record printed mid-file has none). */
  filesDone?: number;
  filesTotal?: number;
}

/**
 * The view after event `e`: the percent shown never goes down within a pass. A pass's bytes only
 * grow, so fewer bytes than before means a new pass (the last one failed before its end).
 */
export function nextView(prev: ProgressView | undefined, e: ProgressEvent): ProgressView {
  const last = prev === undefined || e.bytes < prev.bytes ? undefined : prev;
  const complete = e.listComplete ?? last?.complete ?? false;
  const view: ProgressView = { percent: last?.percent, bytes: e.bytes, complete };
  const files = e.filesTotal === undefined ? last : e;
  if (files?.filesTotal !== undefined) {
    view.filesDone = files.filesDone;
    view.filesTotal = files.filesTotal;
  }
  if (complete) view.percent = Math.max(last?.percent ?? 0, Math.min(100, e.percent));
  return view;
}

export function describeProgress(e: ProgressEvent, view: ProgressView): string {
  const rate = humanRate(e.bytesPerSec);
  if (view.percent === undefined) {
    const checked = view.filesDone === undefined ? '' : `${view.filesDone} files checked, `;
    return `${checked}listing more, ${humanBytes(e.bytes)}, ${rate}`;
  }
  const files = view.filesTotal === undefined ? '' : ` ${view.filesDone}/${view.filesTotal} files,`;
  return `${view.percent}%${files} ${humanBytes(e.bytes)}, ${rate}, ETA ${e.eta}`;
}

/**
 * One replica's bar, exactly one terminal line (a wrapped line would break the redraw in place): the
 * bar 10 to 30 characters wide as the terminal allows, empty dots while the list is incomplete; a
 * name too long loses its start ("…", the end of a path tells replicas apart), then the line its end.
 */
export function progressBar(e: ProgressEvent, view: ProgressView, columns: number): string {
  const width = Math.max(10, Math.min(30, columns - 70));
  const filled = view.percent === undefined ? 0 : Math.round((width * view.percent) / 100);
  const bar = view.percent === undefined ? '.'.repeat(width) : `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const rest = ` [${bar}] ${describeProgress(e, view)}`;
  const room = columns - 1 - [...rest].length;
  const name = [...e.replica];
  const shown = name.length <= room ? e.replica : room >= 8 ? `…${name.slice(name.length - room + 1).join('')}` : e.replica;
  return fitWidth(`${shown}${rest}`, columns);
}

/** At most columns - 1 characters (the last column would wrap on some terminals), control characters made visible. */
export function fitWidth(line: string, columns: number): string {
  const chars = [...line.replace(/[\x00-\x1f\x7f]/g, '?')];
  const max = Math.max(1, columns - 1);
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Without a terminal: a replica's first line `everyMs` after its pass began, then at most one per
 * `everyMs` (a short pass prints none; its "synced" line says it ended). Time is an argument.
 */
export class ProgressThrottle {
  readonly #everyMs: number;
  readonly #last = new Map<string, number>();

  constructor(everyMs: number) {
    this.#everyMs = everyMs;
  }

  admit(replica: string, now: number): boolean {
    const last = this.#last.get(replica);
    if (last === undefined) {
      this.#last.set(replica, now);
      return false;
    }
    if (now - last < this.#everyMs) return false;
    this.#last.set(replica, now);
    return true;
  }

  /** The replica's pass is over: its next pass starts its own count. */
  end(replica: string): void {
    this.#last.delete(replica);
  }
}

/**
 * "When did each expected file become complete on each replica directory?", for many replicas at once.
 *
 * lib/poll.ts polls every pending file on every replica every ~1 ms: with 16 or 32 replicas that is
 * tens of thousands of stat() calls a second in the bench process, on the same 2 cores as the
 * contenders it measures. Here every replica directory gets an inotify watch (`fs.watch`); an event
 * naming an expected file takes the moment (performance.now() in the handler) and checks the content
 * at once, synchronously (a 64-byte file: a few µs, and no thread-pool round trip to wait for).
 * rsync renames a finished temp file into place (rsync(1), `--temp-dir`/`--inplace`: neither is used
 * here), so the event comes when the content is complete. A slow poll (every `pollMs`) of what is still
 * missing is the safety net for an event the kernel dropped; `byPoll` counts the files it found first
 * (their figure is up to `pollMs` late; most are events still queued behind a busy event loop), so a
 * run can say how much the net was needed.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * True when `file` holds exactly `content`. Any error (missing, replaced meanwhile) is "not yet": it runs
 * in an fs.watch handler, where a throw would end the bench; the deadline reports what never came.
 */
function hasContentSync(file: string, content: Buffer): boolean {
  try {
    return readFileSync(file).equals(content);
  } catch {
    return false;
  }
}

interface Expected {
  name: string;
  content: Buffer;
  t0: number;
  /** ms from t0 to the moment it was seen complete, per directory. */
  found: (number | undefined)[];
  left: number;
}

export interface Arrival {
  name: string;
  t0: number;
  found: number[];
}

export class VisibilityWatch {
  readonly #dirs: readonly string[];
  readonly #pending = new Map<string, Expected>();
  readonly #done: Arrival[] = [];
  readonly #watchers: FSWatcher[] = [];
  /** Files found first by the safety-net poll, and watcher errors. */
  byPoll = 0;
  events = 0;
  watchErrors: string[] = [];

  constructor(dirs: readonly string[]) {
    this.#dirs = dirs;
    dirs.forEach((d, i) => {
      const w = watch(d, { persistent: false }, (_type, name) => {
        this.events++;
        if (typeof name === 'string') this.#check(i, name, performance.now(), false);
      });
      w.on('error', (err) => {
        if (this.watchErrors.length < 10) this.watchErrors.push(`${d}: ${err.message}`);
      });
      this.#watchers.push(w);
    });
  }

  /** Expect `name` with `content` in every directory, timed from `t0` (performance.now()). */
  expect(name: string, content: Buffer, t0: number): void {
    this.#pending.set(name, { name, content, t0, found: this.#dirs.map(() => undefined), left: this.#dirs.length });
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** The oldest file still missing somewhere and where, for an error message. */
  oldestMissing(): string {
    const p = [...this.#pending.values()].sort((a, b) => a.t0 - b.t0)[0];
    if (p === undefined) return 'none';
    return `${p.name} missing on replica(s) ${p.found.flatMap((f, i) => (f === undefined ? [i + 1] : [])).join(', ')}`;
  }

  /** Every file found everywhere, in write order. */
  arrivals(): Arrival[] {
    return [...this.#done].sort((a, b) => a.t0 - b.t0);
  }

  #check(i: number, name: string, now: number, poll: boolean): void {
    const e = this.#pending.get(name);
    if (e === undefined || e.found[i] !== undefined) return;
    if (!hasContentSync(join(this.#dirs[i]!, name), e.content)) return;
    e.found[i] = now - e.t0;
    if (poll) this.byPoll++;
    if (--e.left === 0) {
      this.#pending.delete(name);
      this.#done.push({ name, t0: e.t0, found: e.found as number[] });
    }
  }

  /**
   * Resolves once nothing is pending (after `writing()` turned false), polling what is missing every
   * `pollMs`; rejects past `deadline()` (performance.now() value, re-read each round) or on abort.
   */
  async drain(writing: () => boolean, deadline: () => number, signal: AbortSignal, pollMs = 100): Promise<void> {
    const maxRounds = 1_000_000;
    for (let r = 0; r < maxRounds; r++) {
      if (!writing() && this.#pending.size === 0) return;
      if (signal.aborted) throw new Error('aborted');
      if (performance.now() > deadline()) throw new Error(`${this.#pending.size} file(s) not on every replica in time; oldest ${this.oldestMissing()}`);
      await delay(pollMs);
      const now = performance.now();
      for (const e of this.#pending.values()) {
        if (now - e.t0 < pollMs) continue;
        e.found.forEach((f, i) => {
          if (f === undefined) this.#check(i, e.name, now, true);
        });
      }
    }
    throw new Error('drain: round count exhausted');
  }

  close(): void {
    for (const w of this.#watchers) w.close();
  }
}

/**
 * A lane's drift pass: a full itemized pass (rsync's quick check: a file list, no data unless
 * something differs) that repairs what was changed on the replica behind the mirror's back. It runs
 * at the lowest priority (core/reconcile-triggers.ts, `background`): only while its lane is idle and
 * has been quiet for `quietMs`, and it yields to every live change: its rsync is killed through the
 * signal and the pass starts again after the next quiet period (the quick check makes that cheap:
 * what it already fixed is not sent again). Each kill costs the live batch the time rsync takes to
 * stop (its receiver notices the closed connection within 0.1-0.2 s), so every pass that yielded
 * doubles the quiet period it waits for next (up to a minute): under a steady stream of changes it
 * soon stays out of the way, and it runs in the next real lull. A lane with no lull for
 * `DRIFT_STARVED_MS` would never be checked: its pass then stops yielding and runs to its end at the
 * lane's next idle moment, the live changes waiting for it. It is not journaled work, so it never
 * confirms anything and never moves the durable watermark; only a pass that ran to its end is reported.
 */
import type { Clock } from '../core/schedule.js';
import { MirrorError } from '../errors.js';
import type { BackgroundTrigger } from '../core/reconcile-triggers.js';
import type { BatchExecutor, BatchOutcome, LaneTiming } from './outcome.js';

export type { BackgroundTrigger } from '../core/reconcile-triggers.js';

/** Quiet time on a lane before its drift pass starts (shorter with a short reconcile interval). */
export const DRIFT_QUIET_MS = 5000;
/** The longest quiet period that passes yielding to live changes make it grow to. */
export const DRIFT_QUIET_MAX_MS = 60_000;
/**
 * How long a wanted pass may wait for a lull before it stops yielding: a lane whose changes never pause
 * for a minute would otherwise never be checked for drift. It then runs at the lane's next idle moment
 * to its end, and the live changes that arrive meanwhile wait for it (a quick-check pass: seconds).
 */
export const DRIFT_STARVED_MS = 30 * 60_000;

/** Tests' knobs for the drift passes: their quiet period, and the jitter's random source. */
export interface DriftTuning {
  quietMs?: number;
  starvedMs?: number;
  random?: () => number;
}

/** The lanes' timing with the drift quiet and starvation periods: a short interval gets ones to match, or its passes could hardly ever start. Pure. */
export function withDriftQuiet<T extends { reconcileIntervalSec: number }>(o: T, tuning: DriftTuning): T & { driftQuietMs: number; driftStarvedMs: number } {
  const intervalMs = o.reconcileIntervalSec * 1000;
  return { ...o, driftQuietMs: tuning.quietMs ?? Math.min(DRIFT_QUIET_MS, Math.floor(intervalMs / 4)), driftStarvedMs: tuning.starvedMs ?? Math.min(DRIFT_STARVED_MS, intervalMs) };
}

export interface DriftLane {
  /** Up, with nothing queued or in flight: the only time a drift pass may start. */
  idle(): boolean;
  /** Runs the full pass as a background batch; aborting the signal kills its rsync. */
  execute(signal: AbortSignal, trigger: BackgroundTrigger): Promise<BatchOutcome>;
  /** The pass is over (whatever its end): the lane starts what waited for it. */
  ended(): void;
  /** A pass that ran to its end, with what it repaired. */
  done(trigger: BackgroundTrigger, outcome: BatchOutcome): void;
}

export class DriftPass {
  readonly #lane: DriftLane;
  readonly #clock: Clock;
  readonly #quietMs: number;
  readonly #retryMs: number;
  readonly #starvedMs: number;
  #wanted: BackgroundTrigger | undefined;
  /** The running pass started starved: live changes do not kill it. */
  #holding = false;
  #lastActivity = Number.NEGATIVE_INFINITY;
  #notBefore = 0;
  #cancelTimer: (() => void) | undefined;
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Passes killed by a live change since the last one that ran to its end. */
  #yields = 0;

  constructor(lane: DriftLane, clock: Clock, timing: { quietMs: number; retryMs: number; starvedMs?: number }) {
    this.#lane = lane;
    this.#clock = clock;
    this.#quietMs = timing.quietMs;
    this.#retryMs = timing.retryMs;
    this.#starvedMs = timing.starvedMs ?? DRIFT_STARVED_MS;
  }

  /** A pass is running: the lane starts nothing until it ends. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Asks for a pass, after a quiet period and no sooner than `delayMs` from now (the periodic pass's jitter). One pending pass at a time. */
  request(trigger: BackgroundTrigger, delayMs = 0): void {
    if (this.#closed) return;
    if (this.#wanted === undefined) this.#notBefore = this.#clock.now() + Math.max(delayMs, this.#quietMs);
    this.#wanted ??= trigger;
    this.#arm();
  }

  /** The lane saw a live change or finished a batch: a running pass yields, a pending one waits for quiet. */
  activity(): void {
    this.#lastActivity = this.#clock.now();
    if (!this.#holding) this.#abort?.abort();
    if (this.#wanted !== undefined) this.#arm();
  }

  /** A live full pass ran to its end: it repaired whatever the pending drift pass would have. */
  satisfied(): void {
    this.#wanted = undefined;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** Kills a running pass and waits for it; nothing starts again. */
  async close(): Promise<void> {
    this.#closed = true;
    this.satisfied();
    this.#abort?.abort();
    await this.#running;
  }

  /** When the pass may start: quiet for quietMs since the last activity, and not before its delay. */
  #dueAt(): number {
    if (this.#starved()) return Math.max(this.#notBefore, this.#clock.now());
    const quiet = Math.min(this.#quietMs * 2 ** this.#yields, Math.max(this.#quietMs, DRIFT_QUIET_MAX_MS));
    return Math.max(this.#lastActivity + quiet, this.#notBefore, this.#clock.now());
  }

  /** Wanted, and waited for a lull for `starvedMs` past its earliest start. */
  #starved(): boolean {
    return this.#wanted !== undefined && this.#clock.now() >= this.#notBefore + this.#starvedMs;
  }

  #arm(): void {
    if (this.#closed || this.#cancelTimer !== undefined || this.#running !== undefined) return;
    this.#cancelTimer = this.#clock.after(this.#dueAt() - this.#clock.now(), () => {
      this.#cancelTimer = undefined;
      this.#fire();
    });
  }

  #fire(): void {
    if (this.#closed || this.#wanted === undefined || this.#running !== undefined) return;
    if (this.#dueAt() > this.#clock.now() || !this.#lane.idle()) {
      // Activity since arming moved the due time; a busy lane calls activity() when its batch ends.
      if (this.#dueAt() > this.#clock.now()) this.#arm();
      return;
    }
    const trigger = this.#wanted;
    const abort = new AbortController();
    this.#abort = abort;
    this.#holding = this.#starved();
    this.#running = this.#lane
      .execute(abort.signal, trigger)
      .catch((e: unknown): BatchOutcome => ({ verdict: 'retry', error: e instanceof MirrorError ? e : new MirrorError('ERR_RSYNC', (e as Error).message, { cause: e }) }))
      .then((outcome) => {
        this.#running = undefined;
        this.#abort = undefined;
        this.#holding = false;
        this.#settle(trigger, outcome, abort.signal.aborted);
        this.#lane.ended();
      });
  }

  #settle(trigger: BackgroundTrigger, outcome: BatchOutcome, aborted: boolean): void {
    if (aborted || outcome.aborted === true) {
      // It yielded to a live change: it starts again (from the top) once the lane is quiet for longer.
      this.#yields = Math.min(this.#yields + 1, 16);
      this.#arm();
      return;
    }
    if (outcome.verdict === 'ok' || outcome.verdict === 'partial') {
      this.#yields = 0;
      if (this.#wanted === trigger) this.#wanted = undefined;
      this.#lane.done(trigger, outcome);
      if (this.#wanted !== undefined) this.#arm();
      return;
    }
    // The replica did not answer: the live batches find out and report it; this pass tries again later.
    this.#notBefore = this.#clock.now() + this.#retryMs;
    this.#arm();
  }
}

/** The paths of the first `max` itemized lines (`>f.st...... 4096 www/a.html` → `www/a.html`). Pure. */
export function repairedSample(lines: readonly string[], max = 10): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (out.length >= max) break;
    const m = /^\S+\s+\d+ (.+)$/s.exec(line);
    if (m !== null) out.push(m[1]!.replace(/ -> .*$/s, ''));
  }
  return out;
}

/** A lane's drift pass: a full pass of its runner, in the background (no live concurrency slot), killable. */
export function laneDrift(lane: Omit<DriftLane, 'execute'>, execute: BatchExecutor, clock: Clock, timing: LaneTiming): DriftPass {
  const run = (signal: AbortSignal, reason: BackgroundTrigger) => execute({ entries: [], fullSeq: 0 }, { signal, background: true, reason });
  return new DriftPass({ ...lane, execute: run }, clock, { quietMs: timing.driftQuietMs ?? DRIFT_QUIET_MS, retryMs: timing.retryMaxMs, starvedMs: timing.driftStarvedMs ?? DRIFT_STARVED_MS });
}

/**
 * One replica's lane: its own backlog, one batch in flight, its own state and retries, never waiting for
 * another (docs/internals.md, invariants 2, 4). A batch leaves the backlog only on success; paths rsync
 * named stay as problems (problem-paths.ts). States: core/lane-transitions.ts (`checking` given a check).
 */
import { Pending, type Batch } from '../core/coalesce.js';
import { MirrorError } from '../errors.js';
import { backoffMs, type Clock } from '../core/schedule.js';
import type { BatchExecutor, BatchOutcome, LaneListener, LaneTiming } from './outcome.js';
import { isUp, laneTransition, type LaneNotice, type LiveLaneState } from '../core/lane-transitions.js';
import type { ReplicaStatus } from '../types.js';
import { minSeq, ProblemPaths } from './problem-paths.js';
import { SeqWaiters } from './seq-waiters.js';
import { OneTimer } from './one-timer.js';
import { laneDrift, type BackgroundTrigger, type DriftPass } from './drift.js';

export type { BatchExecutor, BatchOutcome, LaneListener, LaneTiming } from './outcome.js';

export class Lane {
  readonly id: string;
  readonly #pending = new Pending();
  readonly #execute: BatchExecutor;
  readonly #timing: LaneTiming;
  readonly #clock: Clock;
  readonly #listener: LaneListener;
  #state: LiveLaneState;
  #check: (() => Promise<BatchOutcome>) | undefined;
  #inflight: Batch | undefined;
  #inflightSeq: number | undefined;
  /** Highest seq ever added: a batch that takes the whole backlog covers everything up to it. */
  #maxAdded = 0;
  #inflightCovers = 0;
  #running: Promise<void> | undefined;
  readonly #timer: OneTimer;
  #failures = 0;
  #lastError: MirrorError | undefined;
  #lastErrorAt: number | undefined;
  /** Since when this replica has lacked some change: the lag operators watch. */
  #outstandingSince: number | undefined;
  #lastSuccessAt: number | undefined;
  #syncs = 0;
  #closed = false;
  readonly #waiters = new SeqWaiters();
  /** Paths rsync could not handle, with the seq they were dirtied at. */
  readonly #problems = new ProblemPaths();
  #problemTimer: (() => void) | undefined;
  /** The batch in flight is a retry of the problems. */
  #retryingProblems = false;
  /** What the last successful batch covered: the watermark, held below the oldest problem. */
  #covered = 0;
  readonly #drift: DriftPass;

  constructor(id: string, execute: BatchExecutor, timing: LaneTiming, clock: Clock, listener: LaneListener, check?: () => Promise<BatchOutcome>) {
    this.id = id;
    this.#execute = execute;
    this.#timing = timing;
    this.#clock = clock;
    this.#timer = new OneTimer(clock);
    this.#listener = listener;
    this.#check = check;
    this.#state = check === undefined ? 'idle' : 'checking';
    this.#runCheck();
    const idle = () => this.#state === 'idle' && this.#pending.isEmpty && this.#inflight === undefined;
    this.#drift = laneDrift({ idle, ended: () => this.#kick(), done: (t, o) => listener.onDrift?.(t, o) }, execute, clock, timing);
  }

  /** Asks for a drift pass (sync/drift.ts), no sooner than `delayMs` from now. */
  drift(trigger: BackgroundTrigger, delayMs = 0): void {
    if (!this.#closed) this.#drift.request(trigger, delayMs);
  }

  add(paths: readonly string[], seq: number): void {
    this.#accept(seq, (now) => this.#pending.add(paths, seq, now));
  }

  addFull(seq: number): void {
    this.#accept(seq, (now) => this.#pending.addFull(seq, now));
  }

  #accept(seq: number, put: (now: number) => void): void {
    if (this.#closed) return;
    this.#outstandingSince ??= this.#clock.now();
    if (seq > this.#maxAdded) this.#maxAdded = seq;
    put(this.#clock.now());
    this.#drift.activity();
    this.#kick();
  }

  /**
   * Resolves `true` when every change added with a seq ≤ `seq` is confirmed on this replica. A failed
   * lane rejects with its error; with `healthyOnly`, a lane that is (or goes) down or failed resolves
   * `false` instead, so a caller never waits on a dead host.
   */
  confirmed(seq: number, opts: { healthyOnly?: boolean } = {}): Promise<boolean> {
    const from = this.#outstandingFrom();
    if (this.#closed && from !== undefined && from <= seq) return Promise.reject(this.#closedError());
    // Settled at once when it can be (confirmed, or down with healthyOnly, or failed); else it waits.
    const answer = this.#waiters.wait(seq, opts.healthyOnly === true);
    this.#settleWaiters();
    return answer;
  }

  get lastError(): MirrorError | undefined {
    return this.#lastError;
  }

  /** The paths this replica could not be given, oldest first. */
  problems(): string[] {
    return this.#problems.list();
  }

  status(): Omit<ReplicaStatus, 'filesSent' | 'bytesSent'> {
    const since = this.#outstandingSince;
    return {
      replica: this.id,
      state: this.#closed ? 'closed' : this.#state,
      backlog: this.#pending.size + (this.#inflight === undefined ? 0 : this.#inflight.entries.length + (this.#inflight.fullSeq === undefined ? 0 : 1)),
      lagSec: since === undefined ? 0 : Math.max(0, (this.#clock.now() - since) / 1000),
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError?.message,
      lastErrorAt: this.#lastErrorAt,
      syncs: this.#syncs,
      problems: this.#problems.size,
    };
  }

  /** Stops starting batches and waits for the one in flight. The backlog is not drained. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer.cancel();
    this.#problemTimer?.();
    await this.#drift.close();
    await this.#running;
    this.#waiters.rejectAll(this.#closedError());
  }

  #closedError(): MirrorError {
    return new MirrorError('ERR_CLOSED', `Replica ${this.id}: the mirror was closed before these changes were sent.`);
  }

  #outstandingFrom(): number | undefined {
    const a = this.#pending.oldestSeq;
    const b = this.#inflightSeq;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  #kick(): void {
    if (this.#closed || this.#inflight !== undefined || this.#check !== undefined || this.#drift.busy) return;
    const due = !isUp(this.#state) ? undefined : this.#pending.dueAt(this.#timing.quietMs, this.#timing.maxWaitMs);
    if (due === undefined) return;
    this.#arm(due);
  }

  #arm(at: number): void {
    const fire = () => {
      // Changes that arrived since arming moved the due time (quiet window) further out.
      const due = this.#pending.dueAt(this.#timing.quietMs, this.#timing.maxWaitMs);
      if (due !== undefined && due > this.#clock.now()) this.#arm(due);
      else this.#start();
    };
    this.#timer.arm(at, fire, { earliest: true });
  }

  #start(): void {
    if (this.#closed || this.#inflight !== undefined || this.#check !== undefined || this.#drift.busy) return;
    const batch = this.#pending.take();
    if (batch === undefined) return;
    this.#inflight = batch;
    this.#inflightSeq = minSeq(batch);
    this.#inflightCovers = this.#maxAdded;
    this.#state = laneTransition(this.#state, 'started').next;
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined;
    });
  }

  /** The check at start, or its retry (failed, it is retried as a failed batch is). It never rejects. */
  #runCheck(): void {
    if (this.#closed || this.#check === undefined) return;
    this.#running = this.#check().then((outcome) => {
      if (outcome.verdict !== 'ok') this.#failed({ entries: [], fullSeq: undefined }, outcome);
      else {
        this.#check = undefined;
        this.#failures = 0;
        const t = laneTransition(this.#state, 'checked');
        this.#state = t.next;
        this.#tell(t.notify, undefined, false);
      }
      this.#settleWaiters();
      this.#kick();
    });
  }

  /** The problems as a batch of their own, when nothing else is waiting (lowest priority). */
  #retryProblems(afterFailure = false): void {
    this.#problemTimer = undefined;
    if (this.#closed || this.#problems.size === 0 || this.#inflight !== undefined) return;
    if (this.#drift.busy || (!afterFailure && (!this.#pending.isEmpty || !isUp(this.#state)))) {
      this.#armProblems();
      return;
    }
    const batch = this.#problems.asBatch();
    this.#inflight = batch;
    this.#retryingProblems = true;
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined;
    });
  }

  #armProblems(): void {
    if (this.#closed || this.#problemTimer !== undefined || this.#problems.size === 0) return;
    this.#problemTimer = this.#clock.after(this.#timing.retryMaxMs, () => this.#retryProblems());
  }

  async #run(batch: Batch): Promise<void> {
    let outcome: BatchOutcome;
    try {
      outcome = await this.#execute(batch);
    } catch (e) {
      outcome = { verdict: 'retry', error: e instanceof MirrorError ? e : new MirrorError('ERR_RSYNC', `Replica ${this.id}: ${(e as Error).message}`, { cause: e }) };
    }
    const retrying = this.#retryingProblems;
    this.#inflight = undefined;
    this.#inflightSeq = undefined;
    this.#retryingProblems = false;
    const problems = outcome.verdict === 'partial' && outcome.problems !== undefined && outcome.problems.length > 0 ? outcome.problems : undefined;
    if (outcome.verdict === 'ok' || problems !== undefined) {
      // The batch's paths are settled, except the ones rsync named.
      this.#problems.settle(batch);
      if (problems !== undefined) this.#noteProblems(batch, problems, outcome.error);
      if (!retrying) this.#covered = this.#inflightCovers;
      if (batch.fullSeq !== undefined) this.#drift.satisfied();
      this.#succeeded();
      this.#listener.onConfirmed?.(this.#watermark());
      this.#armProblems();
    } else if (retrying) this.#failed({ entries: [], fullSeq: undefined }, outcome);
    else this.#failed(batch, outcome);
    this.#settleWaiters();
    this.#drift.activity();
    this.#kick();
  }

  #noteProblems(batch: Batch, paths: string[], error: MirrorError | undefined): void {
    this.#problems.note(batch, paths, this.#maxAdded);
    if (error !== undefined) {
      this.#lastError = error;
      this.#lastErrorAt = this.#clock.now();
    }
  }

  /** Every change up to this seq is on the replica: what was covered, but never past a problem. */
  #watermark(): number {
    return this.#problems.cap(this.#covered);
  }

  #succeeded(): void {
    this.#failures = 0;
    this.#syncs++;
    this.#lastSuccessAt = this.#clock.now();
    this.#outstandingSince = this.#pending.firstAt;
    const wasUp = isUp(this.#state);
    const t = laneTransition(this.#state, this.#pending.isEmpty ? 'synced' : 'synced-more-queued');
    this.#state = t.next;
    this.#tell(t.notify, undefined, wasUp);
  }

  #failed(batch: Batch, outcome: BatchOutcome): void {
    const now = this.#clock.now();
    this.#pending.restore(batch, now);
    if (this.#closed) return;
    this.#failures++;
    const error = outcome.error ?? new MirrorError('ERR_RSYNC', `Replica ${this.id}: the batch failed.`);
    this.#lastError = error;
    this.#lastErrorAt = now;
    const wasUp = isUp(this.#state);
    const t = laneTransition(this.#state, outcome.verdict === 'fatal' ? 'fatal' : 'retry');
    this.#state = t.next;
    this.#tell(t.notify, error, wasUp);
    if (t.retry === 'none') return;
    const wait = t.retry === 'slow' ? this.#timing.retryMaxMs : backoffMs(this.#failures, this.#timing.retryMinMs, this.#timing.retryMaxMs);
    this.#timer.arm(now + wait, () => {
      if (this.#check !== undefined) return this.#runCheck();
      this.#start();
      // Nothing else queued: the retry that can bring the lane back is the problems' own.
      if (this.#inflight === undefined) this.#retryProblems(true);
    });
  }

  #tell(notice: LaneNotice, error: MirrorError | undefined, wasUp: boolean): void {
    if (notice === 'up') this.#listener.onUp();
    else if (notice === 'down' && error !== undefined) this.#listener.onDown(error);
    else if (notice === 'failed' && error !== undefined) this.#listener.onFailed(error, wasUp);
  }

  #settleWaiters(): void {
    this.#waiters.settle(this.#outstandingFrom(), isUp(this.#state), this.#state === 'failed' ? this.#lastError : undefined);
  }
}

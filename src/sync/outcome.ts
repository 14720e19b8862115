/**
 * What a lane is given and what it tells: the batch runner (sync/batch-runner.ts; tests inject a fake)
 * and its outcome, the timing options, the listener. Shared by the lane and its drift pass (sync/drift.ts).
 */
import type { Batch } from '../core/coalesce.js';
import type { MirrorError } from '../errors.js';
import type { ExitVerdict } from '../rsync/output.js';
import type { BackgroundTrigger } from '../core/reconcile-triggers.js';
import type { NormalizedOptions } from '../options.js';
import type { FullPassReason } from '../types.js';

export interface BatchOutcome {
  verdict: ExitVerdict;
  error?: MirrorError;
  /**
   * With `partial`: the root-relative paths rsync could not handle. Every other path of the batch is
   * confirmed; these stay as the lane's problems, retried slowly, and never hold back other changes.
   */
  problems?: string[];
  /** The run was stopped through its signal: nothing about the replica follows from it. */
  aborted?: boolean;
  /** Full passes: entries rsync changed (itemized lines), and the first of those lines. */
  changed?: number;
  sample?: string[];
}

export interface ExecuteOptions {
  /** Kills the batch's rsync (a background pass yielding to a live change). */
  signal?: AbortSignal;
  /** A background pass: it takes no slot of the live batches' concurrency cap. */
  background?: boolean;
  /** Why this full pass runs (a drift pass says; a live one is looked up by its seq). */
  reason?: FullPassReason;
}

export type BatchExecutor = (batch: Batch, opts?: ExecuteOptions) => Promise<BatchOutcome>;

export interface LaneListener {
  /** Every change added with a seq ≤ `seq` is now on the replica (the durable watermark). */
  onConfirmed?(seq: number): void;
  onDown(error: MirrorError): void;
  onUp(): void;
  /** A failure retrying cannot fix; `wasUp`: the replica was up until now (so it also goes down). */
  onFailed(error: MirrorError, wasUp: boolean): void;
  /** A drift pass (sync/drift.ts) ran to its end. */
  onDrift?(trigger: BackgroundTrigger, outcome: BatchOutcome): void;
}

/** The options a lane times itself by; `driftQuietMs` and `driftStarvedMs` (sync/drift.ts) time its drift pass. */
export type LaneTiming = Pick<NormalizedOptions, 'quietMs' | 'maxWaitMs' | 'retryMinMs' | 'retryMaxMs'> & { driftQuietMs?: number; driftStarvedMs?: number };

/**
 * What a lane is given and what it tells (sync/lane.ts): the batch executor and its outcome, the
 * timing options it uses, and its listener.
 */
import type { MirrorError } from '../errors.js';
import type { Batch } from '../core/coalesce.js';
import type { ExitVerdict } from '../rsync/output.js';
import type { NormalizedOptions } from '../options.js';

export interface BatchOutcome {
  verdict: ExitVerdict;
  error?: MirrorError;
  /**
   * With `partial`: the root-relative paths rsync could not handle. Every other path of the batch is
   * confirmed; these stay as the lane's problems, retried slowly, and never hold back other changes.
   */
  problems?: string[];
}

export type BatchExecutor = (batch: Batch) => Promise<BatchOutcome>;

export type LaneTiming = Pick<NormalizedOptions, 'quietMs' | 'maxWaitMs' | 'retryMinMs' | 'retryMaxMs'>;

export interface LaneListener {
  /** Every change added with a seq ≤ `seq` is now on the replica (the durable watermark). */
  onConfirmed?(seq: number): void;
  onDown(error: MirrorError): void;
  onUp(): void;
  /** A failure retrying cannot fix; `wasUp`: the replica was up until now (so it also goes down). */
  onFailed(error: MirrorError, wasUp: boolean): void;
}

/**
 * A lane's states and what moves it between them, as one table (README, How it works: replicas
 * are independent, so one replica's trouble is a state of that replica only). Pure; sync/lane.ts
 * looks every transition up here and does what the cell says.
 *
 * - `next`: the state after the outcome.
 * - `notify`: what the lane tells its listener: the replica came back (`up`), went down (`down`),
 *   or failed for a reason retrying cannot fix (`failed`, every time such a failure happens).
 * - `retry`: when the batch that did not succeed is tried again: `backoff` (exponential with jitter
 *   between retryMinMs and retryMaxMs), `slow` (every retryMaxMs: a failure that needs a human is
 *   still retried, so the lane heals once the setup is fixed), or `none`.
 */
import type { LaneState } from '../types.js';

/** A lane's own states ('closed' is the mirror's, not a state a lane moves through). */
export type LiveLaneState = Exclude<LaneState, 'closed'>;
export const LANE_STATES = ['checking', 'idle', 'syncing', 'catching-up', 'down', 'failed'] as const satisfies readonly LiveLaneState[];

/**
 * - `started`: a batch of changes was taken from the backlog and handed to the executor.
 * - `synced`: the batch succeeded (or only named paths failed) and the backlog is empty.
 * - `synced-more-queued`: the same, with changes queued meanwhile.
 * - `retry`: the batch failed in a way that can heal by itself (rsync exit, network).
 * - `fatal`: the batch failed in a way that needs a human (host key, auth, a missing rsync there).
 * - `checked`: the replica answered its start-up check (Transport.check()); `retry` and `fatal`
 *   also stand for a check that failed that way, and are retried the same.
 */
export type LaneOutcome = 'started' | 'synced' | 'synced-more-queued' | 'retry' | 'fatal' | 'checked';
export const LANE_OUTCOMES = ['started', 'synced', 'synced-more-queued', 'retry', 'fatal', 'checked'] as const satisfies readonly LaneOutcome[];

export type LaneNotice = 'up' | 'down' | 'failed' | 'none';
export type LaneRetry = 'none' | 'backoff' | 'slow';

export interface LaneTransition {
  next: LiveLaneState;
  notify: LaneNotice;
  retry: LaneRetry;
}

const stay = <S extends LiveLaneState>(next: S) => ({ next, notify: 'none', retry: 'none' }) as const;

export const LANE_TRANSITIONS = {
  // Just added: no batch starts before the replica answered its check; what arrives meanwhile waits.
  checking: {
    started: stay('checking'),
    synced: stay('idle'),
    'synced-more-queued': stay('idle'),
    retry: { next: 'down', notify: 'down', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    checked: stay('idle'),
  },
  // In step: a success keeps it so (more queued is the normal flow, not a catch-up).
  idle: {
    started: { next: 'syncing', notify: 'none', retry: 'none' },
    synced: stay('idle'),
    'synced-more-queued': stay('idle'),
    retry: { next: 'down', notify: 'down', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    checked: stay('idle'),
  },
  syncing: {
    started: stay('syncing'),
    synced: stay('idle'),
    'synced-more-queued': stay('idle'),
    retry: { next: 'down', notify: 'down', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    checked: stay('syncing'),
  },
  // Back from an outage: 'catching-up' until the backlog is drained.
  'catching-up': {
    started: stay('catching-up'),
    synced: stay('idle'),
    'synced-more-queued': stay('catching-up'),
    retry: { next: 'down', notify: 'down', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    checked: stay('catching-up'),
  },
  // Already down: another failure is not news (no second 'down'); a success is.
  down: {
    started: stay('down'),
    synced: { next: 'idle', notify: 'up', retry: 'none' },
    'synced-more-queued': { next: 'catching-up', notify: 'up', retry: 'none' },
    retry: { next: 'down', notify: 'none', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    // Down at start, answering now: its queued changes flow next.
    checked: { next: 'idle', notify: 'up', retry: 'none' },
  },
  // A failure that heals by itself after one that needed a human: the human fixed it, the host is still away.
  failed: {
    started: stay('failed'),
    synced: { next: 'idle', notify: 'up', retry: 'none' },
    'synced-more-queued': { next: 'catching-up', notify: 'up', retry: 'none' },
    retry: { next: 'down', notify: 'none', retry: 'backoff' },
    fatal: { next: 'failed', notify: 'failed', retry: 'slow' },
    checked: { next: 'idle', notify: 'up', retry: 'none' },
  },
} as const satisfies Record<LiveLaneState, Record<LaneOutcome, LaneTransition>>;

export function laneTransition(state: LiveLaneState, outcome: LaneOutcome): LaneTransition {
  return LANE_TRANSITIONS[state][outcome];
}

/**
 * Up means flush() waits for it even with healthyOnly: the replica takes batches, or (checking) may
 * yet. It has not necessarily answered: see answered().
 */
export function isUp(state: LiveLaneState): boolean {
  return state !== 'down' && state !== 'failed';
}

/** The replica answered (its check or its last batch): what the metrics call up. */
export function answered(state: LiveLaneState): boolean {
  return isUp(state) && state !== 'checking';
}

/**
 * What starts a reconcile (a full `rsync -a --delete` pass of the root, itemized so only what
 * differs is sent), for whom, and when: one table that sync/reconcile-scheduler.ts and
 * sync/recovery.ts consult. Events are hints and can be lost (README, How it works); each row is a
 * way of knowing, or suspecting, that some were. Pure.
 *
 * - `for`: every replica (one journaled delivery of the root), or only the replica concerned (a
 *   journaled pass for that replica alone, which also moves its watermark up to just below it).
 * - `when`: `now`; `after-quiet` (once the trigger has been quiet for a while, so one pass follows a
 *   storm); `by-the-watcher` (the watcher queues the pass itself once it watches again: queued
 *   earlier, it would miss what happens while nothing watches).
 * - `problem`: the code of the `problem` event each replica concerned gets first, saying why it is
 *   sent everything; `none` where the user asked for it or nothing was wrong.
 * - `priority`: `live` passes are journaled deliveries, queued like any change; `background` ones
 *   (drift repair, sync/drift.ts) are not journaled, run only on a lane with nothing else to do,
 *   after `when-idle`'s quiet period, and are killed as soon as a live change arrives.
 */

export type ReconcileTrigger =
  /** initMirror: the first pass of every replica. */
  | 'seed'
  /** Mirror.reconcile(), called by the embedding app. */
  | 'manual'
  /** A burst of events large enough that the kernel's queue may have overflowed (dropped silently). */
  | 'burst'
  /** The watcher failed and is replacing its subscription. */
  | 'watcher-error'
  /** Drift repair once every replica is started and caught up (off with reconcileIntervalSec 0). */
  | 'drift-startup'
  /** Drift repair every reconcileIntervalSec, spread with jitter across replicas. */
  | 'drift-periodic'
  /** The last run was killed or crashed: what changed after its last snapshot is unknown. */
  | 'unclean-stop'
  /** A clean stop without its tree snapshot: what changed while stopped is unknown. */
  | 'no-snapshot'
  /** A replica's saved state does not check out: it is never trusted. */
  | 'damaged-state'
  /** A replica added to a running mirror: it has no watermark to resume from. */
  | 'replica-added'
  /** A replica so far behind that the journal would grow past journalLimitBytes for it. */
  | 'journal-overflow'
  /** The replica's root, or its owner record, vanished after this master seeded it (re-imaged, emptied). */
  | 'target-emptied';

export interface ReconcileRule {
  for: 'every-replica' | 'that-replica';
  when: 'now' | 'after-quiet' | 'by-the-watcher' | 'when-idle';
  problem: 'ERR_STATE_UNCLEAN' | 'ERR_STATE_DAMAGED' | 'ERR_TARGET_EMPTIED' | 'none';
  priority: 'live' | 'background';
}

export const RECONCILE_TRIGGERS = {
  seed: { for: 'every-replica', when: 'now', problem: 'none', priority: 'live' },
  manual: { for: 'every-replica', when: 'now', problem: 'none', priority: 'live' },
  burst: { for: 'every-replica', when: 'after-quiet', problem: 'none', priority: 'live' },
  'watcher-error': { for: 'every-replica', when: 'by-the-watcher', problem: 'none', priority: 'live' },
  'drift-startup': { for: 'every-replica', when: 'when-idle', problem: 'none', priority: 'background' },
  'drift-periodic': { for: 'every-replica', when: 'when-idle', problem: 'none', priority: 'background' },
  'unclean-stop': { for: 'every-replica', when: 'now', problem: 'ERR_STATE_UNCLEAN', priority: 'live' },
  'no-snapshot': { for: 'every-replica', when: 'now', problem: 'none', priority: 'live' },
  'damaged-state': { for: 'that-replica', when: 'now', problem: 'ERR_STATE_DAMAGED', priority: 'live' },
  'replica-added': { for: 'that-replica', when: 'now', problem: 'none', priority: 'live' },
  'journal-overflow': { for: 'that-replica', when: 'now', problem: 'none', priority: 'live' },
  'target-emptied': { for: 'that-replica', when: 'now', problem: 'ERR_TARGET_EMPTIED', priority: 'live' },
} as const satisfies Record<ReconcileTrigger, ReconcileRule>;

/** What the state directory says about the time no mirror ran. */
export interface DowntimeFacts {
  /** An earlier run left state (a restart, not a first start). */
  known: boolean;
  /** That run stopped cleanly. */
  cleanStop: boolean;
  /** Its tree snapshot is there. */
  snapshot: boolean;
}

/**
 * How the changes made while no mirror ran are found: none to find on a first start; the snapshot
 * diffed against the tree after a clean stop; otherwise a reconcile of every replica, since they
 * are unknown.
 */
export function downtimeAnswer(facts: DowntimeFacts): 'first-start' | 'snapshot-diff' | Extract<ReconcileTrigger, 'unclean-stop' | 'no-snapshot'> {
  if (!facts.known) return 'first-start';
  if (!facts.cleanStop) return 'unclean-stop';
  return facts.snapshot ? 'snapshot-diff' : 'no-snapshot';
}

type Rules = typeof RECONCILE_TRIGGERS;
/** The triggers whose pass is for every replica, and those for the one replica concerned. */
export type EveryReplicaTrigger = { [T in ReconcileTrigger]: Rules[T]['for'] extends 'every-replica' ? (Rules[T]['priority'] extends 'live' ? T : never) : never }[ReconcileTrigger];
/** The drift passes: one per lane, never journaled, at the lowest priority. */
export type BackgroundTrigger = { [T in ReconcileTrigger]: Rules[T]['priority'] extends 'background' ? T : never }[ReconcileTrigger];
export type OneReplicaTrigger = { [T in ReconcileTrigger]: Rules[T]['for'] extends 'that-replica' ? T : never }[ReconcileTrigger];

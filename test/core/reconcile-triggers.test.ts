/**
 * What starts a reconcile, for whom and when: the table cell by cell (typed over every trigger, so
 * a new one fails the typecheck until it has a row here), and how a restart finds the changes made
 * while no mirror ran, as a data table.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RECONCILE_TRIGGERS, downtimeAnswer, type DowntimeFacts, type ReconcileRule, type ReconcileTrigger } from '../../src/core/reconcile-triggers.js';

type Row = [ReconcileRule['for'], ReconcileRule['when'], ReconcileRule['problem'], ReconcileRule['priority']];
const EXPECTED: Record<ReconcileTrigger, Row> = {
  seed: ['every-replica', 'now', 'none', 'live'],
  manual: ['every-replica', 'now', 'none', 'live'],
  burst: ['every-replica', 'after-quiet', 'none', 'live'],
  'watcher-error': ['every-replica', 'by-the-watcher', 'none', 'live'],
  // Drift repair: never journaled, only on an idle lane, killed by a live change (sync/drift.ts).
  'drift-startup': ['every-replica', 'when-idle', 'none', 'background'],
  'drift-periodic': ['every-replica', 'when-idle', 'none', 'background'],
  'unclean-stop': ['every-replica', 'now', 'ERR_STATE_UNCLEAN', 'live'],
  'no-snapshot': ['every-replica', 'now', 'none', 'live'],
  'damaged-state': ['that-replica', 'now', 'ERR_STATE_DAMAGED', 'live'],
  'replica-added': ['that-replica', 'now', 'none', 'live'],
  'journal-overflow': ['that-replica', 'now', 'none', 'live'],
  'target-emptied': ['that-replica', 'now', 'ERR_TARGET_EMPTIED', 'live'],
};

describe('reconcile triggers', () => {
  it('the table has exactly the expected triggers', () => {
    assert.deepEqual(Object.keys(RECONCILE_TRIGGERS).sort(), Object.keys(EXPECTED).sort());
  });

  for (const [trigger, [scope, when, problem, priority]] of Object.entries(EXPECTED) as Array<[ReconcileTrigger, Row]>) {
    it(`${trigger} → for ${scope}, ${when}, problem ${problem}, ${priority}`, () => {
      assert.deepEqual(RECONCILE_TRIGGERS[trigger], { for: scope, when, problem, priority });
    });
  }
});

describe('downtimeAnswer: how a restart finds what changed while no mirror ran', () => {
  const rows: Array<[DowntimeFacts, ReturnType<typeof downtimeAnswer>]> = [
    // No earlier run: nothing to find (the replicas are seeded, or assumed in step).
    [{ known: false, cleanStop: false, snapshot: false }, 'first-start'],
    [{ known: false, cleanStop: false, snapshot: true }, 'first-start'],
    // Killed or crashed: the snapshot is older than what the run saw, so it is not enough.
    [{ known: true, cleanStop: false, snapshot: false }, 'unclean-stop'],
    [{ known: true, cleanStop: false, snapshot: true }, 'unclean-stop'],
    // A clean stop: its snapshot covers every change it saw; without it nothing is known.
    [{ known: true, cleanStop: true, snapshot: true }, 'snapshot-diff'],
    [{ known: true, cleanStop: true, snapshot: false }, 'no-snapshot'],
  ];
  for (const [facts, want] of rows) {
    it(`${JSON.stringify(facts)} → ${want}`, () => assert.equal(downtimeAnswer(facts), want));
  }

  it('every answer that is not a diff or a first start is a trigger for every replica', () => {
    for (const [facts] of rows) {
      const answer = downtimeAnswer(facts);
      if (answer !== 'first-start' && answer !== 'snapshot-diff') assert.equal(RECONCILE_TRIGGERS[answer].for, 'every-replica');
    }
  });
});

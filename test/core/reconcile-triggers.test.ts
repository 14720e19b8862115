/**
 * What starts a reconcile, for whom and when: the table cell by cell (typed over every trigger, so
 * a new one fails the typecheck until it has a row here), and how a restart finds the changes made
 * while no mirror ran, as a data table.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RECONCILE_TRIGGERS, downtimeAnswer, type DowntimeFacts, type ReconcileRule, type ReconcileTrigger } from '../../src/core/reconcile-triggers.js';

const EXPECTED: Record<ReconcileTrigger, [ReconcileRule['for'], ReconcileRule['when'], ReconcileRule['problem']]> = {
  seed: ['every-replica', 'now', 'none'],
  manual: ['every-replica', 'now', 'none'],
  burst: ['every-replica', 'after-quiet', 'none'],
  'watcher-error': ['every-replica', 'by-the-watcher', 'none'],
  periodic: ['every-replica', 'now', 'none'],
  'unclean-stop': ['every-replica', 'now', 'ERR_STATE_UNCLEAN'],
  'no-snapshot': ['every-replica', 'now', 'none'],
  'damaged-state': ['that-replica', 'now', 'ERR_STATE_DAMAGED'],
  'replica-added': ['that-replica', 'now', 'none'],
  'journal-overflow': ['that-replica', 'now', 'none'],
  'target-emptied': ['that-replica', 'now', 'ERR_TARGET_EMPTIED'],
};

describe('reconcile triggers', () => {
  it('the table has exactly the expected triggers', () => {
    assert.deepEqual(Object.keys(RECONCILE_TRIGGERS).sort(), Object.keys(EXPECTED).sort());
  });

  for (const [trigger, [scope, when, problem]] of Object.entries(EXPECTED) as Array<[ReconcileTrigger, [ReconcileRule['for'], ReconcileRule['when'], ReconcileRule['problem']]]>) {
    it(`${trigger} → for ${scope}, ${when}, problem ${problem}`, () => {
      assert.deepEqual(RECONCILE_TRIGGERS[trigger], { for: scope, when, problem });
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

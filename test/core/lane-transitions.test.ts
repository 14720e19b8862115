/**
 * The lane's transition table, cell by cell: the expected table below is typed over every state
 * and every outcome, and the test walks the whole product, so a state or an outcome added to the
 * table without a row here fails (the typecheck, and this test).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LANE_OUTCOMES, LANE_STATES, LANE_TRANSITIONS, answered, isUp, laneTransition, type LaneOutcome, type LaneTransition, type LiveLaneState } from '../../src/core/lane-transitions.js';

type Cell = [next: LiveLaneState, notify: LaneTransition['notify'], retry: LaneTransition['retry']];

const EXPECTED: Record<LiveLaneState, Record<LaneOutcome, Cell>> = {
  checking: {
    started: ['checking', 'none', 'none'],
    synced: ['idle', 'none', 'none'],
    'synced-more-queued': ['idle', 'none', 'none'],
    retry: ['down', 'down', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['idle', 'none', 'none'],
  },
  idle: {
    started: ['syncing', 'none', 'none'],
    synced: ['idle', 'none', 'none'],
    'synced-more-queued': ['idle', 'none', 'none'],
    retry: ['down', 'down', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['idle', 'none', 'none'],
  },
  syncing: {
    started: ['syncing', 'none', 'none'],
    synced: ['idle', 'none', 'none'],
    'synced-more-queued': ['idle', 'none', 'none'],
    retry: ['down', 'down', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['syncing', 'none', 'none'],
  },
  'catching-up': {
    started: ['catching-up', 'none', 'none'],
    synced: ['idle', 'none', 'none'],
    'synced-more-queued': ['catching-up', 'none', 'none'],
    retry: ['down', 'down', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['catching-up', 'none', 'none'],
  },
  down: {
    started: ['down', 'none', 'none'],
    synced: ['idle', 'up', 'none'],
    'synced-more-queued': ['catching-up', 'up', 'none'],
    retry: ['down', 'none', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['idle', 'up', 'none'],
  },
  failed: {
    started: ['failed', 'none', 'none'],
    synced: ['idle', 'up', 'none'],
    'synced-more-queued': ['catching-up', 'up', 'none'],
    retry: ['down', 'none', 'backoff'],
    fatal: ['failed', 'failed', 'slow'],
    checked: ['idle', 'up', 'none'],
  },
};

describe('lane transitions: state × outcome → next state, notice, retry', () => {
  it('the table has exactly the listed states and outcomes', () => {
    assert.deepEqual(Object.keys(LANE_TRANSITIONS).sort(), [...LANE_STATES].sort());
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...LANE_STATES].sort());
    for (const state of LANE_STATES) {
      assert.deepEqual(Object.keys(LANE_TRANSITIONS[state]).sort(), [...LANE_OUTCOMES].sort(), state);
      assert.deepEqual(Object.keys(EXPECTED[state]).sort(), [...LANE_OUTCOMES].sort(), state);
    }
  });

  for (const state of LANE_STATES) {
    for (const outcome of LANE_OUTCOMES) {
      const [next, notify, retry] = EXPECTED[state][outcome];
      it(`${state} × ${outcome} → ${next}, notify ${notify}, retry ${retry}`, () => {
        assert.deepEqual(laneTransition(state, outcome), { next, notify, retry });
      });
    }
  }

  it('only a failure retries, and every failure does', () => {
    for (const state of LANE_STATES) {
      for (const outcome of LANE_OUTCOMES) {
        const failure = outcome === 'retry' || outcome === 'fatal';
        assert.equal(laneTransition(state, outcome).retry !== 'none', failure, `${state} × ${outcome}`);
      }
    }
  });

  it('up is said only by a replica that was not up, down only by one that was', () => {
    for (const state of LANE_STATES) {
      for (const outcome of LANE_OUTCOMES) {
        const { notify, next } = laneTransition(state, outcome);
        if (notify === 'up') assert.ok(!isUp(state) && isUp(next), `${state} × ${outcome}`);
        if (notify === 'down') assert.ok(isUp(state) && !isUp(next), `${state} × ${outcome}`);
      }
    }
  });

  it('answered: checking is waited for (isUp) but has not answered yet', () => {
    assert.deepEqual(
      LANE_STATES.filter((s) => isUp(s) && !answered(s)),
      ['checking'],
    );
  });

  it('isUp: down and failed are not up', () => {
    assert.deepEqual(
      LANE_STATES.filter((s) => !isUp(s)),
      ['down', 'failed'],
    );
  });
});

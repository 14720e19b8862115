/**
 * The reconcile scheduler on a manual clock: when a burst, a watcher error and the drift passes
 * (start-up, periodic with its spread) start a full pass of every replica, and when they do not. No sleeps: time moves only when the
 * test advances it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MirrorError } from '../../src/errors.js';
import { DEFAULT_RECONCILE_TIMING, ReconcileScheduler, type ReconcileTiming } from '../../src/sync/reconcile-scheduler.js';
import { ManualClock } from '../helpers/manual-clock.js';

const TIMING: ReconcileTiming = { suspectBurst: 100, burstGapMs: 1000, quietMs: 2000, everyMs: 0 };

function setup(timing: Partial<ReconcileTiming> = {}) {
  const clock = new ManualClock();
  const passes: Array<{ trigger: string; at: number; spreadMs?: number }> = [];
  const reported: MirrorError[] = [];
  const state = { running: true };
  const scheduler = new ReconcileScheduler(
    clock,
    {
      reconcileAll: (trigger) => passes.push({ trigger, at: clock.now() }),
      drift: (trigger, spreadMs) => passes.push({ trigger, at: clock.now(), spreadMs }),
      running: () => state.running,
      report: (err) => reported.push(err),
    },
    { ...TIMING, ...timing },
  );
  return { clock, passes, reported, state, scheduler };
}

describe('ReconcileScheduler: bursts', () => {
  it('a burst below the threshold starts nothing', async () => {
    const { clock, passes, scheduler } = setup();
    for (let i = 0; i < 9; i++) {
      scheduler.delivered(10);
      await clock.advance(500);
    }
    await clock.advance(10_000);
    assert.deepEqual(passes, []);
  });

  it('deliveries less than burstGapMs apart add up; one pass follows quietMs after the last of them', async () => {
    const { clock, passes, scheduler } = setup();
    for (let i = 0; i < 5; i++) {
      scheduler.delivered(30); // 30, 60, 90, 120, 150: the threshold is crossed at the 4th
      await clock.advance(900);
    }
    // Last delivery at 3600 (4 × 900): the pass comes at 3600 + 2000, once.
    await clock.advance(10_000);
    assert.deepEqual(passes, [{ trigger: 'burst', at: 3600 + 2000 }]);
  });

  it('a gap longer than burstGapMs starts the count again', async () => {
    const { clock, passes, scheduler } = setup();
    for (let i = 0; i < 5; i++) {
      scheduler.delivered(60);
      await clock.advance(1001);
    }
    await clock.advance(10_000);
    assert.deepEqual(passes, []);
  });

  it('one delivery at the threshold is a burst by itself', async () => {
    const { clock, passes, scheduler } = setup();
    scheduler.delivered(100);
    await clock.advance(1999);
    assert.deepEqual(passes, []);
    await clock.advance(1);
    assert.deepEqual(passes, [{ trigger: 'burst', at: 2000 }]);
  });

  it('with the default timing, 8192 events in one burst are suspect and 8191 are not', async () => {
    for (const [count, want] of [
      [8191, 0],
      [8192, 1],
    ] as const) {
      const { clock, passes, scheduler } = setup(DEFAULT_RECONCILE_TIMING);
      scheduler.delivered(count - 1);
      await clock.advance(DEFAULT_RECONCILE_TIMING.burstGapMs);
      scheduler.delivered(1);
      await clock.advance(DEFAULT_RECONCILE_TIMING.quietMs);
      assert.equal(passes.length, want, `${count} events`);
    }
  });

  it('nothing is scheduled while the mirror is not running, and a pass due after it stopped does not start', async () => {
    const { clock, passes, state, scheduler } = setup();
    state.running = false;
    scheduler.delivered(500);
    assert.equal(clock.pending, 0);
    state.running = true;
    scheduler.delivered(500);
    assert.equal(clock.pending, 1);
    state.running = false;
    await clock.advance(5000);
    assert.deepEqual(passes, []);
  });

  it('close() cancels a pass scheduled after a burst', async () => {
    const { clock, passes, scheduler } = setup();
    scheduler.delivered(500);
    scheduler.close();
    assert.equal(clock.pending, 0);
    await clock.advance(5000);
    assert.deepEqual(passes, []);
  });
});

describe('ReconcileScheduler: watcher errors', () => {
  it('are reported, and the pass is left to the watcher (it queues one once it watches again)', async () => {
    const { clock, passes, reported, scheduler } = setup();
    const err = new MirrorError('ERR_WATCH', 'Watching /src failed: boom.');
    scheduler.watcherFailed(err);
    await clock.advance(10_000);
    assert.deepEqual(reported, [err]);
    assert.deepEqual(passes, []);
  });

  it('are reported even while the mirror is not running', () => {
    const { reported, state, scheduler } = setup();
    state.running = false;
    scheduler.watcherFailed(new MirrorError('ERR_WATCH', 'x'));
    assert.equal(reported.length, 1);
  });
});

describe('ReconcileScheduler: the drift passes', () => {
  it('none without an interval: no start-up pass, no periodic one', async () => {
    const { clock, passes, scheduler } = setup({ everyMs: 0 });
    scheduler.start();
    assert.equal(clock.pending, 0);
    await clock.advance(1_000_000);
    assert.deepEqual(passes, []);
  });

  it('one at start (no spread: each lane runs it once quiet), then every everyMs, spread over a tenth of it', async () => {
    const { clock, passes, scheduler } = setup({ everyMs: 60_000 });
    scheduler.start();
    await clock.advance(180_000);
    assert.deepEqual(passes, [
      { trigger: 'drift-startup', at: 0, spreadMs: 0 },
      { trigger: 'drift-periodic', at: 60_000, spreadMs: 6000 },
      { trigger: 'drift-periodic', at: 120_000, spreadMs: 6000 },
      { trigger: 'drift-periodic', at: 180_000, spreadMs: 6000 },
    ]);
  });

  it('stops once the mirror is not running, and close() cancels the next one', async () => {
    const stopped = setup({ everyMs: 60_000 });
    stopped.scheduler.start();
    await stopped.clock.advance(60_000);
    stopped.state.running = false;
    await stopped.clock.advance(600_000);
    assert.deepEqual(
      stopped.passes.map((p) => p.trigger),
      ['drift-startup', 'drift-periodic'],
    );
    assert.equal(stopped.clock.pending, 0, 'not armed again');

    const closed = setup({ everyMs: 60_000 });
    closed.scheduler.start();
    closed.scheduler.close();
    await closed.clock.advance(600_000);
    assert.deepEqual(closed.passes, [{ trigger: 'drift-startup', at: 0, spreadMs: 0 }]);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../../src/core/coalesce.js';
import { MirrorError } from '../../src/errors.js';
import { Lane, type BatchOutcome, type LaneTiming } from '../../src/sync/lane.js';
import { ManualClock, flushMicrotasks } from '../helpers/manual-clock.js';

interface Call {
  batch: Batch;
  at: number;
  settle(outcome: BatchOutcome): void;
  fail(err: Error): void;
}

/** Promise state, observable without awaiting (a pending promise would hang the test). */
function track(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error: unknown } = { state: 'pending', error: undefined };
  p.then(
    () => {
      t.state = 'resolved';
    },
    (e: unknown) => {
      t.state = 'rejected';
      t.error = e;
    },
  );
  return t;
}

const paths = (call: Call | undefined): Array<[string, number]> => [...(call?.batch.entries ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const retryError = (): MirrorError => new MirrorError('ERR_RSYNC', 'rsync exited with code 12', { exitCode: 12 });

function setup(timing: Partial<LaneTiming> = {}) {
  const clock = new ManualClock();
  const calls: Call[] = [];
  const events: string[] = [];
  const lane = new Lane(
    'r1',
    (batch) =>
      new Promise<BatchOutcome>((resolve, reject) => {
        calls.push({ batch, at: clock.now(), settle: resolve, fail: reject });
      }),
    { quietMs: 10, maxWaitMs: 100, retryMinMs: 100, retryMaxMs: 10_000, ...timing },
    clock,
    {
      onDown: (e) => events.push(`down:${e.code}`),
      onUp: () => events.push('up'),
      onFailed: (e) => events.push(`failed:${e.code}`),
    },
  );
  /** Settles the latest call and lets the lane react. */
  const settle = async (outcome: BatchOutcome): Promise<void> => {
    calls.at(-1)!.settle(outcome);
    await flushMicrotasks();
  };
  return { clock, calls, events, lane, settle };
}

describe('Lane: when batches start', () => {
  it('waits for the quiet window before the first batch', async () => {
    const { clock, calls, lane } = setup();
    lane.add(['a'], 1);
    await clock.advance(9);
    assert.equal(calls.length, 0);
    await clock.advance(1);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.at, 10);
    assert.deepEqual(paths(calls[0]), [['a', 1]]);
  });

  it('holds a steady stream of changes no longer than maxWaitMs', async () => {
    const { clock, calls, lane } = setup({ quietMs: 10, maxWaitMs: 25 });
    for (let seq = 1; calls.length === 0 && seq <= 20; seq++) {
      lane.add([`f${seq}`], seq);
      await clock.advance(5);
    }
    assert.equal(calls.length, 1);
    assert.ok(calls[0]!.at <= 25, `first batch at ${calls[0]!.at}`);
  });

  // Pending.dueAt moves to lastAt + quietMs, but Lane.#arm keeps an earlier timer and #start does
  // not re-check dueAt, so the batch starts quietMs after the *first* change.
  it('a change inside the quiet window extends it', async () => {
    const { clock, calls, lane } = setup({ quietMs: 10, maxWaitMs: 100 });
    lane.add(['a'], 1);
    await clock.advance(9);
    lane.add(['b'], 2);
    await clock.advance(9);
    assert.equal(calls.length, 0, `batch started at ${calls[0]?.at} with ${JSON.stringify(paths(calls[0]))}`);
    await clock.advance(1);
    assert.equal(calls.length, 1);
    assert.deepEqual(paths(calls[0]), [
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('runs at most one batch at a time; changes made meanwhile form the next batch', async () => {
    const { clock, calls, lane, settle } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    assert.equal(calls.length, 1);
    lane.add(['b'], 2);
    lane.add(['a'], 3);
    await clock.advance(1000);
    assert.equal(calls.length, 1, 'no second batch while the first is in flight');
    assert.equal(lane.status().state, 'syncing');
    await settle({ verdict: 'ok' });
    await clock.advance(0);
    assert.equal(calls.length, 2);
    assert.deepEqual(paths(calls[1]), [
      ['a', 3],
      ['b', 2],
    ]);
  });

  it('stays idle with nothing to do', async () => {
    const { clock, calls, lane } = setup();
    lane.add([], 1);
    await clock.advance(10_000);
    assert.equal(calls.length, 0);
    assert.equal(lane.status().state, 'idle');
  });
});

describe('Lane: failures and retries', () => {
  it('restores a failed batch, retries after backoff, reports down once and up on recovery', async () => {
    const { clock, calls, events, lane, settle } = setup({ retryMinMs: 100, retryMaxMs: 10_000 });
    lane.add(['a'], 1);
    await clock.advance(10);
    await settle({ verdict: 'retry', error: retryError() });
    assert.deepEqual(events, ['down:ERR_RSYNC']);
    assert.equal(lane.status().state, 'down');
    assert.equal(lane.status().lastError, 'rsync exited with code 12');

    lane.add(['b'], 2);
    // The first backoff is exactly retryMinMs: its jitter range is [min, min].
    await clock.advance(99);
    assert.equal(calls.length, 1, 'no batch before the backoff, even with new changes');
    await clock.advance(1);
    assert.equal(calls.length, 2);
    assert.deepEqual(paths(calls[1]), [
      ['a', 1],
      ['b', 2],
    ]);

    await settle({ verdict: 'retry', error: retryError() });
    assert.deepEqual(events, ['down:ERR_RSYNC'], 'a second failure while down is not a new down');
    // The second backoff lies within [min, 2·min].
    await clock.advance(200);
    assert.equal(calls.length, 3);
    assert.deepEqual(paths(calls[2]), [
      ['a', 1],
      ['b', 2],
    ]);

    await settle({ verdict: 'ok' });
    assert.deepEqual(events, ['down:ERR_RSYNC', 'up']);
    assert.equal(lane.status().state, 'idle');
    assert.equal(lane.status().backlog, 0);
    assert.equal(lane.status().syncs, 1);
  });

  it('treats a throwing executor as a retry', async () => {
    const { clock, calls, events, lane } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    calls[0]!.fail(new Error('spawn rsync EAGAIN'));
    await flushMicrotasks();
    assert.deepEqual(events, ['down:ERR_RSYNC']);
    assert.match(lane.status().lastError ?? '', /EAGAIN/);
    await clock.advance(100);
    assert.deepEqual(paths(calls[1]), [['a', 1]]);
  });

  it('partial counts as a failure and is retried', async () => {
    const { clock, calls, events, lane, settle } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    await settle({ verdict: 'partial', error: new MirrorError('ERR_RSYNC', 'partial transfer', { exitCode: 23 }) });
    assert.deepEqual(events, ['down:ERR_RSYNC']);
    await clock.advance(100);
    assert.equal(calls.length, 2);
  });
});

describe('Lane: confirmed(seq)', () => {
  it('resolves at once when nothing at or below seq is outstanding', async () => {
    const { lane } = setup();
    const empty = track(lane.confirmed(5));
    lane.add(['a'], 3);
    const below = track(lane.confirmed(2));
    await flushMicrotasks();
    assert.equal(empty.state, 'resolved');
    assert.equal(below.state, 'resolved');
  });

  it('resolves only once every change ≤ seq is confirmed, not waiting for later ones', async () => {
    const { clock, lane, settle } = setup();
    lane.add(['a'], 1);
    const one = track(lane.confirmed(1));
    await clock.advance(10);
    lane.add(['b'], 2);
    const two = track(lane.confirmed(2));
    await flushMicrotasks();
    assert.equal(one.state, 'pending', 'seq 1 is in flight');

    await settle({ verdict: 'ok' });
    assert.equal(one.state, 'resolved');
    assert.equal(two.state, 'pending', 'seq 2 is still in the backlog');

    await clock.advance(10);
    await settle({ verdict: 'ok' });
    assert.equal(two.state, 'resolved');
  });

  it('a path re-dirtied while in flight keeps later seqs waiting', async () => {
    const { clock, lane, settle } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    lane.add(['a'], 2);
    const one = track(lane.confirmed(1));
    const two = track(lane.confirmed(2));
    await settle({ verdict: 'ok' });
    assert.equal(one.state, 'resolved');
    assert.equal(two.state, 'pending');
  });

  it('stays pending through retries and resolves on recovery', async () => {
    const { clock, lane, settle } = setup();
    lane.add(['a'], 1);
    const one = track(lane.confirmed(1));
    await clock.advance(10);
    await settle({ verdict: 'retry', error: retryError() });
    assert.equal(one.state, 'pending');
    await clock.advance(100);
    await settle({ verdict: 'ok' });
    assert.equal(one.state, 'resolved');
  });
});

describe('Lane: fatal failures', () => {
  it('reports onFailed, rejects waiters with the error, retries slowly and heals', async () => {
    const { clock, calls, events, lane, settle } = setup({ retryMinMs: 50, retryMaxMs: 500 });
    const fatal = new MirrorError('ERR_RSYNC_FATAL', 'rsync exited with code 127', { exitCode: 127 });
    lane.add(['a'], 1);
    const waiter = track(lane.confirmed(1));
    await clock.advance(10);
    lane.add(['b'], 2);
    await settle({ verdict: 'fatal', error: fatal });

    assert.deepEqual(events, ['failed:ERR_RSYNC_FATAL']);
    assert.equal(lane.status().state, 'failed');
    assert.equal(waiter.state, 'rejected');
    assert.equal(waiter.error, fatal);
    const later = track(lane.confirmed(2));
    await flushMicrotasks();
    assert.equal(later.state, 'rejected');
    assert.equal(later.error, fatal);

    // Fatal errors wait retryMaxMs, not the short backoff.
    await clock.advance(499);
    assert.equal(calls.length, 1);
    await clock.advance(1);
    assert.equal(calls.length, 2);
    assert.deepEqual(paths(calls[1]), [
      ['a', 1],
      ['b', 2],
    ]);
    await settle({ verdict: 'ok' });
    assert.deepEqual(events, ['failed:ERR_RSYNC_FATAL', 'up']);
    const healed = track(lane.confirmed(2));
    await flushMicrotasks();
    assert.equal(healed.state, 'resolved');
  });
});

describe('Lane: close()', () => {
  it('waits for the batch in flight, then rejects the remaining waiters with ERR_CLOSED', async () => {
    const { clock, calls, lane, settle } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    lane.add(['b'], 2);
    const one = track(lane.confirmed(1));
    const two = track(lane.confirmed(2));
    const closed = track(lane.close());
    await flushMicrotasks();
    assert.equal(closed.state, 'pending', 'close() waits for the batch in flight');

    await settle({ verdict: 'ok' });
    assert.equal(closed.state, 'resolved');
    assert.equal(one.state, 'resolved', 'the batch in flight still confirms its changes');
    assert.equal(two.state, 'rejected');
    assert.ok(two.error instanceof MirrorError);
    assert.equal(two.error.code, 'ERR_CLOSED');

    lane.add(['c'], 3);
    await clock.advance(100_000);
    assert.equal(calls.length, 1, 'no batch starts after close()');
  });

  it('cancels a pending retry', async () => {
    const { clock, calls, lane, settle } = setup();
    lane.add(['a'], 1);
    await clock.advance(10);
    await settle({ verdict: 'retry', error: retryError() });
    await lane.close();
    await clock.advance(100_000);
    assert.equal(calls.length, 1);
  });

  it('resolves at once when idle', async () => {
    const { lane } = setup();
    const closed = track(lane.close());
    await flushMicrotasks();
    assert.equal(closed.state, 'resolved');
  });

  // Mirror.flush() checks its phase, awaits the watcher barrier, then calls confirmed(): a close()
  // that lands in between leaves flush() hanging.
  it('confirmed() after close() rejects for changes still in the backlog', async () => {
    const { lane } = setup();
    lane.add(['a'], 1);
    await lane.close();
    const late = track(lane.confirmed(1));
    await flushMicrotasks();
    assert.equal(late.state, 'rejected');
    assert.equal((late.error as MirrorError | undefined)?.code, 'ERR_CLOSED');
  });
});

describe('Lane: healthyOnly waiters', () => {
  it('resolve false at once for a down lane, and when the lane goes down while waiting', async () => {
    const clock = new ManualClock();
    const outcomes: BatchOutcome[] = [];
    const lane = new Lane('r', async () => outcomes.shift() ?? { verdict: 'ok' }, { quietMs: 0, maxWaitMs: 0, retryMinMs: 100, retryMaxMs: 100 }, clock, { onDown() {}, onUp() {}, onFailed() {} });
    outcomes.push({ verdict: 'retry', error: new MirrorError('ERR_RSYNC', 'boom') });
    lane.add(['a'], 1);
    const waiting = lane.confirmed(1, { healthyOnly: true });
    await clock.advance(0);
    assert.equal(await waiting, false);
    assert.equal(await lane.confirmed(1, { healthyOnly: true }), false);
    await clock.advance(100); // the retry succeeds
    assert.equal(await lane.confirmed(1, { healthyOnly: true }), true);
  });
});

describe('Lane: per-path trouble is data (partial outcomes that name their paths)', () => {
  function partialSetup() {
    const clock = new ManualClock();
    const calls: Call[] = [];
    const marks: number[] = [];
    const events: string[] = [];
    const lane = new Lane(
      'r1',
      (batch) => new Promise<BatchOutcome>((resolve, reject) => calls.push({ batch, at: clock.now(), settle: resolve, fail: reject })),
      { quietMs: 10, maxWaitMs: 100, retryMinMs: 100, retryMaxMs: 10_000 },
      clock,
      { onConfirmed: (seq) => marks.push(seq), onDown: () => events.push('down'), onUp: () => events.push('up'), onFailed: () => events.push('failed') },
    );
    const settle = async (outcome: BatchOutcome) => {
      calls.at(-1)!.settle(outcome);
      await flushMicrotasks();
    };
    return { clock, calls, marks, events, lane, settle };
  }
  const partial = (...problems: string[]): BatchOutcome => ({ verdict: 'partial', problems, error: new MirrorError('ERR_RSYNC_PATH', 'x', { exitCode: 23 }) });

  it('confirms the rest of the batch, stays idle, keeps the named path and holds the watermark below it', async () => {
    const { clock, calls, marks, events, lane, settle } = partialSetup();
    lane.add(['ok', 'locked'], 1);
    lane.add(['later'], 2);
    const waiting = track(lane.confirmed(2));
    await clock.advance(10);
    await settle(partial('locked'));
    assert.equal(waiting.state, 'resolved', 'flush does not wait for a problem path');
    assert.equal(lane.status().state, 'idle');
    assert.deepEqual(lane.problems(), ['locked']);
    assert.equal(lane.status().problems, 1);
    assert.deepEqual(marks, [0], 'the watermark stays below the problem (seq 1)');
    assert.deepEqual(events, []);
    // Another change keeps its latency: a batch of its own, at once.
    lane.add(['new'], 3);
    await clock.advance(10);
    assert.equal(calls.length, 2);
    assert.deepEqual(paths(calls[1]), [['new', 3]]);
    await settle({ verdict: 'ok' });
    assert.deepEqual(marks, [0, 0]);
  });

  it('retries the problems slowly, in a batch of their own, and releases the watermark once they pass', async () => {
    const { clock, calls, marks, lane, settle } = partialSetup();
    lane.add(['a', 'b'], 1);
    lane.add(['c'], 2);
    await clock.advance(10);
    await settle(partial('b'));
    await clock.advance(9_999);
    assert.equal(calls.length, 1, 'not before retryMaxMs');
    await clock.advance(1);
    assert.equal(calls.length, 2);
    assert.deepEqual(paths(calls[1]), [['b', 1]]);
    await settle(partial('b'));
    assert.deepEqual(lane.problems(), ['b']);
    await clock.advance(10_000);
    await settle({ verdict: 'ok' });
    assert.deepEqual(lane.problems(), []);
    assert.equal(marks.at(-1), 2, 'every change is confirmed now');
  });

  it('a new event for a problem path that then succeeds clears the problem', async () => {
    const { clock, lane, settle } = partialSetup();
    lane.add(['x'], 1);
    await clock.advance(10);
    await settle(partial('x'));
    lane.add(['x'], 2);
    await clock.advance(10);
    await settle({ verdict: 'ok' });
    assert.deepEqual(lane.problems(), []);
  });

  it('a partial outcome that names no path is a failure of the batch (down, retried)', async () => {
    const { clock, calls, events, lane, settle } = partialSetup();
    lane.add(['a'], 1);
    await clock.advance(10);
    await settle({ verdict: 'partial', error: new MirrorError('ERR_RSYNC', 'x', { exitCode: 23 }) });
    assert.deepEqual(events, ['down']);
    await clock.advance(200);
    assert.deepEqual(paths(calls.at(-1)), [['a', 1]]);
  });

  it('a problem retry that fails (the host went away) takes the lane down and comes back by itself', async () => {
    const { clock, calls, events, lane, settle } = partialSetup();
    lane.add(['a'], 1);
    await clock.advance(10);
    await settle(partial('a'));
    await clock.advance(10_000);
    await settle({ verdict: 'retry', error: retryError() });
    assert.equal(lane.status().state, 'down');
    await clock.advance(10_000);
    assert.deepEqual(paths(calls.at(-1)), [['a', 1]], 'the problem is retried after the backoff');
    await settle({ verdict: 'ok' });
    assert.equal(lane.status().state, 'idle');
    assert.deepEqual(events, ['down', 'up']);
    assert.deepEqual(lane.problems(), []);
  });
});

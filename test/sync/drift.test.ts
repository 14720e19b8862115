/**
 * The drift pass of a lane (src/sync/drift.ts) on a manual clock: it starts only on an idle lane
 * after the quiet period, a live change kills it (its signal) and goes first, it starts again once
 * quiet, it never confirms anything, and a completed live full pass makes it unnecessary. The
 * periodic pass's jitter across replicas goes through the Fanout. No sleeps, no I/O.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../../src/core/coalesce.js';
import { MirrorError } from '../../src/errors.js';
import { Lane, type BatchOutcome } from '../../src/sync/lane.js';
import type { ExecuteOptions } from '../../src/sync/outcome.js';
import { Fanout } from '../../src/sync/fanout.js';
import { repairedSample } from '../../src/sync/drift.js';
import type { RepairedEvent } from '../../src/types.js';
import { ManualClock, flushMicrotasks } from '../helpers/manual-clock.js';

interface Call {
  batch: Batch;
  opts: ExecuteOptions;
  at: number;
  settle(outcome: BatchOutcome): void;
}

const QUIET = 1000;

/** Advances the clock a second at a time until a new background pass starts (bounded). */
async function waitForPass(t: { clock: ManualClock; background(): unknown[] }, maxMs: number): Promise<void> {
  const before = t.background().length;
  for (let ms = 0; ms < maxMs && t.background().length === before; ms += 1000) await t.clock.advance(1000);
  assert.equal(t.background().length, before + 1, `a pass within ${maxMs} ms`);
}

function setup(timing: { driftStarvedMs?: number } = {}) {
  const clock = new ManualClock();
  const calls: Call[] = [];
  const confirmed: number[] = [];
  const drifts: Array<{ trigger: string; outcome: BatchOutcome; at: number }> = [];
  const execute = (batch: Batch, opts: ExecuteOptions = {}) =>
    new Promise<BatchOutcome>((resolve) => {
      // As the batch runner: a killed rsync ends the run at once, marked aborted.
      opts.signal?.addEventListener('abort', () => resolve({ verdict: 'retry', aborted: true }), { once: true });
      calls.push({ batch, opts, at: clock.now(), settle: resolve });
    });
  const lane = new Lane('r1', execute, { quietMs: 10, maxWaitMs: 100, retryMinMs: 100, retryMaxMs: 10_000, driftQuietMs: QUIET, ...timing }, clock, {
    onConfirmed: (seq) => confirmed.push(seq),
    onDown: () => {},
    onUp: () => {},
    onFailed: () => {},
    onDrift: (trigger, outcome) => drifts.push({ trigger, outcome, at: clock.now() }),
  });
  const background = () => calls.filter((c) => c.opts.background === true);
  const live = () => calls.filter((c) => c.opts.background !== true);
  const settle = async (call: Call | undefined, outcome: BatchOutcome) => {
    call!.settle(outcome);
    await flushMicrotasks();
  };
  return { clock, calls, confirmed, drifts, lane, background, live, settle };
}

describe('drift pass: when it runs', () => {
  it('starts once the idle lane has been quiet for the quiet period, as a background full pass with a signal', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    await t.clock.advance(QUIET - 1);
    assert.equal(t.calls.length, 0);
    await t.clock.advance(1);
    assert.equal(t.background().length, 1);
    const call = t.background()[0]!;
    assert.notEqual(call.batch.fullSeq, undefined, 'a full pass');
    assert.ok(call.opts.signal instanceof AbortSignal);
    await t.settle(call, { verdict: 'ok', changed: 2, sample: ['>f.st...... 5 a', '*deleting   0 b'] });
    assert.deepEqual(
      t.drifts.map((d) => [d.trigger, d.outcome.changed]),
      [['drift-startup', 2]],
    );
    assert.deepEqual(t.confirmed, [], 'a drift pass confirms nothing: it is not journaled work');
    assert.equal(t.lane.status().syncs, 0);
    await t.clock.advance(100_000);
    assert.equal(t.calls.length, 1, 'once');
  });

  it('waits while the lane has work, and starts a quiet period after the last batch', async () => {
    const t = setup();
    t.lane.add(['a'], 1);
    t.lane.drift('drift-startup');
    await t.clock.advance(10);
    assert.equal(t.live().length, 1);
    await t.clock.advance(5000);
    assert.equal(t.background().length, 0, 'not while a live batch is in flight');
    await t.settle(t.live()[0], { verdict: 'ok' });
    assert.deepEqual(t.confirmed, [1]);
    await t.clock.advance(QUIET - 1);
    assert.equal(t.background().length, 0);
    await t.clock.advance(1);
    assert.equal(t.background().length, 1);
  });

  it('a periodic request waits for its delay (the jitter) as well as for quiet', async () => {
    const t = setup();
    t.lane.drift('drift-periodic', 7000);
    await t.clock.advance(6999);
    assert.equal(t.calls.length, 0);
    await t.clock.advance(1);
    assert.equal(t.background().length, 1);
  });
});

describe('drift pass: it yields to live changes', () => {
  it('a live change kills it; the change goes first; the pass starts again after quiet; the aborted run is never reported or confirmed', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    await t.clock.advance(QUIET);
    const first = t.background()[0]!;
    t.lane.add(['hot'], 1);
    assert.equal(first.opts.signal?.aborted, true, 'killed at once');
    await flushMicrotasks();
    await t.clock.advance(10);
    assert.equal(t.live().length, 1, 'the live change runs right after');
    assert.equal(t.live()[0]!.at - first.at, 10, 'its normal quiet time, no more');
    assert.equal(t.drifts.length, 0, 'an aborted pass is not reported');
    assert.deepEqual(t.confirmed, []);
    await t.settle(t.live()[0], { verdict: 'ok' });
    assert.deepEqual(t.confirmed, [1], 'only the live batch confirms');
    // Changes keep flowing: each one pushes the pass back.
    for (let i = 2; i < 5; i++) {
      await t.clock.advance(QUIET / 2);
      t.lane.add([`f${i}`], i);
      await t.clock.advance(10);
      await t.settle(t.live().at(-1), { verdict: 'ok' });
    }
    assert.equal(t.background().length, 1, 'no pass while changes flow');
    await t.clock.advance(QUIET);
    assert.equal(t.background().length, 1, 'having yielded once, it waits for twice the quiet period');
    await t.clock.advance(QUIET);
    assert.equal(t.background().length, 2, 'again once quiet for long enough');
    await t.settle(t.background()[1], { verdict: 'ok', changed: 0, sample: [] });
    assert.deepEqual(
      t.drifts.map((d) => d.trigger),
      ['drift-startup'],
    );
    assert.deepEqual(t.confirmed, [1, 2, 3, 4]);
    // A pass that ran to its end sets the quiet period back.
    t.lane.drift('drift-periodic');
    await t.clock.advance(QUIET);
    assert.equal(t.background().length, 3);
  });

  it('each pass killed doubles the quiet period it waits for, up to a minute', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    const gaps: number[] = [];
    let last = 0;
    for (let seq = 1; seq <= 8; seq++) {
      await waitForPass(t, 200_000);
      gaps.push(t.background().at(-1)!.at - last);
      t.lane.add([`f${seq}`], seq);
      await flushMicrotasks();
      await t.clock.advance(10);
      await t.settle(t.live().at(-1), { verdict: 'ok' });
      last = t.clock.now();
    }
    assert.deepEqual(gaps.slice(1), [2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('starved of quiet for driftStarvedMs, it stops yielding: it runs at the next idle moment to its end and the live changes wait for it', async () => {
    const t = setup({ driftStarvedMs: 20_000 });
    t.lane.drift('drift-startup');
    let seq = 0;
    // A change every 500 ms: the lane is never quiet for the 1 s the pass waits for.
    const step = async () => {
      t.lane.add([`f${++seq}`], seq);
      await t.clock.advance(20);
      const call = t.live().at(-1);
      if (call?.batch.entries.some(([p]) => p === `f${seq}`)) await t.settle(call, { verdict: 'ok' });
      await t.clock.advance(480);
    };
    for (let i = 0; i < 38; i++) await step();
    assert.equal(t.background().length, 0, 'no lull in 19 s: no pass yet');
    for (let i = 0; i < 10 && t.background().length === 0; i++) await step();
    assert.equal(t.background().length, 1, 'starved: it started between two live batches');
    const pass = t.background()[0]!;
    assert.ok(pass.at >= QUIET + 20_000 - 500, `started at ${pass.at} ms`);
    const live = t.live().length;
    t.lane.add(['during'], ++seq);
    await t.clock.advance(2000);
    assert.equal(pass.opts.signal?.aborted, false, 'a live change does not kill a starved pass');
    assert.equal(t.live().length, live, 'the live change waits for it');
    await t.settle(pass, { verdict: 'ok' });
    await t.clock.advance(20);
    assert.equal(t.live().length, live + 1, 'and goes once it ended');
    assert.deepEqual(
      t.drifts.map((d) => d.trigger),
      ['drift-startup'],
    );
  });

  it('a live change that arrives while it runs never runs beside it', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    await t.clock.advance(QUIET);
    // This executor ignores the abort for now (an rsync that takes a moment to die).
    const pass = t.background()[0]!;
    t.lane.add(['x'], 1);
    await t.clock.advance(50);
    assert.equal(t.live().length, 0);
    await t.settle(pass, { verdict: 'retry', aborted: true });
    await t.clock.advance(10);
    assert.equal(t.live().length, 1);
  });

  it('a failed pass changes nothing in the lane and is tried again after retryMaxMs', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    await t.clock.advance(QUIET);
    await t.settle(t.background()[0], { verdict: 'retry', error: new MirrorError('ERR_RSYNC', 'boom') });
    assert.equal(t.lane.status().state, 'idle');
    assert.equal(t.lane.status().lastError, undefined);
    await t.clock.advance(9999);
    assert.equal(t.background().length, 1);
    await t.clock.advance(1);
    assert.equal(t.background().length, 2);
  });

  it('a live full pass that completes makes the pending pass unnecessary', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    t.lane.addFull(1);
    await t.clock.advance(10);
    await t.settle(t.live()[0], { verdict: 'ok' });
    await t.clock.advance(100_000);
    assert.equal(t.background().length, 0);
  });

  it('close() kills a running pass and waits for it', async () => {
    const t = setup();
    t.lane.drift('drift-startup');
    await t.clock.advance(QUIET);
    await t.lane.close();
    assert.equal(t.background()[0]!.opts.signal?.aborted, true);
    t.lane.drift('drift-periodic');
    await t.clock.advance(100_000);
    assert.equal(t.background().length, 1);
  });
});

describe('drift pass: the periodic spread across replicas, and the report', () => {
  it('each lane gets its own delay within the spread; each finished pass is a repaired event', async () => {
    const clock = new ManualClock();
    const starts: Array<{ replica: string; at: number }> = [];
    const events: RepairedEvent[] = [];
    const draws = [0.1, 0.5, 0.9];
    const fanout = new Fanout({
      makeExecute: (replica) => async (_batch, opts) => {
        if (opts?.background === true) starts.push({ replica: replica.id, at: clock.now() });
        return { verdict: 'ok', changed: replica.id === 'b' ? 1 : 0, sample: replica.id === 'b' ? ['>f.st...... 3 www/index.html'] : [] };
      },
      timing: { quietMs: 10, maxWaitMs: 100, retryMinMs: 100, retryMaxMs: 10_000, driftQuietMs: QUIET },
      clock,
      events: { emit: ((name: string, e: RepairedEvent) => name === 'repaired' && events.push(e)) as never },
      report: () => {},
      lastSeq: 0,
      random: () => draws.shift() ?? 0,
    });
    for (const id of ['a', 'b', 'c']) fanout.add({ kind: 'local', id, path: `/r/${id}` });
    fanout.drift('drift-periodic', 60_000);
    await clock.advance(60_000);
    assert.deepEqual(starts, [
      { replica: 'a', at: 6000 },
      { replica: 'b', at: 30_000 },
      { replica: 'c', at: 54_000 },
    ]);
    assert.deepEqual(events, [
      { replica: 'a', reason: 'drift-periodic', repaired: 0, sample: [] },
      { replica: 'b', reason: 'drift-periodic', repaired: 1, sample: ['www/index.html'] },
      { replica: 'c', reason: 'drift-periodic', repaired: 0, sample: [] },
    ]);
  });

  it('repairedSample: the paths of the first itemized lines, at most 10', () => {
    const rows: Array<[string[], string[]]> = [
      [[], []],
      [
        ['>f.st...... 4096 www/a.html', '*deleting   0 old/', 'cL+++++++++ 0 l -> target'],
        ['www/a.html', 'old/', 'l'],
      ],
      [Array.from({ length: 20 }, (_, i) => `>f+++++++++ 1 f${i}`), Array.from({ length: 10 }, (_, i) => `f${i}`)],
      [['not an item line'], []],
    ];
    for (const [lines, want] of rows) assert.deepEqual(repairedSample(lines), want);
  });
});

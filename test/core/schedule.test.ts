import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs } from '../../src/core/schedule.js';

describe('backoffMs', () => {
  const rows: Array<[failures: number, minMs: number, maxMs: number, random: number, want: number]> = [
    // random 0 is the floor: never below minMs.
    [1, 100, 1000, 0, 100],
    [10, 100, 1000, 0, 100],
    // random 1 is the ceiling: minMs · 2^(failures-1), capped at maxMs.
    [1, 100, 1000, 1, 100],
    [2, 100, 1000, 1, 200],
    [3, 100, 1000, 1, 400],
    [4, 100, 1000, 1, 800],
    [5, 100, 1000, 1, 1000],
    [50, 100, 1000, 1, 1000],
    // The exponent is bounded, so a lane down for days never computes Infinity.
    [5000, 500, 30_000, 1, 30_000],
    // Fewer than one failure behaves as the first.
    [0, 100, 1000, 1, 100],
    [-3, 100, 1000, 1, 100],
    // Full jitter: uniform between the floor and the ceiling, rounded to whole ms.
    [3, 100, 1000, 0.5, 250],
    [2, 1, 10, 0.5, 2],
    [2, 1, 10, 0.49, 1],
    // minMs = maxMs: no jitter left.
    [7, 300, 300, 0.7, 300],
  ];
  for (const [failures, minMs, maxMs, random, want] of rows) {
    it(`failures ${failures}, [${minMs}, ${maxMs}], random ${random} → ${want}`, () => {
      assert.equal(
        backoffMs(failures, minMs, maxMs, () => random),
        want,
      );
    });
  }

  it('stays within [minMs, maxMs] and never shrinks as failures grow', () => {
    for (const random of [0, 0.25, 0.5, 0.999, 1]) {
      let previous = 0;
      for (let failures = 1; failures <= 40; failures++) {
        const ms = backoffMs(failures, 500, 30_000, () => random);
        assert.ok(Number.isInteger(ms) && ms >= 500 && ms <= 30_000, `failures ${failures}, random ${random}: ${ms}`);
        assert.ok(ms >= previous, `failures ${failures}, random ${random}: ${ms} < ${previous}`);
        previous = ms;
      }
    }
  });

  it('defaults to Math.random within bounds', () => {
    for (let i = 0; i < 100; i++) {
      const ms = backoffMs(4, 100, 1000);
      assert.ok(ms >= 100 && ms <= 800, String(ms));
    }
  });
});

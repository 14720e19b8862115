import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pending, type Batch, type PendingLimits } from '../../src/core/coalesce.js';
import { prng } from '../helpers/prng.js';
import { BURST_PATHS, BURST_QUIET_MS } from '../../src/core/burst.js';

const burstNames = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** One `add` call: paths dirtied at `seq`, seen at time `at`. */
type Add = [paths: string[], seq: number, at: number];

function pendingWith(adds: Add[], limits?: PendingLimits): Pending {
  const pending = new Pending(limits);
  for (const [paths, seq, at] of adds) pending.add(paths, seq, at);
  return pending;
}

/** Entries sorted by path, so rows do not depend on Map insertion order. */
function sorted(batch: Batch | undefined): { entries: Array<[string, number]>; fullSeq: number | undefined } | undefined {
  if (batch === undefined) return undefined;
  return { entries: [...batch.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), fullSeq: batch.fullSeq };
}

describe('Pending: add and take', () => {
  const rows: Array<{ name: string; adds: Add[]; want: ReturnType<typeof sorted> }> = [
    { name: 'nothing added', adds: [], want: undefined },
    { name: 'empty add is no change', adds: [[[], 1, 0]], want: undefined },
    {
      name: 'distinct paths',
      adds: [[['a', 'b/c'], 1, 0]],
      want: {
        entries: [
          ['a', 1],
          ['b/c', 1],
        ],
        fullSeq: undefined,
      },
    },
    {
      name: 'same path keeps the lowest seq (older first)',
      adds: [
        [['a'], 2, 0],
        [['a'], 5, 1],
      ],
      want: { entries: [['a', 2]], fullSeq: undefined },
    },
    {
      name: 'same path keeps the lowest seq (newer first)',
      adds: [
        [['a'], 5, 0],
        [['a'], 2, 1],
      ],
      want: { entries: [['a', 2]], fullSeq: undefined },
    },
    { name: "'' means the whole root", adds: [[[''], 3, 0]], want: { entries: [], fullSeq: 3 } },
    { name: "'' next to paths keeps both", adds: [[['', 'a'], 3, 0]], want: { entries: [['a', 3]], fullSeq: 3 } },
    {
      name: 'full keeps its lowest seq',
      adds: [
        [[''], 4, 0],
        [[''], 2, 1],
        [[''], 9, 2],
      ],
      want: { entries: [], fullSeq: 2 },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const pending = pendingWith(row.adds);
      assert.deepEqual(sorted(pending.take()), row.want);
      assert.equal(pending.isEmpty, true, 'take() empties the backlog');
      assert.equal(pending.take(), undefined);
    });
  }

  it('counts a full request as one entry of size', () => {
    const pending = pendingWith([[['a', 'b'], 1, 0]]);
    pending.addFull(2, 0);
    assert.equal(pending.size, 3);
    assert.equal(pending.hasFull, true);
  });
});

describe('Pending: oldestSeq', () => {
  const rows: Array<{ name: string; adds: Add[]; full?: number; want: number | undefined }> = [
    { name: 'empty', adds: [], want: undefined },
    {
      name: 'lowest of paths',
      adds: [
        [['a'], 5, 0],
        [['b'], 3, 0],
        [['c'], 7, 0],
      ],
      want: 3,
    },
    { name: 'full seq counts', adds: [[['a'], 5, 0]], full: 4, want: 4 },
    { name: 'full seq higher than a path', adds: [[['a'], 5, 0]], full: 6, want: 5 },
    {
      name: 're-dirtied path keeps its first seq',
      adds: [
        [['a'], 1, 0],
        [['a'], 8, 0],
      ],
      want: 1,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const pending = pendingWith(row.adds);
      if (row.full !== undefined) pending.addFull(row.full, 0);
      assert.equal(pending.oldestSeq, row.want);
    });
  }
});

describe('Pending: restore', () => {
  // A batch is taken, changes may arrive while it is out, then it fails and comes back.
  const rows: Array<{ name: string; before: Add[]; during: Add[]; full?: number; want: ReturnType<typeof sorted> }> = [
    {
      name: 'puts the batch back',
      before: [[['a', 'b'], 1, 0]],
      during: [],
      want: {
        entries: [
          ['a', 1],
          ['b', 1],
        ],
        fullSeq: undefined,
      },
    },
    { name: 'keeps the older seq of a path re-dirtied meanwhile', before: [[['a'], 1, 0]], during: [[['a'], 4, 5]], want: { entries: [['a', 1]], fullSeq: undefined } },
    {
      name: 'keeps paths added meanwhile',
      before: [[['a'], 1, 0]],
      during: [[['c'], 4, 5]],
      want: {
        entries: [
          ['a', 1],
          ['c', 4],
        ],
        fullSeq: undefined,
      },
    },
    { name: 'restores a full request with its seq', before: [[[''], 2, 0]], during: [[[''], 6, 5]], want: { entries: [], fullSeq: 2 } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const pending = pendingWith(row.before);
      const batch = pending.take();
      assert.ok(batch);
      for (const [paths, seq, at] of row.during) pending.add(paths, seq, at);
      pending.restore(batch, 10);
      assert.deepEqual(sorted(pending.take()), row.want);
    });
  }

  it('lowers oldestSeq back to the restored batch', () => {
    const pending = pendingWith([[['a'], 1, 0]]);
    const batch = pending.take()!;
    pending.add(['b'], 3, 1);
    assert.equal(pending.oldestSeq, 3);
    pending.restore(batch, 2);
    assert.equal(pending.oldestSeq, 1);
  });
});

describe('Pending: nothing is lost while a batch is out', () => {
  it('a path re-added after take() stays pending once the batch is confirmed', () => {
    const pending = pendingWith([[['a', 'b'], 1, 0]]);
    const out = pending.take();
    assert.deepEqual(sorted(out)?.entries, [
      ['a', 1],
      ['b', 1],
    ]);
    pending.add(['a'], 2, 5);
    // The batch succeeds: the caller simply drops it. The re-dirtied path must still be here.
    assert.deepEqual(sorted(pending.take()), { entries: [['a', 2]], fullSeq: undefined });
  });
});

describe('Pending: dueAt', () => {
  const rows: Array<{ name: string; adds: Add[]; quietMs: number; maxWaitMs: number; want: number | undefined }> = [
    { name: 'empty has no due time', adds: [], quietMs: 10, maxWaitMs: 100, want: undefined },
    { name: 'empty add does not start the clock', adds: [[[], 1, 50]], quietMs: 10, maxWaitMs: 100, want: undefined },
    { name: 'one change: quiet window after it', adds: [[['a'], 1, 100]], quietMs: 10, maxWaitMs: 50, want: 110 },
    {
      name: 'later change extends the quiet window',
      adds: [
        [['a'], 1, 0],
        [['b'], 2, 5],
      ],
      quietMs: 10,
      maxWaitMs: 100,
      want: 15,
    },
    {
      name: 'steady stream is capped by max wait',
      adds: [
        [['a'], 1, 0],
        [['b'], 2, 8],
        [['c'], 3, 16],
        [['d'], 4, 24],
      ],
      quietMs: 10,
      maxWaitMs: 30,
      want: 30,
    },
    {
      name: 'max wait counts from the first change',
      adds: [
        [['a'], 1, 40],
        [['b'], 2, 60],
      ],
      quietMs: 50,
      maxWaitMs: 30,
      want: 70,
    },
    { name: 'zero quiet window is due at the last change', adds: [[['a'], 1, 7]], quietMs: 0, maxWaitMs: 100, want: 7 },
    { name: "'' counts as a change", adds: [[[''], 1, 20]], quietMs: 10, maxWaitMs: 100, want: 30 },
    {
      // A writer that stalls 20 ms in the middle of a burst must not split it into two batches.
      name: 'a burst (BURST_PATHS arrivals) waits the burst window after its last change',
      adds: [
        [burstNames('a', BURST_PATHS), 1, 0],
        [['b'], 2, 20],
      ],
      quietMs: 10,
      maxWaitMs: 1000,
      want: 20 + BURST_QUIET_MS,
    },
    {
      name: 'a burst is still capped by max wait',
      adds: [[burstNames('a', BURST_PATHS), 1, 0]],
      quietMs: 10,
      maxWaitMs: 30,
      want: 30,
    },
    {
      name: 'fewer changes than a burst keep the configured window',
      adds: [[burstNames('a', BURST_PATHS - 1), 1, 0]],
      quietMs: 10,
      maxWaitMs: 1000,
      want: 10,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(pendingWith(row.adds).dueAt(row.quietMs, row.maxWaitMs), row.want);
    });
  }

  it('addFull starts the clock', () => {
    const pending = new Pending();
    pending.addFull(1, 40);
    assert.equal(pending.dueAt(10, 100), 50);
  });

  it('folding a burst into its directory does not end the burst', () => {
    const pending = pendingWith([[burstNames('d/f', 50), 1, 0]], { maxPerDir: 10, maxPaths: 1000 });
    assert.ok(pending.size < BURST_PATHS, `folded into d: ${pending.size} left`);
    assert.equal(pending.dueAt(10, 1000), BURST_QUIET_MS);
  });

  it('take() ends the burst; restore() does not start one', () => {
    const pending = pendingWith([[burstNames('a', BURST_PATHS), 1, 0]]);
    const batch = pending.take()!;
    pending.add(['x'], 2, 100);
    assert.equal(pending.dueAt(10, 1000), 110, 'a change after the burst was taken waits the configured window');
    pending.take();
    pending.restore(batch, 200);
    assert.equal(pending.dueAt(10, 1000), 210, 'a batch put back is not a burst of arrivals');
  });

  it('take() resets the clock; restore() restarts it at its own time', () => {
    const pending = pendingWith([[['a'], 1, 0]]);
    const batch = pending.take()!;
    assert.equal(pending.dueAt(10, 100), undefined);
    pending.restore(batch, 200);
    assert.equal(pending.dueAt(10, 100), 210);
  });

  it('restore() after new changes keeps the first-change time', () => {
    const pending = pendingWith([[['a'], 1, 0]]);
    const batch = pending.take()!;
    pending.add(['b'], 2, 150);
    pending.restore(batch, 200);
    assert.equal(pending.dueAt(10, 30), 180);
  });
});

describe('Pending: bounded by folding', () => {
  const rows: Array<{ name: string; limits: PendingLimits; adds: Add[]; want: ReturnType<typeof sorted> }> = [
    {
      name: 'at maxPerDir children: no fold',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [[['d/1', 'd/2'], 1, 0]],
      want: {
        entries: [
          ['d/1', 1],
          ['d/2', 1],
        ],
        fullSeq: undefined,
      },
    },
    {
      name: 'over maxPerDir children: folded into the directory with their lowest seq',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [
        [['d/1'], 5, 0],
        [['d/2'], 3, 1],
        [['d/3'], 4, 2],
      ],
      want: { entries: [['d', 3]], fullSeq: undefined },
    },
    {
      name: 'a fold leaves other directories alone',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [[['e/1', 'd/1', 'd/2', 'd/3'], 1, 0]],
      want: {
        entries: [
          ['d', 1],
          ['e/1', 1],
        ],
        fullSeq: undefined,
      },
    },
    {
      name: 'a re-dirtied child is not counted twice',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [[['d/1', 'd/2', 'd/1', 'd/2'], 1, 0]],
      want: {
        entries: [
          ['d/1', 1],
          ['d/2', 1],
        ],
        fullSeq: undefined,
      },
    },
    {
      name: 'folds cascade upwards',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [
        [['a/b/1', 'a/b/2', 'a/b/3', 'a/c/1', 'a/c/2', 'a/c/3'], 2, 0],
        [['a/d/1', 'a/d/2', 'a/d/3'], 1, 1],
      ],
      want: { entries: [['a', 1]], fullSeq: undefined },
    },
    {
      name: 'over maxPerDir at root level: a full pass',
      limits: { maxPerDir: 2, maxPaths: 100 },
      adds: [
        [['x'], 4, 0],
        [['y'], 2, 0],
        [['z'], 3, 0],
      ],
      want: { entries: [], fullSeq: 2 },
    },
    {
      name: 'over maxPaths: a full pass with the lowest seq',
      limits: { maxPerDir: 100, maxPaths: 3 },
      adds: [
        [['a', 'b/c'], 2, 0],
        [['d/e'], 1, 0],
        [['f/g'], 3, 0],
      ],
      want: { entries: [], fullSeq: 1 },
    },
    {
      name: 'at maxPaths: no full pass',
      limits: { maxPerDir: 100, maxPaths: 3 },
      adds: [[['a', 'b/c', 'd/e'], 1, 0]],
      want: {
        entries: [
          ['a', 1],
          ['b/c', 1],
          ['d/e', 1],
        ],
        fullSeq: undefined,
      },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(sorted(pendingWith(row.adds, row.limits).take()), row.want);
    });
  }
});

describe('Pending: folding never loses a path (generated)', () => {
  it('every added path stays covered by an entry (or the full pass) at least as old', () => {
    const names = ['a', 'b', 'c', 'd'];
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const pending = new Pending({ maxPerDir: 1 + Math.floor(rand() * 3), maxPaths: 2 + Math.floor(rand() * 10) });
      const added = new Map<string, number>();
      const count = 1 + Math.floor(rand() * 25);
      for (let i = 0; i < count; i++) {
        const depth = 1 + Math.floor(rand() * 3);
        const p = Array.from({ length: depth }, () => pick(names)).join('/');
        const seq = 1 + Math.floor(rand() * 50);
        pending.add([p], seq, i);
        added.set(p, Math.min(seq, added.get(p) ?? Infinity));
      }
      const batch = pending.take()!;
      for (const [p, seq] of added) {
        if (batch.fullSeq !== undefined && batch.fullSeq <= seq) continue;
        const cover = batch.entries.find(([q, s]) => (q === p || p.startsWith(`${q}/`)) && s <= seq);
        assert.ok(cover, `seed ${seed}: ${p}@${seq} is covered by no entry as old`);
      }
      const oldest = Math.min(batch.fullSeq ?? Infinity, ...batch.entries.map(([, s]) => s));
      assert.equal(oldest, Math.min(...added.values()), `seed ${seed}: the batch's oldest seq`);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BURST_PATHS, BURST_QUIET_MS, quietWindowMs } from '../../src/core/burst.js';

describe('quietWindowMs: how long a backlog waits for quiet', () => {
  const rows: Array<{ name: string; arrivals: number; quietMs: number; want: number }> = [
    { name: 'nothing yet: the configured window', arrivals: 0, quietMs: 10, want: 10 },
    { name: 'one change (a save): the configured window, latency untouched', arrivals: 1, quietMs: 10, want: 10 },
    { name: 'just under a burst: the configured window', arrivals: BURST_PATHS - 1, quietMs: 10, want: 10 },
    { name: 'a burst: the burst window', arrivals: BURST_PATHS, quietMs: 10, want: BURST_QUIET_MS },
    { name: 'a big burst: the same burst window', arrivals: 100_000, quietMs: 10, want: BURST_QUIET_MS },
    { name: 'a configured window longer than the burst one wins', arrivals: 1000, quietMs: 200, want: 200 },
    { name: 'quietMs 0 with one change stays 0', arrivals: 1, quietMs: 0, want: 0 },
    { name: 'quietMs 0 in a burst: the burst window', arrivals: BURST_PATHS, quietMs: 0, want: BURST_QUIET_MS },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(quietWindowMs(row.arrivals, row.quietMs), row.want);
    });
  }
});

/**
 * Drift repair at the Mirror level, on fake replicas (test/helpers/fake-transport.ts): the start-up
 * pass runs once each replica is idle, a live change kills it and goes first, it resumes and reports
 * what it repaired; a seed makes it unnecessary; reconcileIntervalSec 0 turns it off; the periodic
 * pass follows. Real source and watcher, replicas in memory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type MirrorOptions, type RepairedEvent } from '../src/index.js';
import { FakeReplicas } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

const QUIET_MS = 100;

async function rig(extra: Partial<MirrorOptions> = {}) {
  const source = await makeTempDir('fam-drift-src-');
  const base = await makeTempDir('fam-drift-replicas-');
  for (const name of ['a.txt', 'b.txt', 'c.txt']) await writeFile(join(source, name), `${name}\n`);
  const specs = [join(base, 'r0'), join(base, 'r1')];
  const fakes = new FakeReplicas();
  const options: MirrorOptions = { source, replicas: specs, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, ...extra };
  const mirror = new Mirror(options, { transport: fakes.factory, driftTuning: { quietMs: QUIET_MS } });
  const repaired: RepairedEvent[] = [];
  mirror.on('repaired', (e) => repaired.push(e));
  return { source, specs, fakes, mirror, repaired, fake: (i: number) => fakes.get(specs[i]!) };
}

/** Background passes are the full passes a live batch never is here (no seed, no reconcile asked for). */
const background = (fake: { calls: Array<{ paths: string[] | 'full' }> }): number => fake.calls.filter((c) => c.paths === 'full').length;

describe('drift repair on fake replicas', () => {
  it('the start-up pass runs once each replica is quiet and reports what it repaired; a later one finds nothing', async () => {
    const r = await rig({ reconcileIntervalSec: 2 });
    try {
      await r.mirror.start();
      // No seed: the replicas (empty fakes) lack everything, as a replica edited behind our back would.
      await waitFor(() => r.repaired.length === 2, { timeoutMs: 5000, what: 'the start-up pass of both replicas' });
      for (const [i, spec] of r.specs.entries()) {
        const e = r.repaired.find((x) => x.replica === spec)!;
        assert.equal(e.reason, 'drift-startup');
        assert.equal(e.repaired, 3);
        assert.deepEqual(e.sample, ['a.txt', 'b.txt', 'c.txt']);
        assert.ok(r.fake(i).tree.has('a.txt'));
      }
      assert.deepEqual(
        r.mirror.status().map((s) => s.syncs),
        [0, 0],
        'a drift pass is not a confirmed batch',
      );
      // The periodic pass (every 2 s, spread over 0.2 s) finds nothing left to repair.
      await waitFor(() => r.repaired.length === 4, { timeoutMs: 5000, what: 'the periodic pass of both replicas' });
      assert.deepEqual(
        r.repaired.slice(2).map((e) => [e.reason, e.repaired]),
        [
          ['drift-periodic', 0],
          ['drift-periodic', 0],
        ],
      );
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  it('a live change kills the running pass and goes first; the pass starts again once quiet and repairs', async () => {
    const r = await rig();
    const mirror = new Mirror(
      { source: r.source, replicas: [r.specs[0]!], quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, reconcileIntervalSec: 3600 },
      { transport: r.fakes.factory, driftTuning: { quietMs: QUIET_MS } },
    );
    const repaired: RepairedEvent[] = [];
    const fake = r.fake(0);
    // What the replica had when the pass reported: the live change must have gone first.
    const hadLiveChange: boolean[] = [];
    mirror.on('repaired', (e) => {
      repaired.push(e);
      hadLiveChange.push(fake.received.has('hot.txt'));
    });
    try {
      fake.hold();
      await mirror.start();
      await waitFor(() => fake.waiting === 1, { timeoutMs: 5000, what: 'the start-up pass under way (held)' });
      await writeFile(join(r.source, 'hot.txt'), 'live\n');
      await waitFor(() => fake.aborted === 1, { timeoutMs: 5000, what: 'the pass killed by the live change' });
      assert.equal(repaired.length, 0, 'an aborted pass reports nothing');
      fake.release();
      await mirror.flush();
      assert.ok(fake.received.has('hot.txt'), 'the live change went through');
      await waitFor(() => repaired.length === 1, { timeoutMs: 5000, what: 'the pass again, to its end' });
      assert.equal(repaired[0]!.reason, 'drift-startup');
      assert.equal(repaired[0]!.repaired, 3, 'a.txt, b.txt, c.txt: hot.txt was there already');
      assert.deepEqual(hadLiveChange, [true]);
      assert.deepEqual(
        fake.calls.filter((c) => c.paths === 'full').map((c) => c.exitCode),
        [20, 0],
        'one killed, one to its end',
      );
      const live = fake.calls.filter((c) => c.paths !== 'full').length;
      assert.equal(mirror.status()[0]!.syncs, live, 'only the live batches count as syncs');
    } finally {
      r.fakes.releaseAll();
      await mirror.close();
    }
  });

  it('a seed makes the start-up pass unnecessary; reconcileIntervalSec 0 turns the passes off, and a dry run has none', async () => {
    const seeded = await rig({ reconcileIntervalSec: 1, initMirror: true });
    const off = await rig({ reconcileIntervalSec: 0 });
    const dry = await rig({ reconcileIntervalSec: 1, dryRun: true });
    try {
      await seeded.mirror.start();
      await off.mirror.start();
      await dry.mirror.start();
      // Both ran side by side for as long as the seeded mirror's first periodic passes took.
      await waitFor(() => seeded.repaired.length >= 2, { timeoutMs: 5000, what: 'the periodic passes of the seeded mirror' });
      assert.ok(
        seeded.repaired.every((e) => e.reason === 'drift-periodic' && e.repaired === 0),
        JSON.stringify(seeded.repaired),
      );
      for (const quiet of [off, dry]) {
        assert.deepEqual(quiet.repaired, []);
        for (const i of [0, 1]) assert.equal(background(quiet.fake(i)), 0, 'no pass at all');
      }
    } finally {
      for (const r of [seeded, off, dry]) {
        r.fakes.releaseAll();
        await r.mirror.close();
      }
    }
  });
});

/**
 * The barrier's marker logic (src/watch/barrier.ts) without a watcher: the test plays the watcher's
 * part (it delivers the marker's event, or not) and moves a manual clock for the timeout.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Barrier, BARRIER_TIMEOUT_MS } from '../../src/watch/barrier.js';
import type { WatchEvent } from '../../src/watch/events.js';
import { cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';
import { ManualClock } from '../helpers/manual-clock.js';

after(cleanupTempDirs);

async function rig(closed = () => false) {
  const dir = await makeTempDir('fam-barrier-');
  const clock = new ManualClock();
  return { dir, clock, barrier: new Barrier(dir, clock, closed) };
}

/** The one marker file in `dir` once it is written. */
async function markerWritten(dir: string, not: string[] = []): Promise<string> {
  let name: string | undefined;
  await waitFor(async () => (name = (await readdir(dir)).find((n) => !not.includes(n))) !== undefined, { what: 'a marker file' });
  return join(dir, name!);
}

const created = (path: string): WatchEvent[] => [{ type: 'create', path }];

describe('Barrier', () => {
  it('a marker whose event is delivered has arrived; its file is removed and its timer cancelled', async () => {
    const { dir, clock, barrier } = await rig();
    const arrived = barrier.marker();
    const file = await markerWritten(dir);
    assert.equal(clock.delays.length, 1);
    barrier.deliver(created(file));
    assert.equal(await arrived, true);
    assert.equal(existsSync(file), false);
    assert.equal(clock.delays.length, 0);
  });

  it('a marker that does not come back in time has not arrived (never a silent success)', async () => {
    const { dir, clock, barrier } = await rig();
    const arrived = barrier.marker();
    const file = await markerWritten(dir);
    clock.advanceNow(BARRIER_TIMEOUT_MS - 1);
    barrier.deliver(created(join(dir, 'm999')));
    barrier.deliver(created(`${file}.tmp`));
    clock.advanceNow(1);
    assert.equal(await arrived, false);
    assert.equal(existsSync(file), false);
    // Its event arriving late releases nothing and breaks nothing.
    barrier.deliver(created(file));
  });

  it('a marker that cannot be written has not arrived, without waiting for the timeout', async () => {
    const { dir, clock } = await rig();
    const barrier = new Barrier(join(dir, 'missing'), clock, () => false);
    assert.equal(await barrier.marker(), false);
    assert.equal(clock.delays.length, 0);
  });

  it('once the watcher is closing, a marker that did not come back no longer matters', async () => {
    let closed = false;
    const { dir, clock, barrier } = await rig(() => closed);
    const arrived = barrier.marker();
    await markerWritten(dir);
    closed = true;
    clock.advanceNow(BARRIER_TIMEOUT_MS);
    assert.equal(await arrived, true);
  });

  it('release() lets every marker still awaited through', async () => {
    const { dir, clock, barrier } = await rig();
    const arrived = barrier.marker();
    await markerWritten(dir);
    barrier.release();
    assert.equal(await arrived, true);
    assert.equal(clock.delays.length, 0);
  });

  it('roundTrip() sends the second marker only after the first came back, and fails with either', async () => {
    const { dir, clock, barrier } = await rig();
    const ok = barrier.roundTrip();
    const first = await markerWritten(dir);
    barrier.deliver(created(first));
    const second = await markerWritten(dir, [basename(first)]);
    assert.notEqual(second, first);
    barrier.deliver(created(second));
    assert.equal(await ok, true);

    const lost = barrier.roundTrip();
    const third = await markerWritten(dir);
    clock.advanceNow(BARRIER_TIMEOUT_MS);
    assert.equal(await lost, false);
    assert.equal(existsSync(third), false);
    assert.deepEqual(await readdir(dir), [], 'no second marker was written after the first was lost');
  });
});

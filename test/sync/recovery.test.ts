/**
 * What a restart gives each replica, decided by sync/recovery.ts from a real journal in a temp dir:
 * lanes with an executor that only records its batches, a manual clock, and a stand-in for the
 * watcher's snapshot calls. The oracle is the batches each replica was handed and the problem
 * events it got.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Batch } from '../../src/core/coalesce.js';
import type { MirrorError } from '../../src/errors.js';
import { Journal } from '../../src/sync/journal.js';
import { hashName } from '../../src/sync/journal-format.js';
import { Fanout } from '../../src/sync/fanout.js';
import { Recovery } from '../../src/sync/recovery.js';
import type { ProblemEvent } from '../../src/types.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';
import { ManualClock } from '../helpers/manual-clock.js';

after(cleanupTempDirs);

const SOURCE = '/srv/www';
const TIMING = { quietMs: 10, maxWaitMs: 100, retryMinMs: 10, retryMaxMs: 100 };

/** A recovery over lanes r1, r2 and the journal in `dir` as it is now. */
function rig(dir: string, changed: string[] = []) {
  const clock = new ManualClock();
  const batches: Array<{ replica: string; batch: Batch }> = [];
  const problems: ProblemEvent[] = [];
  const reported: MirrorError[] = [];
  const snapshots: string[] = [];
  const journal = new Journal(dir, SOURCE);
  const fanout = new Fanout({
    makeExecute: (replica) => async (batch) => {
      batches.push({ replica: replica.id, batch });
      return { verdict: 'ok' };
    },
    timing: TIMING,
    clock,
    events: { emit: () => true },
    report: (err) => reported.push(err),
    lastSeq: journal.lastSeq,
  });
  const recovery = new Recovery(journal, { fanout, clock, running: () => true, problem: (e) => problems.push(e), report: (e) => reported.push(e), stateDir: dir, journalLimitBytes: 1 << 20 });
  fanout.useLog(recovery);
  for (const id of ['r1', 'r2']) fanout.add({ kind: 'local', id, path: `/replicas/${id}` });
  const watcher = {
    saveSnapshot: async (file: string) => {
      snapshots.push(file);
      await writeFile(file, 'snapshot\n');
    },
    changesSince: async () => changed,
  };
  /** Restores, catches up, and lets every lane run what it was given. */
  const restart = async () => {
    recovery.restore();
    await recovery.catchUpDowntime(watcher);
    await clock.advance(TIMING.maxWaitMs);
  };
  const sent = (replica: string) =>
    batches
      .filter((b) => b.replica === replica)
      .map((b) =>
        b.batch.fullSeq !== undefined
          ? 'full'
          : b.batch.entries
              .map(([p]) => p)
              .sort()
              .join(','),
      );
  return { journal, fanout, recovery, restart, sent, problems, reported, snapshots, clock };
}

/** A state dir whose last run knew r1 and r2, both in step at seq 2, stopped cleanly or not, with or without its snapshot. */
async function previousRun(opts: { clean: boolean; snapshot: boolean }): Promise<string> {
  const dir = await makeTempDir('fam-recovery-');
  const j = new Journal(dir, SOURCE);
  j.append({ seq: 1, paths: ['a'] });
  j.append({ seq: 2, paths: ['b'] });
  j.confirm('r1', 2);
  j.confirm('r2', 2);
  if (opts.snapshot) await writeFile(j.snapshotFile, 'snapshot\n');
  j.close({ clean: opts.clean });
  return dir;
}

describe('Recovery: what each replica gets after a restart', () => {
  it('a first start: nothing to send, nothing to report; the snapshot is taken', async () => {
    const r = rig(await makeTempDir('fam-recovery-'));
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [[], []]);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.snapshots, [r.journal.snapshotFile]);
  });

  it('a clean stop with its snapshot: only what changed while stopped, no problem', async () => {
    const r = rig(await previousRun({ clean: true, snapshot: true }), ['new.txt', 'gone.txt']);
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [['gone.txt,new.txt'], ['gone.txt,new.txt']]);
    assert.deepEqual(r.problems, []);
  });

  it('a clean stop without its snapshot: a full pass of every replica, no problem', async () => {
    const r = rig(await previousRun({ clean: true, snapshot: false }), ['never-asked']);
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [['full'], ['full']]);
    assert.deepEqual(r.problems, []);
  });

  it('an unclean stop: every replica is told why and gets a full pass, even with a snapshot', async () => {
    const r = rig(await previousRun({ clean: false, snapshot: true }), ['never-asked']);
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [['full'], ['full']]);
    assert.deepEqual(
      r.problems.map((p) => [p.replica, p.code]),
      [
        ['r1', 'ERR_STATE_UNCLEAN'],
        ['r2', 'ERR_STATE_UNCLEAN'],
      ],
    );
  });

  it('a watermark that does not check out: that replica alone is told why and gets a full pass', async () => {
    const dir = await previousRun({ clean: true, snapshot: true });
    await writeFile(join(dir, hashName(SOURCE), 'marks', hashName('r2')), 'garbage\n');
    const r = rig(dir, []);
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [[], ['full']]);
    assert.deepEqual(
      r.problems.map((p) => [p.replica, p.code]),
      [['r2', 'ERR_STATE_DAMAGED']],
    );
    assert.match(r.problems[0]!.message, /watermark file is damaged/);
  });

  it('records a replica had not confirmed are sent again, to it only', async () => {
    const dir = await makeTempDir('fam-recovery-');
    const j = new Journal(dir, SOURCE);
    j.append({ seq: 1, paths: ['a'] });
    j.append({ seq: 2, paths: ['b'] });
    j.confirm('r1', 2);
    j.confirm('r2', 1);
    await writeFile(j.snapshotFile, 'snapshot\n');
    j.close({ clean: true });
    const r = rig(dir, []);
    await r.restart();
    assert.deepEqual([r.sent('r1'), r.sent('r2')], [[], ['b']]);
  });
});

describe('Recovery: a running mirror', () => {
  it('a replica added gets a journaled full pass of its own, which a restart still owes it until confirmed', async () => {
    const dir = await makeTempDir('fam-recovery-');
    const r = rig(dir);
    await r.restart();
    const lane = r.fanout.add({ kind: 'local', id: 'r3', path: '/replicas/r3' });
    r.recovery.fullPassFor('replica-added', lane);
    assert.deepEqual(r.problems, []);
    r.recovery.close(false);
    const again = new Journal(dir, SOURCE);
    const resume = again.resume('r3');
    assert.equal(resume.kind, 'records');
    assert.deepEqual(resume.kind === 'records' ? resume.records.map((x) => x.paths) : [], [['']]);
    again.close();
  });

  it('a state directory that fails a write: reported once, the changes still flow, and the stop is not recorded as clean', async () => {
    const dir = await makeTempDir('fam-recovery-');
    const r = rig(dir);
    await r.restart();
    await rm(join(dir, hashName(SOURCE), 'marks'), { recursive: true });
    r.fanout.dispatch(['x']);
    await r.clock.advance(TIMING.maxWaitMs);
    r.fanout.dispatch(['y']);
    await r.clock.advance(TIMING.maxWaitMs);
    assert.deepEqual(
      [r.sent('r1'), r.sent('r2')],
      [
        ['x', 'y'],
        ['x', 'y'],
      ],
    );
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ['ERR_STATE'],
    );
    assert.deepEqual(
      r.reported.map((e) => e.code),
      ['ERR_STATE'],
    );
    r.recovery.close(true);
    const again = new Journal(dir, SOURCE);
    assert.equal(again.cleanStop, false);
    again.close();
  });
});

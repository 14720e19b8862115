/**
 * The start-up check of every replica, Mirror-level, on fake replicas (test/helpers/fake-transport.ts):
 * a lane starts `checking` and sends nothing until its replica answered; changes that arrive meanwhile
 * are kept and sent once checked; a check that fails is `down` (retried with backoff) or `failed`
 * (needs a human, retried slowly) with its code, while the other replicas start normally; the
 * metrics' `up` is 1 only for a replica that answered.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, isMirrorError, type MirrorOptions } from '../src/index.js';
import { formatMetrics } from '../src/core/metrics.js';
import type { ReplicaCheckedEvent, ReplicaStateEvent } from '../src/types.js';
import { FakeReplicas } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

async function rig(extra: Partial<MirrorOptions> = {}) {
  const source = await makeTempDir('fam-check-src-');
  const base = await makeTempDir('fam-check-replicas-');
  await writeFile(join(source, 'seed.txt'), 'seed\n');
  const specs = [join(base, 'r0'), join(base, 'r1')];
  const fakes = new FakeReplicas();
  const mirror = new Mirror({ source, replicas: specs, initMirror: false, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, ...extra }, { transport: fakes.factory });
  const checked: ReplicaCheckedEvent[] = [];
  const downs: ReplicaStateEvent[] = [];
  const ups: ReplicaStateEvent[] = [];
  mirror.on('replica-checked', (e) => checked.push(e));
  mirror.on('replica-down', (e) => downs.push(e));
  mirror.on('replica-up', (e) => ups.push(e));
  mirror.on('error', () => {});
  const state = (i: number) => mirror.status().find((s) => s.replica === specs[i])?.state;
  const up = (i: number) => new RegExp(`fam_mirror_replica_up\\{replica="${specs[i]}"\\} 1`).test(formatMetrics(mirror.status()));
  return { source, specs, fakes, mirror, checked, downs, ups, state, up, fake: (i: number) => fakes.get(specs[i]!) };
}

describe('every replica is checked at start (fake replicas)', () => {
  it('a lane is checking until its replica answers: nothing is sent to it, its changes wait and flow once checked; the other starts at once', async () => {
    const r = await rig();
    r.fake(0).holdCheck();
    try {
      await r.mirror.start();
      assert.equal(r.state(0), 'checking');
      await waitFor(() => r.state(1) === 'idle', { timeoutMs: 5000, what: 'the second replica checked' });
      assert.equal(r.up(0), false, 'a replica checking is not up in the metrics');
      assert.equal(r.up(1), true);
      await writeFile(join(r.source, 'page.html'), 'v1\n');
      const early = await r.mirror.flush({ timeoutMs: 500 });
      assert.deepEqual(early.behind, [r.specs[0]], 'the checking replica is behind, the other has the change');
      assert.ok(r.fake(1).received.has('page.html'));
      assert.equal(r.fake(0).calls.length, 0, 'no rsync before the check passed');
      assert.equal(r.state(0), 'checking');
      assert.ok(r.mirror.status()[0]!.backlog > 0, 'the change is kept in its backlog');
      r.fake(0).releaseCheck();
      assert.deepEqual(await r.mirror.flush(), { complete: true, behind: [], problems: [] });
      assert.ok(r.fake(0).received.has('page.html'), 'the change queued while checking was sent once checked');
      assert.equal(r.state(0), 'idle');
      assert.equal(r.up(0), true);
      assert.deepEqual(r.checked.map((e) => [e.replica, e.attempt, e.check?.rsyncVersion]).sort(), [
        [r.specs[0], 1, '3.2.7'],
        [r.specs[1], 1, '3.2.7'],
      ]);
      assert.equal(r.downs.length, 0);
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  it('a replica down at start (connection refused) is down, retried with backoff, skipped by flush({ healthyOnly }), and catches up when back', async () => {
    const r = await rig();
    r.fake(0).refuseConnect('ERR_SSH_CONNECT');
    try {
      await r.mirror.start();
      await waitFor(() => r.state(0) === 'down' && r.state(1) === 'idle', { timeoutMs: 5000, what: 'r0 down, r1 idle' });
      assert.equal(r.downs[0]?.error?.code, 'ERR_SSH_CONNECT');
      assert.equal(r.up(0), false);
      await writeFile(join(r.source, 'page.html'), 'v1\n');
      const healthy = await r.mirror.flush({ healthyOnly: true });
      assert.deepEqual(healthy.behind, [r.specs[0]]);
      assert.ok(r.fake(1).received.has('page.html'));
      await waitFor(() => r.checked.filter((e) => e.replica === r.specs[0]).length >= 3, { timeoutMs: 5000, what: 'the check retried' });
      assert.equal(r.fake(0).calls.length, 0, 'nothing sent while its check fails');
      r.fake(0).heal();
      assert.deepEqual(await r.mirror.flush(), { complete: true, behind: [], problems: [] });
      assert.ok(r.fake(0).received.has('page.html'));
      assert.deepEqual(
        r.ups.map((e) => e.replica),
        [r.specs[0]],
      );
      assert.equal(r.up(0), true);
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  for (const code of ['ERR_TARGET_MISSING', 'ERR_RSYNC_MISSING', 'ERR_SSH_AUTH'] as const) {
    it(`a check that needs a human (${code}) fails that replica with its code; flush() rejects with it, the other replica runs; fixed, it heals`, async () => {
      const r = await rig();
      r.fake(0).failCheck(code);
      try {
        await r.mirror.start();
        await waitFor(() => r.state(0) === 'failed' && r.state(1) === 'idle', { timeoutMs: 5000, what: 'r0 failed, r1 idle' });
        const status = r.mirror.status()[0]!;
        assert.match(status.lastError ?? '', /check failed/);
        assert.equal(r.up(0), false);
        assert.match(formatMetrics(r.mirror.status()), new RegExp(`fam_mirror_replica_failed\\{replica="${r.specs[0]}"\\} 1`));
        await writeFile(join(r.source, 'page.html'), 'v1\n');
        await assert.rejects(r.mirror.flush(), (e: unknown) => isMirrorError(e, code));
        const healthy = await r.mirror.flush({ healthyOnly: true });
        assert.deepEqual(healthy.behind, [r.specs[0]]);
        assert.ok(r.fake(1).received.has('page.html'));
        assert.equal(r.fake(0).calls.length, 0, 'nothing sent to a replica that failed its check');
        assert.equal(r.checked.find((e) => e.replica === r.specs[0])?.error?.code, code);
        r.fake(0).heal();
        // A failed lane answers flush() with its error until its slow retry (retryMaxMs) finds it fixed.
        await waitFor(() => r.state(0) === 'idle', { timeoutMs: 5000, what: 'r0 healed by its slow retry' });
        assert.deepEqual(await r.mirror.flush(), { complete: true, behind: [], problems: [] });
        assert.ok(r.fake(0).received.has('page.html'));
      } finally {
        r.fakes.releaseAll();
        await r.mirror.close();
      }
    });
  }

  it('with initMirror, a replica down at its check is unseeded and the other seeded', async () => {
    const r = await rig({ initMirror: true });
    r.fake(0).refuseConnect('ERR_SSH_CONNECT');
    try {
      assert.deepEqual(await r.mirror.start(), { seeded: [r.specs[1]], unseeded: [r.specs[0]], failed: [] });
      assert.equal(r.fake(1).fullPasses().length, 1);
      r.fake(0).heal();
      await r.mirror.flush();
      assert.equal(r.fake(0).fullPasses().length, 1, 'seeded when back');
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  it('with initMirror, a replica that needs a human is failed with its code and the other is seeded and runs', async () => {
    const r = await rig({ initMirror: true });
    r.fake(0).refuseConnect('ERR_HOST_KEY_UNKNOWN');
    try {
      const started = await r.mirror.start();
      assert.deepEqual(started, { seeded: [r.specs[1]], unseeded: [], failed: [{ replica: r.specs[0], code: 'ERR_HOST_KEY_UNKNOWN' }] });
      assert.equal(r.state(0), 'failed');
      assert.ok(r.mirror.status()[0]!.lastError, 'the reason is in status()');
      await writeFile(join(r.source, 'later.html'), 'after the start\n');
      const flushed = await r.mirror.flush({ healthyOnly: true });
      assert.deepEqual(flushed.behind, [r.specs[0]]);
      assert.ok(r.fake(1).received.has('later.html'), 'the healthy replica follows the changes');
      assert.equal(r.fake(0).calls.length, 0, 'nothing sent to the failed replica');
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  it('with initMirror, start() still rejects when no replica at all could be seeded for a reason that needs a human', async () => {
    const r = await rig({ initMirror: true });
    r.fake(0).refuseConnect('ERR_HOST_KEY_UNKNOWN');
    r.fake(1).refuseConnect('ERR_SSH_AUTH');
    try {
      await assert.rejects(r.mirror.start(), (e) => isMirrorError(e, 'ERR_HOST_KEY_UNKNOWN'));
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });
});

/**
 * The replica guard at Mirror level, on fake replicas (test/helpers/fake-transport.ts decides by the
 * same rules as the real transports, src/core/replica-guard.ts): a fenced replica, one owned by
 * another master, one emptied under the mirror, one whose file system was unmounted. Each time the
 * other replica carries on.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, isMirrorError, type MirrorErrorCode, type MirrorOptions, type ProblemEvent } from '../src/index.js';
import { FakeReplicas, type FakeTransport } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

async function rig(extra: Partial<MirrorOptions> = {}, again?: { source: string; specs: string[]; fakes: FakeReplicas }) {
  const source = again?.source ?? (await makeTempDir('fam-guard-src-'));
  const base = await makeTempDir('fam-guard-replicas-');
  if (again === undefined) await writeFile(join(source, 'seed.txt'), 'seed\n');
  const specs = again?.specs ?? [join(base, 'r0'), join(base, 'r1')];
  const fakes = again?.fakes ?? new FakeReplicas();
  const mirror = new Mirror({ source, replicas: specs, initMirror: true, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, ...extra }, { transport: fakes.factory });
  const problems: ProblemEvent[] = [];
  const failed: string[] = [];
  mirror.on('problem', (e) => problems.push(e));
  mirror.on('replica-down', (e) => failed.push(`${e.replica} ${e.error?.code}`));
  const fake = (i: number): FakeTransport => fakes.get(specs[i]!);
  return { source, specs, fakes, mirror, problems, failed, fake };
}

const code = (c: MirrorErrorCode) => (e: unknown) => isMirrorError(e, c);
const snapshot = (f: FakeTransport) => JSON.stringify([...f.tree].sort());

describe('replica guard on fake replicas', () => {
  it('a fenced replica fails with ERR_REPLICA_FENCED and is not changed; the other carries on; unfenced, it catches up', async () => {
    const r = await rig();
    try {
      await r.mirror.start();
      r.fake(0).fenced = true;
      const before = snapshot(r.fake(0));
      await writeFile(join(r.source, 'after-fence.txt'), 'x\n');
      await assert.rejects(r.mirror.flush(), code('ERR_REPLICA_FENCED'));
      assert.ok(r.fake(1).tree.has('after-fence.txt'), 'the other replica carries on');
      assert.equal(snapshot(r.fake(0)), before, 'nothing on the fenced replica changed');
      const s = r.mirror.status()[0]!;
      assert.equal(s.state, 'failed');
      assert.match(s.lastError ?? '', /is fenced/);
      assert.deepEqual(r.failed, [`${r.specs[0]} ERR_REPLICA_FENCED`], 'replica-down fired once (the alert hook listens to it)');
      r.fake(0).fenced = false;
      await waitFor(async () => (await r.mirror.flush({ healthyOnly: true })).complete && r.fake(0).tree.has('after-fence.txt'), { timeoutMs: 5000, what: 'the unfenced replica to catch up' });
    } finally {
      r.fakes.releaseAll();
      await r.mirror.close();
    }
  });

  it('a replica owned by another master is refused with ERR_REPLICA_OWNED naming the owner; takeOver feeds it', async () => {
    const r = await rig();
    r.fake(0).ownerRecord = 'other-host:/srv/www';
    try {
      // A seed refused for a reason that needs a human fails that replica only: the other is seeded.
      assert.deepEqual(await r.mirror.start(), { seeded: [r.specs[1]], unseeded: [], failed: [{ replica: r.specs[0], code: 'ERR_REPLICA_OWNED' }] });
      assert.match(r.mirror.status()[0]!.lastError ?? '', /is fed by other-host:\/srv\/www/);
      assert.ok(r.problems.some((p) => p.replica === r.specs[0] && p.code === 'ERR_REPLICA_OWNED'));
      assert.equal(r.fake(0).tree.size, 0, 'nothing sent to the owned replica');
      assert.equal(r.fake(0).ownerRecord, 'other-host:/srv/www', 'its record untouched');
    } finally {
      await r.mirror.close();
    }
    const t = await rig({ takeOver: true });
    t.fake(0).ownerRecord = 'other-host:/srv/www';
    try {
      await t.mirror.start();
      await t.mirror.flush();
      assert.ok(t.fake(0).tree.has('seed.txt'), 'taken over: seeded');
      assert.notEqual(t.fake(0).ownerRecord, 'other-host:/srv/www', 'the record names this master now');
      assert.match(t.fake(0).ownerRecord!, new RegExp(`:${t.source}$`));
    } finally {
      await t.mirror.close();
    }
  });

  it('a replica emptied while the mirror runs is seeded again at its next batch (ERR_TARGET_EMPTIED, a full pass)', async () => {
    const r = await rig();
    try {
      await r.mirror.start();
      for (let i = 0; i < 20; i++) await writeFile(join(r.source, `f${i}`), `${i}\n`);
      await r.mirror.flush();
      assert.equal(r.fake(0).fullPasses().length, 1);
      r.fake(0).empty();
      await writeFile(join(r.source, 'next.txt'), 'n\n');
      await r.mirror.flush();
      assert.equal(r.fake(0).fullPasses().length, 2, 'one more full pass: the re-seed');
      for (const name of ['seed.txt', 'f0', 'f19', 'next.txt']) assert.ok(r.fake(0).tree.has(name), `${name} is back`);
      assert.ok(r.problems.some((p) => p.replica === r.specs[0] && p.code === 'ERR_TARGET_EMPTIED'));
      assert.equal(r.fake(1).fullPasses().length, 1, 'the other replica is not re-seeded');
      assert.equal(r.mirror.status()[0]!.state, 'idle');
    } finally {
      await r.mirror.close();
    }
  });

  it('a mount point no longer mounted is refused with ERR_TARGET_UNMOUNTED until it is mounted again', async () => {
    const r = await rig();
    r.fake(0).root = { exists: true, isDirectory: true, device: 7, parentDevice: 1 };
    try {
      await r.mirror.start();
      r.fake(0).root = { exists: true, isDirectory: true, device: 1, parentDevice: 1 };
      const calls = r.fake(0).calls.length;
      const before = snapshot(r.fake(0));
      await writeFile(join(r.source, 'while-unmounted.txt'), 'u\n');
      await assert.rejects(r.mirror.flush(), code('ERR_TARGET_UNMOUNTED'));
      assert.equal(snapshot(r.fake(0)), before, 'nothing written into the bare mount point');
      assert.ok(
        r
          .fake(0)
          .calls.slice(calls)
          .every((c) => c.exitCode === 81),
        'every call since was refused',
      );
      assert.ok(r.fake(1).tree.has('while-unmounted.txt'));
      r.fake(0).root = { exists: true, isDirectory: true, device: 7, parentDevice: 1 };
      await waitFor(async () => (await r.mirror.flush({ healthyOnly: true })).complete && r.fake(0).tree.has('while-unmounted.txt'), { timeoutMs: 5000, what: 'the remounted replica to catch up' });
    } finally {
      await r.mirror.close();
    }
  });

  describe('what the guard knows survives a restart of the master (state directory)', () => {
    it('a replica emptied while the master was stopped is seeded again at its first batch after the restart', async () => {
      const stateDir = await makeTempDir('fam-guard-state-');
      const r = await rig({ stateDir });
      try {
        await r.mirror.start();
        for (let i = 0; i < 20; i++) await writeFile(join(r.source, `f${i}`), `${i}\n`);
        await r.mirror.flush();
      } finally {
        await r.mirror.close();
      }
      r.fake(0).empty();
      const again = await rig({ stateDir, initMirror: false }, r);
      try {
        await again.mirror.start();
        await writeFile(join(r.source, 'after-restart.txt'), 'n\n');
        await again.mirror.flush();
        for (const name of ['seed.txt', 'f0', 'f19', 'after-restart.txt']) assert.ok(r.fake(0).tree.has(name), `${name} is on the re-imaged replica`);
        assert.ok(again.problems.some((p) => p.replica === r.specs[0] && p.code === 'ERR_TARGET_EMPTIED'));
        assert.equal(r.fake(1).fullPasses().length, 1, 'the other replica is not re-seeded');
      } finally {
        await again.mirror.close();
      }
    });

    it('a mount point unmounted while the master was stopped is refused after the restart, until mounted again', async () => {
      const stateDir = await makeTempDir('fam-guard-state-');
      const r = await rig({ stateDir });
      r.fake(0).root = { exists: true, isDirectory: true, device: 7, parentDevice: 1 };
      try {
        await r.mirror.start();
        await r.mirror.flush();
      } finally {
        await r.mirror.close();
      }
      r.fake(0).root = { exists: true, isDirectory: true, device: 1, parentDevice: 1 };
      const before = snapshot(r.fake(0));
      const again = await rig({ stateDir, initMirror: false }, r);
      try {
        await again.mirror.start();
        await writeFile(join(r.source, 'while-unmounted.txt'), 'u\n');
        await assert.rejects(again.mirror.flush(), code('ERR_TARGET_UNMOUNTED'));
        assert.equal(snapshot(r.fake(0)), before, 'nothing written into the bare mount point');
        assert.ok(r.fake(1).tree.has('while-unmounted.txt'));
        r.fake(0).root = { exists: true, isDirectory: true, device: 7, parentDevice: 1 };
        await waitFor(async () => (await again.mirror.flush({ healthyOnly: true })).complete && r.fake(0).tree.has('while-unmounted.txt'), {
          timeoutMs: 5000,
          what: 'the remounted replica to catch up',
        });
      } finally {
        await again.mirror.close();
      }
    });
  });
});

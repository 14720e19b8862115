/**
 * Mirror-level behaviour on fake replicas (test/helpers/fake-transport.ts): the source is a real temp
 * tree under the real watcher, only the replica side is in memory, so each scenario runs in a fraction
 * of a second without rsync or sshd. Lifecycle, fan-out (a hanging, down or refusing replica never
 * holds back the others, and catches up when back), reconcile triggers, replica-list changes and
 * restart recovery from the state directory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import parcel, { type AsyncSubscription, type SubscribeCallback } from '@parcel/watcher';
import { Mirror, isMirrorError, type MirrorErrorCode, type MirrorOptions } from '../src/index.js';
import type { WatchBackend } from '../src/watch/tree-watcher.js';
import { FakeReplicas, type FakeTransport } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

interface Rig {
  source: string;
  specs: string[];
  fakes: FakeReplicas;
  mirror: Mirror;
  options: MirrorOptions;
  /** The fake of replica i (by its spec). */
  fake(i: number): FakeTransport;
}

async function rig(n: number, extra: Partial<MirrorOptions> = {}, backend?: WatchBackend): Promise<Rig> {
  const source = await makeTempDir('fam-fake-src-');
  const base = await makeTempDir('fam-fake-replicas-');
  await writeFile(join(source, 'seed.txt'), 'seed\n');
  const specs = Array.from({ length: n + 1 }, (_, i) => join(base, `r${i}`));
  const fakes = new FakeReplicas();
  const options: MirrorOptions = { source, replicas: specs.slice(0, n), initMirror: true, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, ...extra };
  const mirror = new Mirror(options, { transport: fakes.factory, watchBackend: backend });
  return { source, specs, fakes, mirror, options, fake: (i) => fakes.get(specs[i]!) };
}

/** Ends a scenario: held calls let go first (a batch in flight is awaited by close(), as with rsync). */
async function done(r: Rig, ...more: Mirror[]): Promise<void> {
  r.fakes.releaseAll();
  for (const m of [r.mirror, ...more]) await m.close();
}

const code = (c: MirrorErrorCode) => (e: unknown) => isMirrorError(e, c);

describe('Mirror on fake replicas: lifecycle', () => {
  it('start seeds every replica, flush waits for each change, close closes every transport and ends the API', async () => {
    const r = await rig(2);
    try {
      await assert.rejects(r.mirror.flush(), code('ERR_NOT_STARTED'));
      assert.throws(() => r.mirror.reconcile(), code('ERR_NOT_STARTED'));
      const started = await r.mirror.start();
      assert.deepEqual(started, { seeded: [r.specs[0], r.specs[1]], unseeded: [], failed: [] });
      await assert.rejects(r.mirror.start(), code('ERR_STARTED'));
      for (const i of [0, 1]) {
        assert.equal(r.fake(i).fullPasses().length, 1, 'one seed each');
        assert.ok(r.fake(i).tree.has('seed.txt'));
      }
      await writeFile(join(r.source, 'page.html'), 'v1\n');
      const flushed = await r.mirror.flush();
      assert.deepEqual(flushed, { complete: true, behind: [], problems: [] });
      for (const i of [0, 1]) assert.ok(r.fake(i).received.has('page.html'), `replica ${i} was given page.html`);
      await r.mirror.close();
      assert.ok(r.fake(0).closed && r.fake(1).closed, 'every transport closed');
      assert.deepEqual(
        r.mirror.status().map((s) => s.state),
        ['closed', 'closed'],
      );
      await assert.rejects(r.mirror.flush(), code('ERR_CLOSED'));
      await assert.rejects(r.mirror.start(), code('ERR_CLOSED'));
      await assert.rejects(r.mirror.verify(), code('ERR_CLOSED'));
      await r.mirror.close();
    } finally {
      await done(r);
    }
  });
});

describe('Mirror on fake replicas: fan-out', () => {
  it('a replica hanging in rsync holds back no other; it catches up when released', async () => {
    const r = await rig(2);
    try {
      await r.mirror.start();
      r.fake(1).hold();
      await writeFile(join(r.source, 'x'), 'x\n');
      await waitFor(() => r.fake(0).tree.has('x'), { timeoutMs: 5000, what: 'x on replica 0' });
      await waitFor(() => r.fake(1).waiting === 1, { timeoutMs: 5000, what: 'replica 1 held' });
      const [zero, one] = r.mirror.status();
      assert.deepEqual([zero!.state, zero!.backlog, one!.state], ['idle', 0, 'syncing']);
      // The deadline also covers the watcher's barrier (a marker round trip through its debounce).
      const partial = await r.mirror.flush({ timeoutMs: 1500 });
      assert.deepEqual(partial.behind, [r.specs[1]], 'only the hanging replica is behind');
      assert.equal(r.fake(1).tree.has('x'), false);
      r.fake(1).release();
      assert.equal((await r.mirror.flush()).complete, true);
      assert.ok(r.fake(1).tree.has('x'));
    } finally {
      await done(r);
    }
  });

  it('a replica that is down (exit 255) is skipped by flush({ healthyOnly }) and catches up when back', async () => {
    const r = await rig(2);
    const events: string[] = [];
    r.mirror.on('replica-down', (e) => events.push(`down ${e.replica}`));
    r.mirror.on('replica-up', (e) => events.push(`up ${e.replica}`));
    try {
      await r.mirror.start();
      r.fake(1).exitWith(255);
      await writeFile(join(r.source, 'x'), 'x\n');
      const healthy = await r.mirror.flush({ healthyOnly: true });
      assert.deepEqual([healthy.complete, healthy.behind], [false, [r.specs[1]]]);
      assert.ok(r.fake(0).tree.has('x'));
      assert.equal(r.mirror.status()[1]!.state, 'down');
      r.fake(1).heal();
      assert.equal((await r.mirror.flush()).complete, true);
      assert.ok(r.fake(1).tree.has('x'));
      assert.deepEqual(events, [`down ${r.specs[1]}`, `up ${r.specs[1]}`]);
    } finally {
      await done(r);
    }
  });

  it('a connect refused for a reason retrying cannot fix fails that replica only; flush rejects with its code until fixed', async () => {
    const r = await rig(2);
    try {
      await r.mirror.start();
      r.fake(1).refuseConnect('ERR_HOST_KEY_CHANGED');
      await writeFile(join(r.source, 'x'), 'x\n');
      await assert.rejects(r.mirror.flush(), code('ERR_HOST_KEY_CHANGED'));
      assert.ok(r.fake(0).tree.has('x'));
      assert.equal(r.mirror.status()[1]!.state, 'failed');
      assert.deepEqual((await r.mirror.flush({ healthyOnly: true })).behind, [r.specs[1]]);
      r.fake(1).heal();
      await waitFor(async () => (await r.mirror.flush({ healthyOnly: true })).complete, { timeoutMs: 5000, what: 'replica 1 back after the fix' });
      assert.ok(r.fake(1).tree.has('x'));
    } finally {
      await done(r);
    }
  });

  it('paths rsync names (exit 23) are problems of that replica; the rest of the batch arrives', async () => {
    const r = await rig(2);
    try {
      await r.mirror.start();
      r.fake(1).exitWith(23, ['bad']);
      await writeFile(join(r.source, 'bad'), 'b\n');
      await writeFile(join(r.source, 'good'), 'g\n');
      const result = await r.mirror.flush();
      assert.deepEqual(result, { complete: false, behind: [], problems: [{ replica: r.specs[1], path: 'bad' }] });
      assert.ok(r.fake(1).tree.has('good') && !r.fake(1).tree.has('bad'));
      assert.ok(r.fake(0).tree.has('bad'));
      r.fake(1).heal();
      await waitFor(async () => (await r.mirror.flush()).complete, { timeoutMs: 5000, what: 'the problem retried' });
      assert.ok(r.fake(1).tree.has('bad'));
    } finally {
      await done(r);
    }
  });
});

/** The real @parcel/watcher, with a switch that does what a dying reader thread does. */
class BreakableBackend implements WatchBackend {
  readonly #live = new Set<SubscribeCallback>();
  async subscribe(dir: string, fn: SubscribeCallback, opts?: parcel.Options): Promise<AsyncSubscription> {
    this.#live.add(fn);
    const sub = await parcel.subscribe(dir, fn, opts);
    return {
      unsubscribe: async () => {
        this.#live.delete(fn);
        await sub.unsubscribe();
      },
    };
  }
  writeSnapshot(dir: string, file: string, opts?: parcel.Options): Promise<string> {
    return parcel.writeSnapshot(dir, file, opts);
  }
  getEventsSince(dir: string, file: string, opts?: parcel.Options) {
    return parcel.getEventsSince(dir, file, opts);
  }
  killThread(): void {
    for (const fn of [...this.#live]) fn(new Error('Unable to poll: injected'), []);
  }
}

describe('Mirror on fake replicas: reconcile triggers', () => {
  it('reconcile() is one full pass on every replica', async () => {
    const r = await rig(2);
    try {
      await r.mirror.start();
      r.mirror.reconcile();
      await r.mirror.flush();
      for (const i of [0, 1]) assert.equal(r.fake(i).fullPasses().length, 2, `replica ${i}: seed + reconcile`);
    } finally {
      await done(r);
    }
  });

  it('reconcileIntervalSec: periodic full passes', async () => {
    const r = await rig(2, { reconcileIntervalSec: 1 });
    try {
      await r.mirror.start();
      await waitFor(() => r.fake(0).fullPasses().length >= 2 && r.fake(1).fullPasses().length >= 2, { timeoutMs: 5000, what: 'a periodic full pass' });
    } finally {
      await done(r);
    }
  });

  it('a watcher error is followed by a full pass on every replica', async () => {
    const backend = new BreakableBackend();
    const r = await rig(2, {}, backend);
    const errors: string[] = [];
    r.mirror.on('error', (e) => errors.push(e.code));
    try {
      await r.mirror.start();
      backend.killThread();
      await waitFor(() => r.fake(0).fullPasses().length >= 2 && r.fake(1).fullPasses().length >= 2, { timeoutMs: 5000, what: 'the full pass after the watcher error' });
      assert.ok(errors.includes('ERR_WATCH'), String(errors));
      await writeFile(join(r.source, 'after'), 'a\n');
      await r.mirror.flush();
      assert.ok(r.fake(0).tree.has('after'), 'the new subscription sees changes');
    } finally {
      await done(r);
    }
  });
});

describe('Mirror on fake replicas: replica list changes', () => {
  it('an added replica gets a full pass and the others none; a removed one has its transport closed', async () => {
    const r = await rig(2);
    try {
      await r.mirror.start();
      const answer = await r.mirror.setReplicas([r.specs[0]!, r.specs[2]!]);
      assert.deepEqual(answer, { added: [r.specs[2]], removed: [r.specs[1]] });
      assert.equal(r.fake(1).closed, true, "the removed replica's transport is closed");
      assert.equal((await r.mirror.flush()).complete, true);
      assert.equal(r.fake(2).fullPasses().length, 1);
      assert.ok(r.fake(2).tree.has('seed.txt'));
      assert.equal(r.fake(0).fullPasses().length, 1, 'only its seed');
      const before = r.fake(1).calls.length;
      await writeFile(join(r.source, 'later'), 'l\n');
      await r.mirror.flush();
      assert.ok(r.fake(0).tree.has('later') && r.fake(2).tree.has('later'));
      assert.equal(r.fake(1).calls.length, before, 'nothing more goes to a removed replica');
    } finally {
      await done(r);
    }
  });
});

describe('Mirror on fake replicas: restart recovery', () => {
  it('what a replica lacked at close is resent from the journal after a restart; an unclean stop is a full pass', async () => {
    const stateDir = await makeTempDir('fam-fake-state-');
    const r = await rig(2, { stateDir });
    const next = (): Mirror => new Mirror({ ...r.options, initMirror: false }, { transport: r.fakes.factory });
    let m2: Mirror | undefined;
    let m3: Mirror | undefined;
    try {
      await r.mirror.start();
      r.fake(1).exitWith(255);
      await writeFile(join(r.source, 'x'), 'x\n');
      await r.mirror.flush({ healthyOnly: true });
      await r.mirror.close();
      assert.equal(r.fake(1).tree.has('x'), false, 'replica 1 closed without x');

      r.fake(1).heal();
      const callsBefore = [r.fake(0).calls.length, r.fake(1).calls.length];
      m2 = next();
      await m2.start();
      assert.equal((await m2.flush()).complete, true);
      assert.ok(r.fake(1).tree.has('x'), 'x resent to replica 1');
      const resent = r.fake(1).calls.slice(callsBefore[1]);
      assert.ok(resent.length > 0 && resent.every((c) => c.paths !== 'full'), 'from the journal, not a full pass');
      assert.equal(r.fake(0).calls.length, callsBefore[0], 'replica 0 had everything: nothing sent');
      await m2.close();

      // What a kill leaves: the state of a running mirror, which has no clean-stop record.
      for (const dir of await readdir(stateDir)) await rm(join(stateDir, dir, 'clean'), { force: true });
      const problems: string[] = [];
      m3 = next();
      m3.on('problem', (p) => problems.push(`${p.code} ${p.replica}`));
      await m3.start();
      await m3.flush();
      for (const i of [0, 1]) assert.equal(r.fake(i).fullPasses().length, 2, `replica ${i}: seed + the pass after the unclean stop`);
      assert.deepEqual(problems.sort(), [`ERR_STATE_UNCLEAN ${r.specs[0]}`, `ERR_STATE_UNCLEAN ${r.specs[1]}`]);
    } finally {
      await done(r, ...[m2, m3].filter((m): m is Mirror => m !== undefined));
    }
  });
});

/**
 * The subscription swaps (src/watch/subscription.ts) without a real watcher: a backend that records
 * what is subscribed and dropped (and fails when told to, or when the directory is missing, as the
 * real one does), a manual clock for the debounce, the overlap, the backoff and the health check, and
 * real directories for the root's identity and the aliases.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { AsyncSubscription, Event, SubscribeCallback } from '@parcel/watcher';
import type { MirrorError } from '../../src/errors.js';
import { Barrier, BARRIER_TIMEOUT_MS } from '../../src/watch/barrier.js';
import { RootSubscriber, type WatchBackend } from '../../src/watch/root-subscriber.js';
import { recoveryRetryMs, Subscriptions } from '../../src/watch/subscription.js';
import { cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';
import { ManualClock } from '../helpers/manual-clock.js';

after(cleanupTempDirs);

interface FakeSub {
  dir: string;
  fn: SubscribeCallback;
  at: number;
  dropped: boolean;
}

class FakeBackend implements WatchBackend {
  failures = 0;
  readonly subs: FakeSub[] = [];
  readonly attempts: number[] = [];
  constructor(readonly clock: ManualClock) {}

  async subscribe(dir: string, fn: SubscribeCallback): Promise<AsyncSubscription> {
    this.attempts.push(this.clock.now());
    if (this.failures > 0) {
      this.failures--;
      throw new Error('Unable to subscribe: injected');
    }
    if (!existsSync(dir)) throw new Error(`No such file or directory: ${dir}`);
    const sub: FakeSub = { dir, fn, at: this.clock.now(), dropped: false };
    this.subs.push(sub);
    return { unsubscribe: async () => void (sub.dropped = true) };
  }

  live(): string[] {
    return this.subs.filter((s) => !s.dropped).map((s) => s.dir);
  }

  writeSnapshot(): Promise<string> {
    throw new Error('not used');
  }

  getEventsSince(): Promise<Event[]> {
    throw new Error('not used');
  }
}

async function rig(healthEveryMs = 0) {
  const parent = await makeTempDir('fam-subs-');
  const root = join(parent, 'www');
  await mkdir(root);
  const privateDir = await makeTempDir('fam-subs-private-');
  await mkdir(join(privateDir, 'barrier'));
  const clock = new ManualClock();
  const backend = new FakeBackend(clock);
  let closed = false;
  const barrier = new Barrier(join(privateDir, 'barrier'), clock, () => closed);
  const log = { changes: [] as string[][], errors: [] as string[], swaps: [] as string[], events: [] as string[] };
  const subs = new Subscriptions(
    { root, subscriber: new RootSubscriber(root, privateDir, backend, []), backend, barrier, clock, healthEveryMs },
    {
      onEvents: (watchedRoot, events) => log.events.push(...events.map((e) => `${watchedRoot}:${e.path}`)),
      onChanges: (paths) => log.changes.push(paths),
      onError: (err: MirrorError) => log.errors.push(err.code),
      beforeSwap: () => log.swaps.push('before'),
      afterSwap: async (watchedRoot, kind) => void log.swaps.push(`${kind} ${watchedRoot}`),
      closed: () => closed,
    },
  );
  const close = async () => {
    closed = true;
    await subs.close();
  };
  return { parent, root, privateDir, clock, backend, barrier, subs, log, close };
}

const alias = (privateDir: string, n: number) => join(privateDir, `a${n}`, 'www');

describe('Subscriptions', () => {
  it('start() subscribes the root itself and the barrier directory', async () => {
    const { root, privateDir, backend, subs, close } = await rig();
    assert.equal(await subs.start(), root);
    assert.deepEqual(backend.live(), [root, join(privateDir, 'barrier')]);
    assert.equal(subs.watchedRoot, root);
    await close();
    assert.deepEqual(backend.live(), []);
  });

  it('events of a root subscription are handed on with the path string it watches', async () => {
    const { root, backend, subs, log, close } = await rig();
    await subs.start();
    backend.subs[0]!.fn(null, [{ type: 'create', path: join(root, 'f') }]);
    assert.deepEqual(log.events, [`${root}:${join(root, 'f')}`]);
    await close();
  });

  it('a resubscription (debounced) is made under a new alias, reports the blind dirs, and keeps the old one for the overlap', async () => {
    const { root, privateDir, clock, backend, subs, log, close } = await rig();
    await subs.start();
    subs.scheduleResubscribe(['a']);
    subs.scheduleResubscribe(['b', 'a']);
    const caughtUp = subs.caughtUp;
    assert.ok(caughtUp !== undefined);
    assert.deepEqual(clock.delays, [300], 'one debounce timer');
    clock.advanceNow(300);
    await caughtUp;
    assert.equal(subs.watchedRoot, alias(privateDir, 1));
    assert.ok(lstatSync(join(privateDir, 'a1')).isSymbolicLink());
    assert.deepEqual(log.swaps, ['before', `resubscribe ${alias(privateDir, 1)}`]);
    assert.deepEqual(log.changes, [['a', 'b']]);
    // The old subscription still lives until the overlap has passed; the barrier's is not touched.
    assert.deepEqual(backend.live(), [root, join(privateDir, 'barrier'), alias(privateDir, 1)]);
    await waitFor(() => clock.delays.length === 1, { what: 'the overlap timer' });
    assert.deepEqual(clock.delays, [1000]);
    clock.advanceNow(1000);
    await waitFor(() => backend.live().length === 2, { what: 'the old root to be dropped' });
    assert.deepEqual(backend.live(), [join(privateDir, 'barrier'), alias(privateDir, 1)]);
    await close();
    assert.equal(existsSync(join(privateDir, 'a1')), false, 'the alias is unlinked on close');
  });

  it('an error from the current subscriptions replaces both, retrying with backoff, then asks for a full pass', async () => {
    const { root, privateDir, clock, backend, subs, log, close } = await rig();
    await subs.start();
    backend.failures = 3;
    backend.subs[0]!.fn(new Error('Unable to poll: Interrupted system call'), []);
    const recovering = subs.recovering;
    assert.ok(recovering !== undefined);
    for (const wait of [250, 500, 1000]) {
      await waitFor(() => clock.delays.length === 1, { what: `the retry after ${wait} ms` });
      assert.deepEqual(clock.delays, [wait]);
      clock.advanceNow(wait);
    }
    await recovering;
    assert.deepEqual(backend.attempts, [0, 0, 0, 250, 750, 1750, 1750]);
    assert.deepEqual(log.errors, ['ERR_WATCH', 'ERR_WATCH'], 'the error itself, then the first failed attempt; later ones are not repeated');
    assert.deepEqual(log.changes, [['']]);
    assert.equal(subs.watchedRoot, alias(privateDir, 4));
    assert.deepEqual(backend.live(), [alias(privateDir, 4), join(privateDir, 'barrier')]);
    assert.equal(subs.recovering, undefined);
    // An error from a superseded subscription is only logged.
    backend.subs[0]!.fn(new Error('Unable to poll: late'), []);
    assert.equal(subs.recovering, undefined);
    assert.deepEqual(log.errors, ['ERR_WATCH', 'ERR_WATCH']);
    assert.ok(existsSync(root));
    await close();
  });

  it('the backoff doubles from 250 ms up to 5 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 10, 30].map(recoveryRetryMs), [250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
  });

  it('a root replaced is noticed by checkRoot(): a full pass at once, another once watched anew', async () => {
    const { parent, root, privateDir, subs, log, close } = await rig();
    await subs.start();
    subs.checkRoot();
    assert.deepEqual(log.changes, [], 'the same root: nothing to do');
    await rename(root, join(parent, 'www.old'));
    await mkdir(root);
    subs.checkRoot();
    assert.deepEqual(log.changes, [['']]);
    await subs.recovering;
    assert.deepEqual(log.changes, [[''], ['']]);
    assert.equal(subs.watchedRoot, alias(privateDir, 1));
    subs.checkRoot();
    assert.deepEqual(log.changes, [[''], ['']], 'the new root is now the known one');
    await close();
  });

  it('a root that is gone is retried until it is back', async () => {
    const { parent, root, clock, backend, subs, log, close } = await rig();
    await subs.start();
    await rename(root, join(parent, 'elsewhere'));
    subs.checkRoot();
    await waitFor(() => clock.delays.length === 1, { what: 'the first retry' });
    clock.advanceNow(250);
    await waitFor(() => backend.attempts.length === 4 && clock.delays.length === 1, { what: 'the second retry' });
    await mkdir(root);
    clock.advanceNow(500);
    await subs.recovering;
    assert.deepEqual(log.changes, [[''], ['']]);
    assert.deepEqual(log.errors, ['ERR_WATCH']);
    await close();
  });

  it('the health check: a marker that comes back leaves the watcher alone, one that does not replaces it', async () => {
    const { privateDir, clock, backend, subs, log, close } = await rig(5000);
    await subs.start();
    subs.armHealth();
    const barrierSub = () => backend.subs.find((s) => s.dir === join(privateDir, 'barrier') && !s.dropped)!;
    clock.advanceNow(5000);
    // A healthy watcher delivers the marker.
    await waitFor(() => existsSync(join(privateDir, 'barrier', 'm1')), { what: 'the first marker' });
    barrierSub().fn(null, [{ type: 'create', path: join(privateDir, 'barrier', 'm1') }]);
    await waitFor(() => clock.delays.length === 1 && clock.delays[0] === 5000, { what: 'the health check re-armed' });
    assert.deepEqual(log.changes, []);
    // A silent one does not.
    clock.advanceNow(5000);
    await waitFor(() => existsSync(join(privateDir, 'barrier', 'm2')), { what: 'the second marker' });
    clock.advanceNow(BARRIER_TIMEOUT_MS);
    await waitFor(() => log.changes.length === 1, { what: 'the recovery' });
    assert.deepEqual(log.changes, [['']]);
    assert.equal(subs.watchedRoot, alias(privateDir, 1));
    await close();
    assert.deepEqual(clock.delays, [], 'no timer left after close');
  });

  it('swaps never overlap: a recovery waits for a resubscription still in its overlap', async () => {
    const { privateDir, clock, backend, subs, log, close } = await rig();
    await subs.start();
    subs.scheduleResubscribe(['a']);
    clock.advanceNow(300);
    await subs.caughtUp;
    await waitFor(() => clock.delays.length === 1, { what: 'the overlap timer' });
    const before = backend.attempts.length;
    const recovering = subs.recover('a test');
    assert.equal(subs.recover('a second caller'), recovering, 'concurrent callers share one recovery');
    await new Promise((r) => setImmediate(r));
    assert.equal(backend.attempts.length, before, 'nothing subscribed during the overlap');
    clock.advanceNow(1000);
    await recovering;
    assert.deepEqual(log.swaps, ['before', `resubscribe ${alias(privateDir, 1)}`, 'before', `recovery ${alias(privateDir, 2)}`]);
    assert.deepEqual(backend.live(), [alias(privateDir, 2), join(privateDir, 'barrier')]);
    await close();
  });

  it('a task on the swap chain that fails does not break the chain', async () => {
    const { subs, close } = await rig();
    await subs.start();
    await subs.enqueue(async () => {
      throw new Error('boom');
    });
    let ran = false;
    await subs.enqueue(async () => void (ran = true));
    assert.equal(ran, true);
    await close();
  });
});

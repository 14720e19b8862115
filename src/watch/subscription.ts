/**
 * The root's @parcel/watcher subscriptions (the root and the barrier directory) and every change of
 * them, one at a time on one chain. No failure of the watcher may end the process or leave it blind:
 * - a directory that appears already filled leaves parts of its subtree unwatched: the root is
 *   subscribed anew (debounced, under a new path string so that it crawls afresh, complete before the
 *   old one is dropped: no gap) and the blind directories are reported again once it is live.
 * - the native reader thread can die (`Unable to poll: …`, an error callback that ends every
 *   subscription) or a watcher go silent: a health marker every few seconds; an error, a marker that
 *   does not come back or a barrier timing out replaces every subscription, then asks for a full pass.
 * - the root replaced (`mv www www.old; mv www.new www`): its device and inode are checked on each
 *   delivery and by the health check. A root that is gone is retried until it is back.
 */
import type { AsyncSubscription, Event } from '@parcel/watcher';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import type { Clock } from '../core/schedule.js';
import type { Barrier } from './barrier.js';
import { dropSubscription, rootIdOf, type RootSubscriber, type WatchBackend } from './root-subscriber.js';

const debug = createDebug('fam-mirror:watch');

export interface SubscriptionHooks {
  /** One delivery of a root subscription (a superseded one still overlapping passes its events on too). */
  onEvents(watchedRoot: string, events: Event[]): void;
  onChanges(paths: string[]): void;
  onError(err: MirrorError): void;
  /** Before a new root subscription is made (what was learnt under the old one may go stale). */
  beforeSwap(): void;
  /** A new root subscription on `watchedRoot` is live; after a resubscription the old one still is too. */
  afterSwap(watchedRoot: string, kind: 'resubscribe' | 'recovery'): Promise<void>;
  closed(): boolean;
}

export interface SubscriptionSettings {
  root: string;
  subscriber: RootSubscriber;
  /** For the barrier directory's subscription. */
  backend: WatchBackend;
  barrier: Barrier;
  clock: Clock;
  /** 0 = no health check. */
  healthEveryMs: number;
}

const RESUBSCRIBE_DELAY_MS = 300;
/** Retry of a subscription that failed during a recovery (a root that is gone, a full watch table). */
const RECOVER_RETRY_MIN_MS = 250;
const RECOVER_RETRY_MAX_MS = 5000;
const OVERLAP_MS = 1000;

/** The wait after recovery attempt `attempt` (0-based) failed. */
export function recoveryRetryMs(attempt: number): number {
  return Math.min(RECOVER_RETRY_MAX_MS, RECOVER_RETRY_MIN_MS * 2 ** Math.min(attempt, 10));
}

export class Subscriptions {
  readonly #s: SubscriptionSettings;
  readonly #hooks: SubscriptionHooks;
  #sub: AsyncSubscription | undefined;
  #barrierSub: AsyncSubscription | undefined;
  /** Identity of the current subscriptions: an error from a superseded one is only logged. */
  #subId = 0;
  /** The path string of the current root subscription (the root, or an alias of it). */
  #watchedRoot: string;
  /** `dev:ino` of the root when the current subscription was made. */
  #rootId: string | undefined;
  /** The one chain every subscription swap runs on: two swaps never overlap. */
  #swaps: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;
  #blindDirs = new Set<string>();
  #catchUp: { promise: Promise<void>; resolve: () => void } | undefined;
  #cancelResubscribe: (() => void) | undefined;
  #cancelHealth: (() => void) | undefined;
  #overlapDone: (() => void) | undefined;
  #checking = false;

  constructor(settings: SubscriptionSettings, hooks: SubscriptionHooks) {
    this.#s = settings;
    this.#hooks = hooks;
    this.#watchedRoot = settings.root;
  }

  get watchedRoot(): string {
    return this.#watchedRoot;
  }

  /** A recovery under way (every subscription replaced, then a full pass): callers wait for it. */
  get recovering(): Promise<void> | undefined {
    return this.#recovering;
  }

  /** Settles once the blind directories reported so far have been reported again under a new subscription. */
  get caughtUp(): Promise<void> | undefined {
    return this.#catchUp?.promise;
  }

  /** The first subscriptions; returns the watched root's path string. */
  async start(): Promise<string> {
    const { sub, watchedRoot } = await this.#subscribe(++this.#subId);
    this.#sub = sub;
    this.#barrierSub = await this.#subscribeBarrier();
    return watchedRoot;
  }

  /**
   * The root replaced or gone since the subscription was made: the subscription watches the wrong
   * tree. A full pass is asked for at once (rsync reads the path, so it mirrors the new tree, and a
   * root that is gone holds it under the mass-delete guard so flush() cannot say complete), and
   * another once the new subscription is live.
   */
  checkRoot(): void {
    if (this.#recovering !== undefined || this.#hooks.closed()) return;
    const now = rootIdOf(this.#s.root);
    if (now === this.#rootId) return;
    this.#hooks.onChanges(['']);
    void this.recover(now === undefined ? `the root ${this.#s.root} is gone` : `the root ${this.#s.root} was replaced`);
  }

  armHealth(): void {
    if (this.#hooks.closed() || this.#s.healthEveryMs <= 0) return;
    this.#cancelHealth = this.#s.clock.after(this.#s.healthEveryMs, () => void this.#healthCheck().finally(() => this.armHealth()));
  }

  async #healthCheck(): Promise<void> {
    if (this.#checking || this.#hooks.closed() || this.#recovering !== undefined) return;
    this.#checking = true;
    try {
      this.checkRoot();
      if (this.#recovering === undefined && !(await this.#s.barrier.marker())) await this.recover('the watcher went silent');
    } finally {
      this.#checking = false;
    }
  }

  /**
   * Replaces every subscription (root and barrier), retrying while that fails, then asks for a full
   * pass: whatever changed while nothing watched is covered by it, and everything after by the new
   * subscription. Concurrent callers share one recovery.
   */
  recover(why: string): Promise<void> {
    if (this.#hooks.closed()) return Promise.resolve();
    if (this.#recovering !== undefined) return this.#recovering;
    debug('recovering %s: %s', this.#s.root, why);
    const run = async () => {
      for (let attempt = 0; !this.#hooks.closed(); attempt++) {
        try {
          await this.#replaceAll();
          break;
        } catch (e) {
          const err = e instanceof MirrorError ? e : new MirrorError('ERR_WATCH', `Cannot watch ${this.#s.root}: ${(e as Error).message}`, { path: this.#s.root, cause: e });
          if (attempt === 0) this.#hooks.onError(err);
          debug('recovery attempt %d failed: %s', attempt + 1, err.message);
          await new Promise<void>((resolve) => this.#s.clock.after(recoveryRetryMs(attempt), resolve));
        }
      }
      if (!this.#hooks.closed()) this.#hooks.onChanges(['']);
    };
    const recovering: Promise<void> = this.enqueue(run).finally(() => {
      if (this.#recovering === recovering) this.#recovering = undefined;
    });
    this.#recovering = recovering;
    return recovering;
  }

  /** Directories that may hide unwatched subdirectories: the root is subscribed anew (debounced), then they are reported again. */
  scheduleResubscribe(dirs: readonly string[]): void {
    for (const d of dirs) this.#blindDirs.add(d);
    if (this.#hooks.closed()) return;
    if (this.#catchUp === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#catchUp = { promise, resolve };
    }
    if (this.#cancelResubscribe !== undefined) return;
    this.#cancelResubscribe = this.#s.clock.after(RESUBSCRIBE_DELAY_MS, () => {
      this.#cancelResubscribe = undefined;
      // One at a time: a subscription to a root string that is still alive would not crawl again.
      void this.enqueue(() => this.#resubscribe());
    });
  }

  /** Runs `task` on the swap chain; the chain never rejects. */
  enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#swaps.then(() => (this.#hooks.closed() ? undefined : task()));
    this.#swaps = next.catch((e: Error) => debug('subscription swap failed: %s', e.message));
    return this.#swaps;
  }

  /** Stops every timer, waits for the swap under way, drops the subscriptions and unlinks the aliases. */
  async close(): Promise<void> {
    this.#cancelResubscribe?.();
    this.#cancelHealth?.();
    this.#catchUp?.resolve();
    this.#overlapDone?.();
    await this.#swaps;
    await this.#recovering;
    await dropSubscription(this.#sub, 'the root');
    await dropSubscription(this.#barrierSub, 'the barrier');
    this.#sub = undefined;
    this.#barrierSub = undefined;
    await this.#s.subscriber.unlinkAliases();
  }

  /** A new root subscription; the caller swaps it in and drops the one it replaces. */
  async #subscribe(id: number): Promise<{ sub: AsyncSubscription; watchedRoot: string }> {
    const { sub, watchedRoot, rootId } = await this.#s.subscriber.subscribe((watchedRoot, err, events) => {
      if (this.#hooks.closed()) return;
      if (err) return this.#onFailure(id, err);
      this.#hooks.onEvents(watchedRoot, events);
    });
    this.#rootId = rootId;
    this.#watchedRoot = watchedRoot;
    return { sub, watchedRoot };
  }

  async #subscribeBarrier(): Promise<AsyncSubscription> {
    const id = this.#subId;
    const barrier = this.#s.barrier;
    return await this.#s.backend.subscribe(
      barrier.dir,
      (err, events) => {
        if (err) return this.#onFailure(id, err);
        barrier.deliver(events ?? []);
      },
      { backend: 'inotify' },
    );
  }

  /** An error callback: of the current subscriptions it means they are dead (the reader thread died). */
  #onFailure(id: number, err: Error): void {
    if (this.#hooks.closed()) return;
    if (id !== this.#subId) return void debug('error from a superseded subscription: %s', err.message);
    const root = this.#s.root;
    this.#hooks.onError(new MirrorError('ERR_WATCH', `Watching ${root} failed: ${err.message}. The watch is being replaced and a full pass follows.`, { path: root, cause: err }));
    void this.recover(`a watcher error (${err.message})`);
  }

  async #replaceAll(): Promise<void> {
    this.#hooks.beforeSwap();
    const id = ++this.#subId;
    const { sub: fresh, watchedRoot } = await this.#subscribe(id);
    const freshBarrier = await this.#subscribeBarrier().catch(async (e: unknown) => {
      await dropSubscription(fresh, 'the new root');
      throw e;
    });
    const old = [this.#sub, this.#barrierSub];
    this.#sub = fresh;
    this.#barrierSub = freshBarrier;
    await this.#hooks.afterSwap(watchedRoot, 'recovery');
    debug('replaced the subscriptions of %s', this.#s.root);
    // A recovery asks for a full pass: no overlap with the old subscriptions is needed.
    await dropSubscription(old[0], 'the old root');
    await dropSubscription(old[1], 'the old barrier');
  }

  async #resubscribe(): Promise<void> {
    const catchUp = this.#catchUp;
    this.#catchUp = undefined;
    try {
      await this.#swapSubscription(catchUp);
    } finally {
      catchUp?.resolve();
    }
  }

  async #swapSubscription(catchUp: { resolve: () => void } | undefined): Promise<void> {
    const dirs = [...this.#blindDirs];
    this.#blindDirs.clear();
    const started = this.#s.clock.now();
    let old: AsyncSubscription | undefined;
    this.#hooks.beforeSwap();
    let watchedRoot: string;
    try {
      const fresh = await this.#subscribe(++this.#subId);
      old = this.#sub;
      this.#sub = fresh.sub;
      watchedRoot = fresh.watchedRoot;
    } catch (e) {
      // The old subscription may be dead too (a root that is gone): a recovery retries until it is back.
      this.#hooks.onError(e as MirrorError);
      void this.recover(`a resubscription failed (${(e as Error).message})`);
      return;
    }
    debug('resubscribed %s in %d ms (%d filled dirs)', this.#s.root, this.#s.clock.now() - started, dirs.length);
    await this.#hooks.afterSwap(watchedRoot, 'resubscribe');
    // Writes made while the old watch was blind below these directories were never reported.
    if (!this.#hooks.closed() && dirs.length > 0) this.#hooks.onChanges(dirs);
    catchUp?.resolve();
    // The new subscription adds its watches only after its crawl: an event in between reached the
    // old one alone, and an unsubscribe drops whatever it has not delivered yet. So the old one
    // lives on for longer than the watcher's longest debounce (500 ms); duplicates are harmless.
    await new Promise<void>((resolve) => {
      this.#overlapDone = resolve;
      this.#s.clock.after(OVERLAP_MS, resolve);
    });
    this.#overlapDone = undefined;
    await dropSubscription(old, 'the old root');
  }
}

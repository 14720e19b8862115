/**
 * When a running mirror reconciles on its own: after a burst of events large enough that some may
 * have been lost, (by the watcher itself) after a watcher error, and the background drift passes:
 * once after start-up and then periodically, spread with jitter across replicas.
 * Which trigger does what is the table in core/reconcile-triggers.ts; time comes only from the
 * injected Clock (core/schedule.ts), so this is tested with a manual clock.
 */
import createDebug from 'debug';
import type { MirrorError } from '../errors.js';
import type { Clock } from '../core/schedule.js';
import { RECONCILE_TRIGGERS, type BackgroundTrigger, type ReconcileTrigger } from '../core/reconcile-triggers.js';

const debug = createDebug('fam-mirror:reconcile');

export interface ReconcileTiming {
  /** Events in one burst (deliveries less than burstGapMs apart) from which we suspect an overflow. */
  suspectBurst: number;
  burstGapMs: number;
  /** Quiet time after a suspicious burst before the reconcile pass. */
  quietMs: number;
  /** The periodic drift pass (0: none, and no start-up pass either; a dry run has none: it would repair nothing). */
  everyMs: number;
}

/** The periodic passes of the replicas are spread over this share of the interval. */
export const DRIFT_SPREAD = 0.1;

export const DEFAULT_RECONCILE_TIMING: Omit<ReconcileTiming, 'everyMs'> = { suspectBurst: 8192, burstGapMs: 1000, quietMs: 2000 };

export interface ReconcileSchedulerDeps {
  /** Queues a full pass of every replica. */
  reconcileAll(trigger: ReconcileTrigger): void;
  /** Asks every lane for a drift pass (sync/drift.ts), each at a random delay below `spreadMs`. */
  drift(trigger: BackgroundTrigger, spreadMs: number): void;
  /** The mirror is running: nothing is scheduled or started otherwise. */
  running(): boolean;
  /** An error for the Mirror's 'error' listeners. */
  report(err: MirrorError): void;
}

type SchedulerTrigger = Extract<ReconcileTrigger, 'burst' | 'watcher-error' | BackgroundTrigger>;

export class ReconcileScheduler {
  readonly #clock: Clock;
  readonly #deps: ReconcileSchedulerDeps;
  readonly #timing: ReconcileTiming;
  #burst = { count: 0, lastAt: 0 };
  #cancelQuiet: (() => void) | undefined;
  #cancelPeriodic: (() => void) | undefined;

  constructor(clock: Clock, deps: ReconcileSchedulerDeps, timing: ReconcileTiming) {
    this.#clock = clock;
    this.#deps = deps;
    this.#timing = timing;
  }

  /**
   * The kernel drops events silently once its queue (fs.inotify.max_queued_events, 16,384 here)
   * is full, and @parcel/watcher does not report the overflow. A burst this large may have lost
   * some, so a full pass follows once it is over.
   */
  delivered(count: number): void {
    const now = this.#clock.now();
    if (now - this.#burst.lastAt > this.#timing.burstGapMs) this.#burst.count = 0;
    this.#burst.count += count;
    this.#burst.lastAt = now;
    if (this.#burst.count >= this.#timing.suspectBurst) this.#trigger('burst', `a burst of ${this.#burst.count} events`);
  }

  /** The watcher failed: reported; it replaces the subscription itself and asks for the pass once back. */
  watcherFailed(err: MirrorError): void {
    this.#deps.report(err);
    this.#trigger('watcher-error', err.message);
  }

  /** Once started and caught up: the start-up drift pass and the periodic ones, if there is an interval. */
  start(): void {
    if (this.#timing.everyMs <= 0) return;
    this.#trigger('drift-startup', 'the start-up');
    this.#armPeriodic();
  }

  close(): void {
    this.#cancelQuiet?.();
    this.#cancelPeriodic?.();
  }

  #trigger(trigger: SchedulerTrigger, why: string, spreadMs = 0): void {
    const rule = RECONCILE_TRIGGERS[trigger];
    switch (rule.when) {
      case 'when-idle':
        if (!this.#deps.running()) return;
        debug('drift pass after %s, once each replica is quiet', why);
        this.#deps.drift(trigger as BackgroundTrigger, spreadMs);
        return;
      case 'after-quiet':
        this.#afterQuiet(trigger, why);
        return;
      case 'by-the-watcher':
        debug('the watcher queues a reconcile once it watches again (%s)', why);
        return;
    }
  }

  #afterQuiet(trigger: SchedulerTrigger, why: string): void {
    if (!this.#deps.running()) return;
    debug('reconcile scheduled after %s', why);
    this.#cancelQuiet?.();
    this.#cancelQuiet = this.#clock.after(this.#timing.quietMs, () => {
      this.#cancelQuiet = undefined;
      if (this.#deps.running()) this.#deps.reconcileAll(trigger);
    });
  }

  #armPeriodic(): void {
    this.#cancelPeriodic = this.#clock.after(this.#timing.everyMs, () => {
      if (!this.#deps.running()) return;
      this.#trigger('drift-periodic', 'the periodic interval', Math.floor(this.#timing.everyMs * DRIFT_SPREAD));
      this.#armPeriodic();
    });
  }
}

/**
 * When a running mirror reconciles on its own: after a burst of events large enough that some may
 * have been lost, on the periodic safety net, and (by the watcher itself) after a watcher error.
 * Which trigger does what is the table in core/reconcile-triggers.ts; time comes only from the
 * injected Clock (core/schedule.ts), so this is tested with a manual clock.
 */
import createDebug from 'debug';
import type { MirrorError } from '../errors.js';
import type { Clock } from '../core/schedule.js';
import { RECONCILE_TRIGGERS, type ReconcileTrigger } from '../core/reconcile-triggers.js';

const debug = createDebug('fam-mirror:reconcile');

export interface ReconcileTiming {
  /** Events in one burst (deliveries less than burstGapMs apart) from which we suspect an overflow. */
  suspectBurst: number;
  burstGapMs: number;
  /** Quiet time after a suspicious burst before the reconcile pass. */
  quietMs: number;
  /** The periodic reconcile (0: none). */
  everyMs: number;
}

export const DEFAULT_RECONCILE_TIMING: Omit<ReconcileTiming, 'everyMs'> = { suspectBurst: 8192, burstGapMs: 1000, quietMs: 2000 };

export interface ReconcileSchedulerDeps {
  /** Queues a full pass of every replica. */
  reconcileAll(trigger: ReconcileTrigger): void;
  /** The mirror is running: nothing is scheduled or started otherwise. */
  running(): boolean;
  /** An error for the Mirror's 'error' listeners. */
  report(err: MirrorError): void;
}

type SchedulerTrigger = Extract<ReconcileTrigger, 'burst' | 'periodic' | 'watcher-error'>;

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

  /** Arms the periodic reconcile, if there is one. */
  start(): void {
    if (this.#timing.everyMs > 0) this.#armPeriodic();
  }

  close(): void {
    this.#cancelQuiet?.();
    this.#cancelPeriodic?.();
  }

  #trigger(trigger: SchedulerTrigger, why: string): void {
    const rule = RECONCILE_TRIGGERS[trigger];
    switch (rule.when) {
      case 'now':
        if (!this.#deps.running()) return;
        debug('reconcile after %s', why);
        this.#deps.reconcileAll(trigger);
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
      this.#trigger('periodic', 'the periodic interval');
      this.#armPeriodic();
    });
  }
}

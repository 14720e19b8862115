/**
 * One batch runner per replica (batch-runner.ts), wired to what the replicas of one mirror share
 * (the options, the compiled excludes and their rule file, the cap on rsyncs in flight, one
 * hard-link index of the source) and to where their results go (the mirror's events, the sent
 * counters, the watcher's recheck of paths rsync created unasked).
 */
import type { EventEmitter } from 'node:events';
import pLimit from 'p-limit';
import type { PathFilter } from '../core/filter.js';
import type { NormalizedOptions } from '../options.js';
import type { Transport } from '../transport/transport.js';
import type { FullPassReason, MirrorEvents, Replica, SyncedEvent } from '../types.js';
import { MirrorError } from '../errors.js';
import { codeVerdict } from '../core/error-verdicts.js';
import { makeBatchRunner } from './batch-runner.js';
import { HardLinks } from './hard-links.js';
import type { GuardMemory } from './guard-memory.js';
import type { BatchExecutor, BatchOutcome } from './lane.js';

export interface RunnerWiring {
  /** The options in force when a replica is added (read per replica: the list can change live). */
  options(): NormalizedOptions;
  excluded: PathFilter;
  excludeFile: string | undefined;
  /** The global cap on rsyncs in flight (p-limit). */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  transportFor(replica: Replica): Transport;
  events: Pick<EventEmitter<MirrorEvents>, 'emit'>;
  countSent(replica: string, event: SyncedEvent): void;
  recheck(paths: string[]): void;
  /** A journaled full pass of this replica alone: its root was emptied under it (batch-runner.ts). */
  reseed?(replica: string, reason: string): void;
  /** The guard memory of a replica in the state directory (sync/guard-memory.ts); none without one. */
  guardMemory?(replica: string): GuardMemory;
  /** Why the live full pass with this seq was queued (sync/fanout.ts). */
  fullReason?(seq: number): FullPassReason | undefined;
}

export function runnerFactory(w: RunnerWiring): (replica: Replica) => BatchExecutor {
  let links: HardLinks | undefined;
  // Drift passes run one at a time over all replicas, beside the live cap: they never take a live batch's slot.
  const background = pLimit(1);
  return (replica) => {
    const o = w.options();
    links ??= new HardLinks(o.source, w.excluded);
    return makeBatchRunner({
      options: o,
      excluded: w.excluded,
      links,
      transport: w.transportFor(replica),
      excludeFile: w.excludeFile,
      limit: w.limit,
      backgroundLimit: background,
      onSynced: (event) => {
        // A dry run's counts are what rsync would send: reported in 'planned', never counted as sent.
        if (!o.dryRun) w.countSent(replica.id, event);
        w.events.emit('synced', event);
      },
      onProblem: (event) => w.events.emit('problem', event),
      onPlanned: (event) => w.events.emit('planned', event),
      onProgress: (event) => w.events.emit('progress', event),
      onSentUnnamed: (paths) => w.recheck(paths),
      ...(w.reseed === undefined ? {} : { onReseed: (reason: string) => w.reseed!(replica.id, reason) }),
      ...(w.guardMemory === undefined ? {} : { guardMemory: w.guardMemory(replica.id) }),
      ...(w.fullReason === undefined ? {} : { fullReason: w.fullReason }),
    });
  };
}

/**
 * The start-up check of one replica (Transport.check()) as a lane runs it: every attempt ends in a
 * 'replica-checked' event, and a failure is `fatal` when it needs a human (core/error-verdicts.ts),
 * else `retry`. Never rejects. A dry run creates no missing target.
 */
export function checkFactory(w: Pick<RunnerWiring, 'options' | 'transportFor' | 'events'>): (replica: Replica) => () => Promise<BatchOutcome> {
  return (replica) => {
    let attempt = 0;
    return async () => {
      attempt++;
      try {
        const check = await w.transportFor(replica).check({ create: !w.options().dryRun });
        w.events.emit('replica-checked', { replica: replica.id, attempt, check });
        // A seed fills a new target; without one, a mistyped path would get only the changes from now on.
        if (check.created && !w.options().initMirror) {
          const message = `Replica ${replica.id}: the target directory ${check.path} did not exist and was created; without --init (initMirror) it gets only the changes from now on: is this the right path?`;
          w.events.emit('warning', { code: 'WARN_TARGET_CREATED', replica: replica.id, path: check.path, message });
        }
        return { verdict: 'ok' };
      } catch (e) {
        const error = e instanceof MirrorError ? e : new MirrorError('ERR_SSH_CONNECT', `Replica ${replica.id}: ${(e as Error).message}`, { cause: e });
        w.events.emit('replica-checked', { replica: replica.id, attempt, error });
        return { verdict: codeVerdict(error.code) === 'needs-a-human' ? 'fatal' : 'retry', error };
      }
    };
  };
}

/**
 * One batch runner per replica (batch-runner.ts), wired to what the replicas of one mirror share
 * (the options, the compiled excludes and their rule file, the cap on rsyncs in flight, one
 * hard-link index of the source) and to where their results go (the mirror's events, the sent
 * counters, the watcher's recheck of paths rsync created unasked).
 */
import type { EventEmitter } from 'node:events';
import type { PathFilter } from '../core/filter.js';
import type { NormalizedOptions } from '../options.js';
import type { Transport } from '../transport/transport.js';
import type { MirrorEvents, Replica, SyncedEvent } from '../types.js';
import { makeBatchRunner } from './batch-runner.js';
import { HardLinks } from './hard-links.js';
import type { BatchExecutor } from './lane.js';

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
}

export function runnerFactory(w: RunnerWiring): (replica: Replica) => BatchExecutor {
  let links: HardLinks | undefined;
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
    });
  };
}

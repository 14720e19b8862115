/**
 * What a Mirror can be given besides its options: what several mirrors share, and what tests inject.
 */
import type { ConnectionPool } from './transport/pool.js';
import type { TransportFactory } from './transport/transport.js';
import type { DriftTuning } from './sync/drift.js';
import type { TreeWatcherOptions, WatchBackend } from './watch/tree-watcher.js';

export interface MirrorShared {
  /** Lets several mirrors (one per watched root) share one ssh connection per host. */
  pool?: ConnectionPool;
  /** Replaces @parcel/watcher (tests inject one that fails). */
  watchBackend?: WatchBackend;
  /** The watcher's health-check and sweep intervals. */
  watchTuning?: Pick<TreeWatcherOptions, 'healthEveryMs' | 'sweepEveryMs'>;
  /** Makes each replica's endpoint (tests inject a fake; by default local rsync or the ssh2 bridge). */
  transport?: TransportFactory;
  /** The drift passes' quiet period and jitter (sync/drift.ts). */
  driftTuning?: DriftTuning;
  /** Where the mounts are read from (default /proc/self/mountinfo; tests put the source on "nfs"). */
  mountInfoFile?: string;
}

/**
 * What one replica's endpoint can do, whatever carries it: local rsync for a plain directory, rsync
 * bridged onto a pooled ssh2 connection for `user@host:path`, or a test's fake. Everything above
 * src/transport talks to a replica through this interface only, so none of it needs to know how a
 * replica is reached, and the fan-out, recovery and reconcile logic can be tested on a fake.
 *
 * argv stays pure (src/rsync/args.ts): the caller builds it from `target`, which carries how rsync
 * must spell this replica (destination, remote shell, --rsync-path), and hands it to `rsync()`.
 */
import type { FastBatch, FastCaps } from '../core/fast-path.js';
import type { Rename } from '../core/plan.js';
import type { GuardSpec } from '../core/replica-guard.js';
import type { RsyncTarget } from '../rsync/args.js';
import type { NormalizedOptions } from '../options.js';
import type { Replica, ReplicaCheck } from '../types.js';
import type { FastResult } from './fast-apply.js';
import type { ConnectionPool } from './pool.js';
import type { RsyncRun, RunOptions } from './run-rsync.js';

export type { RsyncRun, RunOptions } from './run-rsync.js';
export type { FastResult } from './fast-apply.js';

/**
 * The replica root as its host sees it (stat follows a symlinked root, as rsync does). `parentDevice`
 * beside `device` is what tells a mount point from a directory left where a disk was not mounted.
 */
export interface ReplicaRoot {
  exists: boolean;
  isDirectory: boolean;
  /** st_dev of the root; undefined when it does not exist. */
  device: number | undefined;
  /** st_dev of `root/..` (resolved by the host, not lexically); undefined when that does not exist. */
  parentDevice: number | undefined;
}

export interface Transport {
  readonly replica: Replica;
  /** The host named in this replica's errors; undefined for a local replica. */
  readonly host: string | undefined;
  /** How rsync must name this replica (give it to buildRsyncCalls / buildVerifyCall). */
  readonly target: RsyncTarget;
  /**
   * Makes the replica reachable (an ssh login, reused while it lasts). Called before a batch so a
   * connect failure gets its own MirrorError code (host key, auth, …) rather than an rsync exit.
   */
  connect(): Promise<void>;
  /**
   * The fast path (core/fast-path.ts, README.md "How it works"): what this replica offers it, probed
   * once per connection; undefined means rsync only. Transports without it (local, fake) keep rsync.
   */
  fastCaps?(): Promise<FastCaps | undefined>;
  /**
   * Applies a batch the fast path took, the replica guard first: done, refused by the guard (its
   * exit code, as rsync's bridge reports it), or left to rsync (nothing lost: rsync redoes it all).
   */
  apply?(batch: FastBatch, guard: GuardSpec | undefined): Promise<FastResult>;
  /** Runs one rsync call toward this replica: argv from src/rsync/args.ts, stdin its --files-from list. */
  rsync(args: string[], stdin: Buffer | undefined, opts?: RunOptions): Promise<RsyncRun>;
  /**
   * Moves renamed directories on the replica (guessed by pairRenames), each only when its target is
   * free and its source a real directory. Saves bytes only: the rsync that follows makes the replica
   * right, so a move that fails is skipped, never an error. With `guard`, nothing moves unless the
   * replica guard (core/replica-guard.ts) lets it.
   */
  move(renames: readonly Rename[], guard?: GuardSpec): Promise<void>;
  /**
   * The start-up check: the replica can be reached (connect, host key, login), rsync runs there (its
   * version), and the target is a writable directory. A missing target whose parent exists is made,
   * unless `create` is false (a dry run). One round trip over the connection for ssh. Rejects with
   * the MirrorError whose code says what is wrong (core/error-verdicts.ts: retry it, or a human).
   */
  check(opts: { create: boolean }): Promise<ReplicaCheck>;
  /** A cheap look at the replica root: one stat, locally or over the open connection. */
  inspectRoot(): Promise<ReplicaRoot>;
  /** Releases what this transport holds (its share of a pooled connection); it is not used again. */
  close(): Promise<void>;
  /** ssh logins of the connection it uses, keyed `user@host:port`; undefined where nothing logs in. */
  logins(): { connection: string; count: number } | undefined;
}

/** What a transport factory is given besides the replica: the mirror's settings and shared pool. */
export interface TransportContext {
  options: NormalizedOptions;
  pool: ConnectionPool;
  /** A host key accepted without a known_hosts match (strictHostKeyChecking accept-new or no). */
  onWarning(connection: string, message: string): void;
}

export type TransportFactory = (replica: Replica, ctx: TransportContext) => Transport;

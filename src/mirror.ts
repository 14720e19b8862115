/**
 * The composition root: options → watcher → one lane per replica → executor → transport.
 * Public class `Mirror`; the CLI is a thin layer over it. Every public method answers from the
 * lifecycle table (core/lifecycle.ts); the work is delegated along the flow: sync/fanout.ts (the
 * lanes), sync/recovery.ts (the journal), sync/reconcile-scheduler.ts, sync/preflight.ts.
 */
import { EventEmitter } from 'node:events';
import { homedir, userInfo } from 'node:os';
import pLimit from 'p-limit';
import createDebug from 'debug';
import { MirrorError } from './errors.js';
import { makeBatchRunner } from './sync/batch-runner.js';
import { compileExcludes, literalAnchoredPaths, type PathFilter } from './core/filter.js';
import { HardLinks } from './sync/hard-links.js';
import type { BatchExecutor } from './sync/lane.js';
import { Fanout, type FlushOptions, type FlushResult } from './sync/fanout.js';
import { Recovery, openJournal } from './sync/recovery.js';
import { DEFAULT_RECONCILE_TIMING, ReconcileScheduler } from './sync/reconcile-scheduler.js';
import { checkRsync, checkSource, preflightWatches } from './sync/preflight.js';
import { changedOptions, normalizeOptions, type MirrorOptions, type NormalizedOptions } from './options.js';
import { realClock } from './core/schedule.js';
import { realPathOfExisting } from './watch/real-path.js';
import { ConnectionPool } from './transport/pool.js';
import { defaultTransport, Transports } from './transport/transports.js';
import type { TransportFactory } from './transport/transport.js';
import { verifyReplica, type VerifyResult } from './rsync/verify.js';
import { writeExcludeFile, type ExcludeFile } from './rsync/exclude-file.js';
import type { MirrorEvents, Replica, ReplicaStatus } from './types.js';
import { TreeWatcher, type TreeWatcherOptions, type WatchBackend } from './watch/tree-watcher.js';
import { answerFor, type Phase } from './core/lifecycle.js';

export type { FlushOptions, FlushResult } from './sync/fanout.js';

const debug = createDebug('fam-mirror:mirror');

/**
 * @parcel/watcher compares every path it crawls or reports with every ignored path in turn
 * (measured: 10,000 of them made subscribing to 1,050 entries take 0.5 s instead of 5 ms). It is
 * given this many at most; the others are still never sent, the event filter drops them.
 */
const WATCH_IGNORE_MAX = 128;

/** What start() did: with initMirror, whose seed is confirmed and who is still without one. */
export interface StartResult {
  /** Replicas whose seed (a full pass) completed; empty without initMirror. */
  seeded: string[];
  /** Replicas down while seeding: each gets its seed when back. Empty without initMirror. */
  unseeded: string[];
}

export class Mirror extends EventEmitter<MirrorEvents> {
  #options: NormalizedOptions;
  readonly #raw: MirrorOptions;
  #phase: Phase = 'new';
  #fanout: Fanout | undefined;
  #recovery: Recovery | undefined;
  #reconciles: ReconcileScheduler | undefined;
  /** How each replica is reached (transport/transports.ts). */
  readonly #transports: Transports;
  #watcher: TreeWatcher | undefined;
  readonly #watchTuning: Omit<TreeWatcherOptions, 'ignore'>;
  /** Settles when start() has (for close() and a flush() called during the start). */
  #started: Promise<StartResult> | undefined;
  #closing: Promise<void> | undefined;
  /** One hard-link index of the source for every lane (see sync/hard-links.ts). */
  #links: HardLinks | undefined;
  /** The exclude rules as one predicate, compiled once (a list can hold 200,000 patterns). */
  #excludedFilter: PathFilter | undefined;
  #excludeFile: ExcludeFile | undefined;

  /**
   * `shared.pool` lets several mirrors (one per watched root) share one ssh connection per host;
   * `shared.watchBackend` replaces @parcel/watcher (tests inject one that fails) and
   * `shared.watchTuning` its health-check and sweep intervals; `shared.transport` makes each
   * replica's endpoint (tests inject a fake; by default local rsync or the ssh2 bridge).
   */
  constructor(
    options: MirrorOptions,
    shared: { pool?: ConnectionPool; watchBackend?: WatchBackend; watchTuning?: Pick<TreeWatcherOptions, 'healthEveryMs' | 'sweepEveryMs'>; transport?: TransportFactory } = {},
  ) {
    super();
    const pool = shared.pool ?? new ConnectionPool();
    this.#watchTuning = { ...shared.watchTuning, backend: shared.watchBackend };
    this.#raw = { ...options };
    this.#options = normalizeOptions(options, environment());
    this.#transports = new Transports(shared.transport ?? defaultTransport, () => ({
      options: this.#options,
      pool,
      onWarning: (connection, message) => {
        debug('%s', message);
        this.emit('problem', { replica: connection, code: 'ERR_HOST_KEY_UNCHECKED', message });
      },
    }));
  }

  /**
   * Starts watching; with `initMirror`, resolves once every replica that can be reached has been
   * seeded, and says which were and which were not (down: seeded when back).
   */
  async start(): Promise<StartResult> {
    answerFor('start', this.#phase);
    this.#phase = 'starting';
    const started = this.#start();
    this.#started = started;
    try {
      return await started;
    } catch (e) {
      // A failed start leaves nothing running: whatever it made is closed, and the mirror is closed.
      await this.close();
      throw e;
    }
  }

  /** A close() during the start ends it: every await is followed by a check that we are still starting. */
  #stillStarting(): void {
    if (this.#phase !== 'starting') throw new MirrorError('ERR_CLOSED', 'The mirror was closed while it was starting.');
  }

  async #start(): Promise<StartResult> {
    const o = this.options;
    await checkSource(o.source);
    await checkRsync(o.rsyncPath);
    this.#stillStarting();
    const limit = pLimit(o.concurrency);
    // A dry run confirms nothing, so it must not move any replica's durable watermark.
    const journal = o.stateDir === undefined || o.dryRun ? undefined : openJournal(o.stateDir, o.source, o.journalLimitBytes);
    this.#excludeFile = await writeExcludeFile(o.exclude);
    const running = () => this.#phase === 'running';
    const report = (err: MirrorError) => this.#report(err);
    const timing = { quietMs: o.quietMs, maxWaitMs: o.maxWaitMs, retryMinMs: o.retryMinMs, retryMaxMs: o.retryMaxMs };
    const fanout = new Fanout({ makeExecute: (replica) => this.#makeExecute(replica, limit), timing, clock: realClock, events: this, report, lastSeq: journal?.lastSeq ?? 0 });
    this.#fanout = fanout;
    const recovery = new Recovery(journal, { fanout, clock: realClock, running, problem: (event) => this.emit('problem', event), report, stateDir: o.stateDir, journalLimitBytes: o.journalLimitBytes });
    this.#recovery = recovery;
    fanout.useLog(recovery);
    for (const replica of o.replicas) fanout.add(replica);
    recovery.restore();
    const reconciles = new ReconcileScheduler(realClock, { reconcileAll: () => this.reconcile(), running, report }, { ...DEFAULT_RECONCILE_TIMING, everyMs: o.reconcileIntervalSec * 1000 });
    this.#reconciles = reconciles;
    this.#watcher = new TreeWatcher(o.source, this.#excluded(), {
      onChanges: (paths) => {
        fanout.dispatch(paths);
        reconciles.delivered(paths.length);
      },
      // The watcher replaces a failed subscription itself and asks for a full pass once it is back.
      onError: (err) => reconciles.watcherFailed(err),
    }, { ...this.#watchTuning, ignore: literalAnchoredPaths(o.exclude).slice(0, WATCH_IGNORE_MAX) });
    await preflightWatches(o.source, this.#excluded(), o.watchLimit);
    this.#stillStarting();
    // Watch first, seed second (design.md invariant 5): a change made while seeding is either in
    // the seed already or queued behind it.
    await this.#watcher.start();
    this.#stillStarting();
    this.#phase = 'running';
    await recovery.catchUpDowntime(this.#watcher);
    if (this.#phase !== 'running') throw new MirrorError('ERR_CLOSED', 'The mirror was closed while it was starting.');
    reconciles.start();
    debug('watching %s for %d replicas', o.source, fanout.lanes.length);
    if (o.initMirror) {
      fanout.dispatch(['']);
      // Seeded means every replica that can be reached: one that is down gets its seed when it is
      // back (it stays in its backlog), but one that needs a human fails the start.
      const seed = await this.flush({ healthyOnly: true });
      const failed = fanout.lanes.find((lane) => lane.status().state === 'failed');
      if (failed !== undefined) throw failed.lastError ?? new MirrorError('ERR_RSYNC_FATAL', `Replica ${failed.id} failed while seeding.`);
      return { seeded: fanout.lanes.map((l) => l.id).filter((id) => !seed.behind.includes(id)), unseeded: seed.behind };
    }
    return { seeded: [], unseeded: [] };
  }

  /**
   * Resolves when every replica has every change the mirror saw before this call. By default it
   * waits for replicas that are down (they catch up when back) and rejects if one has failed for a
   * reason retrying cannot fix. `healthyOnly` stops waiting for replicas that are or go down;
   * `timeoutMs` stops waiting at all. The result says which replicas are still behind.
   */
  async flush(opts: FlushOptions = {}): Promise<FlushResult> {
    if (answerFor('flush', this.#phase) === 'wait') {
      await this.#started!.catch(() => {});
      answerFor('flush', this.#phase);
    }
    return await this.#fanout!.flush(opts, () => this.#watcher!.barrier());
  }

  /** Same as flush(): the name callers of queue libraries look for. */
  onIdle(opts: FlushOptions = {}): Promise<FlushResult> {
    return this.flush(opts);
  }

  /** Per replica: state, lag, backlog, last success and error, files and bytes sent. Small on any tree. */
  status(): ReplicaStatus[] {
    return this.#fanout?.status() ?? [];
  }

  /** The options in force, normalized and frozen. */
  get options(): NormalizedOptions {
    return this.#options;
  }

  /**
   * Changes the replica list of a running mirror (the CLI does it on SIGHUP): an added replica is
   * seeded with a full pass and then follows the changes; a removed one finishes its batch in flight
   * and its connection is closed. Specs are validated like the constructor's.
   */
  async setReplicas(specs: string[]): Promise<{ added: string[]; removed: string[] }> {
    answerFor('setReplicas', this.#phase);
    const next = normalizeOptions({ ...this.#raw, replicas: specs }, environment());
    return await this.#applyReplicas(next.replicas, specs);
  }

  /**
   * Applies new options to a running mirror (the CLI does it on SIGHUP), validated exactly as the
   * constructor validates them: when they are bad it throws and nothing changes. The replica list
   * changes live (as setReplicas()); every other option that differs needs a restart: it keeps its
   * running value and is named in `restartNeeded`.
   */
  async reconfigure(options: MirrorOptions): Promise<{ added: string[]; removed: string[]; restartNeeded: string[] }> {
    answerFor('reconfigure', this.#phase);
    const next = normalizeOptions(options, environment());
    const restartNeeded = changedOptions(this.#options, next).filter((key) => key !== 'replicas');
    return { ...(await this.#applyReplicas(next.replicas, [...options.replicas])), restartNeeded };
  }

  /** Validates options exactly as `new Mirror()` does, without creating one; throws a MirrorError. */
  static checkOptions(options: MirrorOptions): NormalizedOptions {
    return normalizeOptions(options, environment());
  }

  async #applyReplicas(replicas: readonly Replica[], specs: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
    const before = new Set(this.#options.replicas.map((r) => r.id));
    const removed = this.#fanout!.detach(new Set(replicas.map((r) => r.id)));
    this.#options = Object.freeze({ ...this.#options, replicas });
    this.#raw.replicas = [...specs];
    await Promise.all(removed.map((lane) => lane.close()));
    const added = replicas.filter((r) => !before.has(r.id));
    // Each added replica gets its own journaled full pass (it has no watermark to resume from);
    // the replicas already in step get none.
    for (const replica of added) this.#recovery!.fullPassFor('replica-added', this.#fanout!.add(replica));
    await this.#transports.keepOnly(replicas);
    debug('replicas changed: +%d -%d', added.length, removed.length);
    return { added: added.map((r) => r.id), removed: removed.map((l) => l.id) };
  }

  /** Queues a full itemized `rsync --delete` pass of the root for every replica. */
  reconcile(): void {
    answerFor('reconcile', this.#phase);
    this.#fanout!.dispatch(['']);
  }

  /** Stops watching, lets batches in flight finish, closes every connection. */
  async close(): Promise<void> {
    const answer = answerFor('close', this.#phase);
    if (answer === 'noop') return;
    if (answer === 'wait') return await this.#closing;
    const wasRunning = this.#phase === 'running';
    this.#phase = 'closing';
    this.#closing = this.#close(wasRunning);
    return await this.#closing;
  }

  async #close(wasRunning: boolean): Promise<void> {
    this.#reconciles?.close();
    this.#recovery?.stopSnapshots();
    // A clean stop saves the tree's state, so the next start diffs only what changed while stopped;
    // only then is the stop recorded as clean (otherwise the next start reconciles every replica).
    const snapshotSaved = wasRunning && this.#recovery !== undefined ? await this.#recovery.saveFinalSnapshot(this.#watcher!) : false;
    await this.#watcher?.close();
    await this.#fanout?.close();
    // A start() under way ends now (its waits were ended above); what it made is closed below.
    await this.#started?.catch(() => {});
    await this.#fanout?.close();
    await this.#transports.closeAll();
    await this.#excludeFile?.remove();
    this.#recovery?.close(snapshotSaved);
    this.#phase = 'closed';
  }
  /** Successful ssh logins per host connection (tests prove reuse with it). */
  loginCounts(): Record<string, number> {
    return this.#transports.loginCounts();
  }

  /**
   * Compares every replica with the source by checksum (an rsync dry run: nothing is changed) and
   * lists the differences. Needs no start(); on a running mirror it reuses its connections.
   */
  async verify(): Promise<VerifyResult[]> {
    answerFor('verify', this.#phase);
    const o = this.options;
    await checkSource(o.source);
    await checkRsync(o.rsyncPath);
    // A running mirror has its rule file; otherwise this call writes its own for the time it runs.
    const own = this.#excludeFile === undefined ? await writeExcludeFile(o.exclude) : undefined;
    const settings = { source: o.source, excludeFile: (own ?? this.#excludeFile)?.path, timeoutSec: o.timeoutSec };
    try {
      return await Promise.all(
        o.replicas.map(async (replica) => {
          const t = this.#transports.for(replica);
          await t.connect();
          return verifyReplica(t, settings);
        }),
      );
    } finally {
      await own?.remove();
    }
  }

  /** Excludes cannot change on a running mirror (reconfigure() names them as needing a restart). */
  #excluded(): PathFilter {
    return (this.#excludedFilter ??= compileExcludes(this.options.exclude));
  }

  #makeExecute(replica: Replica, limit: <T>(fn: () => Promise<T>) => Promise<T>): BatchExecutor {
    const o = this.options;
    this.#links ??= new HardLinks(o.source, this.#excluded());
    return makeBatchRunner({
      options: o,
      excluded: this.#excluded(),
      links: this.#links,
      transport: this.#transports.for(replica),
      excludeFile: this.#excludeFile?.path,
      limit,
      onSynced: (event) => {
        // A dry run's counts are what rsync would send: reported in 'planned', never counted as sent.
        if (!o.dryRun) this.#fanout?.countSent(replica.id, event);
        this.emit('synced', event);
      },
      onProblem: (event) => this.emit('problem', event),
      onPlanned: (event) => this.emit('planned', event),
      onProgress: (event) => this.emit('progress', event),
      onSentUnnamed: (paths) => this.#watcher?.recheck(paths),
    });
  }

  /** 'error' is emitted only to listeners: an embedding app must not crash on a replica's trouble. */
  #report(err: MirrorError): void {
    debug('error: %s', err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

function environment() {
  return { cwd: process.cwd(), homeDir: homedir(), userName: userInfo().username, resolvePath: realPathOfExisting };
}

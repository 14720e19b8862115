/**
 * The composition root: options → watcher → one lane per replica → executor → transport.
 * Public class `Mirror`; the CLI is a thin layer over it. Every public method answers from the
 * lifecycle table (core/lifecycle.ts); the work is delegated along the flow: sync/fanout.ts (the
 * lanes), sync/recovery.ts (the journal), sync/reconcile-scheduler.ts, sync/preflight.ts.
 */
import { EventEmitter } from 'node:events';
import pLimit from 'p-limit';
import createDebug from 'debug';
import { MirrorError } from './errors.js';
import { checkFactory, runnerFactory } from './sync/runners.js';
import { guardMemoryFile } from './sync/guard-memory.js';
import { compileExcludes, literalAnchoredPaths, type PathFilter } from './core/filter.js';
import { Fanout, type FlushOptions, type FlushResult } from './sync/fanout.js';
import { Recovery, openJournal } from './sync/recovery.js';
import { DEFAULT_RECONCILE_TIMING, ReconcileScheduler } from './sync/reconcile-scheduler.js';
import { checkTools, preflightWatches } from './sync/preflight.js';
import { MOUNT_INFO, startupWarnings } from './sync/startup-warnings.js';
import { changedOptions, hostEnvironment, normalizeOptions, type MirrorOptions, type NormalizedOptions } from './options.js';
import { realClock } from './clock.js';
import { ConnectionPool } from './transport/pool.js';
import { defaultTransport, Transports } from './transport/transports.js';
import { verifyAll } from './rsync/verify.js';
import { writeExcludeFile, type ExcludeFile } from './rsync/exclude-file.js';
import type { MirrorEvents, Replica, ReplicaStatus, StartResult, SyncedEvent, VerifyResult } from './types.js';
import { TreeWatcher, type TreeWatcherOptions } from './watch/tree-watcher.js';
import { withDriftQuiet, type DriftTuning } from './sync/drift.js';
import type { MirrorShared } from './mirror-shared.js';
import { answerFor, type Phase } from './core/lifecycle.js';

export type { FlushOptions, FlushResult } from './sync/fanout.js';
export type { StartResult } from './types.js';

const debug = createDebug('fam-mirror:mirror');

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
  readonly #driftTuning: DriftTuning;
  readonly #mountInfoFile: string;
  /** Settles when start() has (for close() and a flush() called during the start). */
  #started: Promise<StartResult> | undefined;
  #closing: Promise<void> | undefined;
  /** The exclude rules as one predicate, compiled once (a list can hold 200,000 patterns). */
  #excludedFilter: PathFilter | undefined;
  #excludeFile: ExcludeFile | undefined;

  constructor(options: MirrorOptions);
  /** @internal `shared`: what mirrors share and tests inject (src/mirror-shared.ts); not published (it names ssh2's types). */
  constructor(options: MirrorOptions, shared: MirrorShared);
  constructor(options: MirrorOptions, shared: MirrorShared = {}) {
    super();
    const pool = shared.pool ?? new ConnectionPool();
    this.#watchTuning = { ...shared.watchTuning, backend: shared.watchBackend };
    this.#driftTuning = shared.driftTuning ?? {};
    this.#mountInfoFile = shared.mountInfoFile ?? MOUNT_INFO;
    this.#raw = { ...options };
    this.#options = normalizeOptions(options, hostEnvironment());
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
    await checkTools(o);
    // Before this run writes any state: what an earlier run (or an admin) left loose is named.
    for (const warning of await startupWarnings(o, this.#mountInfoFile)) this.emit('warning', warning);
    this.#stillStarting();
    const limit = pLimit(o.concurrency);
    // A dry run confirms nothing, so it must not move any replica's durable watermark.
    const journal = o.stateDir === undefined || o.dryRun ? undefined : openJournal(o.stateDir, o.source, o.journalLimitBytes);
    this.#excludeFile = await writeExcludeFile(o.exclude);
    const running = () => this.#phase === 'running';
    const report = (err: MirrorError) => this.#report(err);
    const wiring = {
      options: () => this.#options,
      excluded: this.#excluded(),
      excludeFile: this.#excludeFile.path,
      limit,
      transportFor: (replica: Replica) => this.#transports.for(replica),
      events: this,
      countSent: (id: string, event: SyncedEvent) => this.#fanout?.countSent(id, event),
      recheck: (paths: string[]) => this.#watcher?.recheck(paths),
      reseed: (id: string, reason: string) => this.#recovery?.reseed(id, reason),
      ...(journal === undefined ? {} : { guardMemory: (id: string) => guardMemoryFile(journal.dir, id) }),
      fullReason: (seq: number) => this.#fanout?.fullReason(seq),
    };
    const lanes = { makeExecute: runnerFactory(wiring), makeCheck: checkFactory(wiring), timing: withDriftQuiet(o, this.#driftTuning), random: this.#driftTuning.random };
    const fanout = new Fanout({ ...lanes, clock: realClock, events: this, report, lastSeq: journal?.lastSeq ?? 0 });
    this.#fanout = fanout;
    const recovery = new Recovery(journal, { fanout, clock: realClock, running, report, problem: (e) => this.emit('problem', e), stateDir: o.stateDir, journalLimitBytes: o.journalLimitBytes });
    this.#recovery = recovery;
    fanout.useLog(recovery);
    for (const replica of o.replicas) fanout.add(replica);
    recovery.restore();
    const reconciles = new ReconcileScheduler(
      realClock,
      { reconcileAll: (trigger) => this.#fanout!.dispatch([''], trigger), drift: (t, spreadMs) => fanout.drift(t, spreadMs), running, report },
      { ...DEFAULT_RECONCILE_TIMING, everyMs: o.dryRun ? 0 : o.reconcileIntervalSec * 1000 },
    );
    this.#reconciles = reconciles;
    this.#watcher = new TreeWatcher(
      o.source,
      this.#excluded(),
      {
        onChanges: (paths) => {
          fanout.dispatch(paths);
          reconciles.delivered(paths.length);
        },
        // The watcher replaces a failed subscription itself and asks for a full pass once it is back.
        onError: (err) => reconciles.watcherFailed(err),
      },
      { ...this.#watchTuning, ignore: literalAnchoredPaths(o.exclude) },
    );
    await preflightWatches(o.source, this.#excluded(), o.watchLimit);
    this.#stillStarting();
    // Watch first, seed second (docs/internals.md, invariant 5): a change made while seeding is either in
    // the seed already or queued behind it.
    await this.#watcher.start();
    this.#stillStarting();
    this.#phase = 'running';
    await recovery.catchUpDowntime(this.#watcher);
    if (this.#phase !== 'running') throw new MirrorError('ERR_CLOSED', 'The mirror was closed while it was starting.');
    reconciles.start();
    debug('watching %s for %d replicas', o.source, fanout.lanes.length);
    if (o.initMirror) {
      fanout.dispatch([''], 'seed');
      return fanout.seedOutcome(await this.flush({ healthyOnly: true }));
    }
    return { seeded: [], unseeded: [], failed: [] };
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
    const next = normalizeOptions({ ...this.#raw, replicas: specs }, hostEnvironment());
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
    const next = normalizeOptions(options, hostEnvironment());
    const restartNeeded = changedOptions(this.#options, next).filter((key) => key !== 'replicas');
    return { ...(await this.#applyReplicas(next.replicas, [...options.replicas])), restartNeeded };
  }

  /** Validates options exactly as `new Mirror()` does, without creating one; throws a MirrorError. */
  static checkOptions(options: MirrorOptions): NormalizedOptions {
    return normalizeOptions(options, hostEnvironment());
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
    this.#fanout!.dispatch([''], 'manual');
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
  /**
   * Compares every replica with the source by checksum (an rsync dry run: nothing is changed) and
   * lists the differences. Needs no start(); on a running mirror it reuses its connections.
   */
  async verify(): Promise<VerifyResult[]> {
    answerFor('verify', this.#phase);
    const o = this.options;
    await checkTools(o);
    const transports = o.replicas.map((r) => this.#transports.for(r));
    return await verifyAll(transports, { source: o.source, timeoutSec: o.timeoutSec }, { exclude: o.exclude, file: this.#excludeFile });
  }

  /** Excludes cannot change on a running mirror (reconfigure() names them as needing a restart). */
  #excluded(): PathFilter {
    return (this.#excludedFilter ??= compileExcludes(this.options.exclude));
  }

  /** 'error' is emitted only to listeners: an embedding app must not crash on a replica's trouble. */
  #report(err: MirrorError): void {
    debug('error: %s', err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/**
 * The composition root: options → watcher → one lane per replica → executor → transport.
 * Public class `Mirror`; the CLI is a thin layer over it.
 */
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Journal, type Resume } from './sync/journal.js';
import { hashName } from './sync/journal-format.js';
import { homedir, userInfo } from 'node:os';
import { execFile } from 'node:child_process';
import pLimit from 'p-limit';
import createDebug from 'debug';
import { MirrorError } from './errors.js';
import { makeBatchRunner } from './sync/batch-runner.js';
import { compileExcludes, literalAnchoredPaths, type PathFilter } from './core/filter.js';
import { HardLinks } from './sync/hard-links.js';
import { checkWatchBudget, countDirectories, countUsedWatches, directoryUpperBound, readWatchLimit } from './watch/watch-limit.js';
import { Lane } from './sync/lane.js';
import { changedOptions, normalizeOptions, type MirrorOptions, type NormalizedOptions } from './options.js';
import { realClock } from './core/schedule.js';
import { realPathOfExisting } from './watch/real-path.js';
import { ConnectionPool } from './transport/pool.js';
import { defaultTransport, Transports } from './transport/transports.js';
import type { TransportFactory } from './transport/transport.js';
import { verifyReplica, type VerifyResult } from './rsync/verify.js';
import { writeExcludeFile, type ExcludeFile } from './rsync/exclude-file.js';
import type { MirrorEvents, ProblemEvent, Replica, ReplicaStatus } from './types.js';
import { TreeWatcher, type TreeWatcherOptions, type WatchBackend } from './watch/tree-watcher.js';
import { answerFor, type Phase } from './core/lifecycle.js';

const debug = createDebug('fam-mirror:mirror');

/** Events in one burst (deliveries less than BURST_GAP_MS apart) from which we suspect an overflow. */
const SUSPECT_BURST = 8192;
const BURST_GAP_MS = 1000;
/** Quiet time after a suspicious burst or a watcher error before the reconcile pass. */
const RECONCILE_AFTER_MS = 2000;
/** How often the tree snapshot for restarts is refreshed (bounds what a restart after SIGKILL re-sends). */
const SNAPSHOT_EVERY_MS = 5 * 60_000;
/**
 * @parcel/watcher compares every path it crawls or reports with every ignored path in turn
 * (measured: 10,000 of them made subscribing to 1,050 entries take 0.5 s instead of 5 ms). It is
 * given this many at most; the others are still never sent, the event filter drops them.
 */
const WATCH_IGNORE_MAX = 128;

export interface FlushOptions {
  /** Do not wait for replicas that are down or failed (now or while waiting). */
  healthyOnly?: boolean;
  /** Give up waiting after this many ms (the changes still flow; the result lists who is behind). */
  timeoutMs?: number;
}

export interface FlushResult {
  /** Every replica has every change seen before the call: none is behind and none has problems. */
  complete: boolean;
  /** Replicas that do not have them yet. */
  behind: string[];
  /**
   * Paths a replica could not be given (rsync named them: permissions, a name too long there, …).
   * Everything else reached that replica; these are retried slowly until the cause is fixed.
   */
  problems: Array<{ replica: string; path: string }>;
}

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
  #limit: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;
  #phase: Phase = 'new';
  #lanes: Lane[] = [];
  /** How each replica is reached (src/transport/transports.ts). */
  readonly #transports: Transports;
  #watcher: TreeWatcher | undefined;
  #seq = 0;
  #cancelReconcile: (() => void) | undefined;
  #cancelPeriodic: (() => void) | undefined;
  #cancelSnapshots: (() => void) | undefined;
  #journal: Journal | undefined;
  /** What the last run left each replica owing: decided before watching, applied once watching. */
  #resumePlan: Array<{ lane: Lane; resume: Resume }> = [];
  #burst = { count: 0, lastAt: 0 };
  #sent = new Map<string, { files: number; bytes: number }>();
  readonly #watchTuning: Omit<TreeWatcherOptions, 'ignore'>;
  /** Settles when start() has (for close() and a flush() called during the start). */
  #started: Promise<StartResult> | undefined;
  #closing: Promise<void> | undefined;
  /** One hard-link index of the source for every lane (see sync/hard-links.ts). */
  #links: HardLinks | undefined;
  /** The exclude rules as one predicate, compiled once (a list can hold 200,000 patterns). */
  #excludedFilter: PathFilter | undefined;
  #excludeFile: ExcludeFile | undefined;
  /** A write to the state directory failed during this run (see #durably). */
  #stateBroken = false;

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
    this.#limit = limit;
    // A dry run confirms nothing, so it must not move any replica's durable watermark.
    const journal = o.stateDir === undefined || o.dryRun ? undefined : openJournal(o.stateDir, o.source, o.journalLimitBytes);
    this.#journal = journal;
    this.#seq = journal?.lastSeq ?? 0;
    this.#excludeFile = await writeExcludeFile(o.exclude);
    this.#lanes = o.replicas.map((replica) => this.#makeLane(replica, limit));
    if (journal !== undefined) this.#restoreJournal(journal);
    this.#watcher = new TreeWatcher(o.source, this.#excluded(), {
      onChanges: (paths) => {
        this.#dispatch(paths);
        this.#watchBurst(paths.length);
      },
      // The watcher replaces a failed subscription itself and asks for a full pass once it is back.
      onError: (err) => this.#report(err),
    }, { ...this.#watchTuning, ignore: literalAnchoredPaths(o.exclude).slice(0, WATCH_IGNORE_MAX) });
    await preflightWatches(o.source, this.#excluded(), o.watchLimit);
    this.#stillStarting();
    // Watch first, seed second (design.md invariant 5): a change made while seeding is either in
    // the seed already or queued behind it.
    await this.#watcher.start();
    this.#stillStarting();
    this.#phase = 'running';
    if (journal !== undefined) await this.#catchUpDowntime(journal);
    if (this.#phase !== 'running') throw new MirrorError('ERR_CLOSED', 'The mirror was closed while it was starting.');
    if (o.reconcileIntervalSec > 0) this.#armPeriodicReconcile(o.reconcileIntervalSec * 1000);
    debug('watching %s for %d replicas', o.source, this.#lanes.length);
    if (o.initMirror) {
      this.#dispatch(['']);
      // Seeded means every replica that can be reached: one that is down gets its seed when it is
      // back (it stays in its backlog), but one that needs a human fails the start.
      const seed = await this.flush({ healthyOnly: true });
      const failed = this.#lanes.find((lane) => lane.status().state === 'failed');
      if (failed !== undefined) throw failed.lastError ?? new MirrorError('ERR_RSYNC_FATAL', `Replica ${failed.id} failed while seeding.`);
      return { seeded: this.#lanes.map((l) => l.id).filter((id) => !seed.behind.includes(id)), unseeded: seed.behind };
    }
    return { seeded: [], unseeded: [] };
  }

  /** One delivery of changes: journaled first (when durable), then into every replica's backlog. */
  #dispatch(paths: string[]): void {
    const seq = ++this.#seq;
    this.#durably('journal a change', () => this.#journal?.append({ seq, paths }));
    for (const lane of this.#lanes) lane.add(paths, seq);
    this.#durably('compact the journal', () => this.#compactJournal());
  }

  /**
   * A write to the state directory that fails (a full disk, an I/O error) must not end the process
   * from inside a watcher callback: the change still flows in memory, the failure is reported once,
   * and the stop is not recorded as clean, so the next start reconciles every replica.
   */
  #durably(what: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      if (!this.#stateBroken) {
        const err = new MirrorError('ERR_STATE', `Cannot ${what} in the state directory: ${(e as Error).message}. Changes still flow; the next start reconciles every replica. Free space there or fix its permissions.`, { path: this.options.stateDir, cause: e });
        this.emit('problem', { replica: '', code: err.code, message: err.message });
        this.#report(err);
      }
      this.#stateBroken = true;
    }
  }

  /**
   * A full pass for one replica only, journaled so that it survives any kill until that replica
   * confirms it. It stands for everything the replica lacked, so its watermark moves up to just
   * below it (which lets the journal drop what it was behind on).
   */
  #fullPassFor(lane: Lane): void {
    const seq = ++this.#seq;
    if (this.#journal !== undefined) {
      this.#journal.append({ seq, paths: [''], replica: hashName(lane.id) });
      this.#journal.setMark(lane.id, seq - 1);
    }
    lane.addFull(seq);
  }

  /**
   * Compaction follows the slowest watermark, so a replica down for long would keep the journal
   * growing: past `journalLimitBytes` behind, that replica gets a full pass instead of its records.
   */
  #compactJournal(): void {
    const journal = this.#journal;
    if (journal === undefined || !journal.compactionDue) return;
    const ids = this.#lanes.map((lane) => lane.id);
    for (const id of journal.behindBeyond(ids)) {
      debug('%s: more than %d bytes of journal behind, a full pass replaces its records', id, this.options.journalLimitBytes);
      this.#fullPassFor(this.#lanes.find((lane) => lane.id === id)!);
    }
    journal.compact(ids);
  }

  /** A restart: decides what each replica is owed (applied by #catchUpDowntime, once watching). */
  #restoreJournal(journal: Journal): void {
    for (const lane of this.#lanes) {
      const resume = journal.resume(lane.id);
      // A replica this state has never seen is assumed in step (fam_mirror's rule), as on a first start.
      if (resume.kind === 'new') journal.confirm(lane.id, this.#seq);
      this.#resumePlan.push({ lane, resume });
    }
  }

  /**
   * What each replica is owed after a restart, then the changes made while no mirror ran: after a
   * clean stop, the snapshot of the last run diffed against the tree now. After an unclean stop
   * (killed, crashed), what changed since its last snapshot is unknown, and without a snapshot
   * nothing is known: every replica gets a full pass, itemized so only what differs is sent, and
   * journaled so it survives another kill. State that does not check out gets the same answer for
   * the replicas it concerns; it is never trusted.
   */
  async #catchUpDowntime(journal: Journal): Promise<void> {
    const watcher = this.#watcher!;
    for (const { lane, resume } of this.#resumePlan.splice(0)) {
      if (resume.kind === 'records') for (const r of resume.records) lane.add(r.paths, r.seq);
      else if (resume.kind === 'full') {
        const message = `The saved state of ${lane.id} cannot be trusted (${resume.reason}): it gets a full pass, itemized so only what differs is sent.`;
        debug('%s', message);
        this.emit('problem', { replica: lane.id, code: 'ERR_STATE_DAMAGED', message });
        this.#fullPassFor(lane);
      }
      debug('%s: %s', lane.id, resume.kind === 'records' ? `${resume.records.length} journal records to resend` : resume.kind);
    }
    if (journal.known && !journal.cleanStop) {
      for (const lane of this.#lanes) {
        const message = `The last run did not stop cleanly (killed or crashed), so what changed since its last snapshot is unknown: ${lane.id} gets a full pass, itemized so only what differs is sent.`;
        this.emit('problem', { replica: lane.id, code: 'ERR_STATE_UNCLEAN', message });
      }
      this.#dispatch(['']);
    } else if (journal.known) {
      if (existsSync(journal.snapshotFile)) {
        const started = Date.now();
        const paths = await watcher.changesSince(journal.snapshotFile);
        debug('%d paths changed while stopped (diffed in %d ms)', paths.length, Date.now() - started);
        if (paths.length > 0) this.#dispatch(paths);
      } else this.#dispatch(['']);
    }
    await watcher.saveSnapshot(journal.snapshotFile);
    this.#armSnapshots(journal);
  }

  #armSnapshots(journal: Journal): void {
    if (this.#phase !== 'running' && this.#phase !== 'starting') return;
    this.#cancelSnapshots = realClock.after(SNAPSHOT_EVERY_MS, () => {
      if (this.#phase !== 'running') return;
      this.#watcher!.saveSnapshot(journal.snapshotFile).then(
        () => this.#armSnapshots(journal),
        (e: Error) => {
          debug('snapshot failed: %s', e.message);
          this.#armSnapshots(journal);
        },
      );
    });
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
    // The deadline covers the barrier too: a watcher being replaced can take a while.
    const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    const done = new Set<string>();
    const inTime = await withDeadline(this.#watcher!.barrier(), deadline);
    if (inTime) {
      const seq = this.#seq;
      const all = Promise.all(
        this.#lanes.map(async (lane) => {
          if (await lane.confirmed(seq, { healthyOnly: opts.healthyOnly === true })) done.add(lane.id);
        }),
      );
      await withDeadline(all, deadline);
    }
    const behind = this.#lanes.map((l) => l.id).filter((id) => !done.has(id));
    const problems = this.#lanes.flatMap((lane) => lane.problems().map((path) => ({ replica: lane.id, path })));
    return { complete: behind.length === 0 && problems.length === 0, behind, problems };
  }

  /** Same as flush(): the name callers of queue libraries look for. */
  onIdle(opts: FlushOptions = {}): Promise<FlushResult> {
    return this.flush(opts);
  }

  /** Per replica: state, lag, backlog, last success and error, files and bytes sent. Small on any tree. */
  status(): ReplicaStatus[] {
    return this.#lanes.map((lane) => {
      const sent = this.#sent.get(lane.id) ?? { files: 0, bytes: 0 };
      return { ...lane.status(), filesSent: sent.files, bytesSent: sent.bytes };
    });
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
    const after = new Set(replicas.map((r) => r.id));
    const removed = this.#lanes.filter((lane) => !after.has(lane.id));
    this.#lanes = this.#lanes.filter((lane) => after.has(lane.id));
    this.#options = Object.freeze({ ...this.#options, replicas });
    this.#raw.replicas = [...specs];
    await Promise.all(removed.map((lane) => lane.close()));
    const added = replicas.filter((r) => !before.has(r.id));
    // Each added replica gets its own journaled full pass (it has no watermark to resume from);
    // the replicas already in step get none.
    for (const replica of added) {
      const lane = this.#makeLane(replica, this.#limit!);
      this.#lanes.push(lane);
      this.#fullPassFor(lane);
    }
    await this.#transports.keepOnly(replicas);
    debug('replicas changed: +%d -%d', added.length, removed.length);
    return { added: added.map((r) => r.id), removed: removed.map((l) => l.id) };
  }

  /** Queues a full itemized `rsync --delete` pass of the root for every replica. */
  reconcile(): void {
    answerFor('reconcile', this.#phase);
    this.#dispatch(['']);
  }

  /**
   * The kernel drops events silently once its queue (fs.inotify.max_queued_events, 16,384 here)
   * is full, and @parcel/watcher does not report the overflow. A burst this large may have lost
   * some, so a full pass follows once it is over.
   */
  #watchBurst(count: number): void {
    const now = Date.now();
    if (now - this.#burst.lastAt > BURST_GAP_MS) this.#burst.count = 0;
    this.#burst.count += count;
    this.#burst.lastAt = now;
    if (this.#burst.count >= SUSPECT_BURST) this.#scheduleReconcile(`a burst of ${this.#burst.count} events`);
  }

  #scheduleReconcile(why: string): void {
    if (this.#phase !== 'running') return;
    debug('reconcile scheduled after %s', why);
    this.#cancelReconcile?.();
    this.#cancelReconcile = realClock.after(RECONCILE_AFTER_MS, () => {
      this.#cancelReconcile = undefined;
      if (this.#phase === 'running') this.reconcile();
    });
  }

  #armPeriodicReconcile(ms: number): void {
    this.#cancelPeriodic = realClock.after(ms, () => {
      if (this.#phase !== 'running') return;
      debug('periodic reconcile');
      this.reconcile();
      this.#armPeriodicReconcile(ms);
    });
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
    this.#cancelReconcile?.();
    this.#cancelPeriodic?.();
    this.#cancelSnapshots?.();
    // A clean stop saves the tree's state, so the next start diffs only what changed while stopped;
    // only then is the stop recorded as clean (otherwise the next start reconciles every replica).
    let snapshotSaved = false;
    if (wasRunning && this.#journal !== undefined) {
      snapshotSaved = await this.#watcher!.saveSnapshot(this.#journal.snapshotFile).then(
        () => true,
        (e: Error) => {
          debug('snapshot at close failed: %s', e.message);
          return false;
        },
      );
    }
    await this.#watcher?.close();
    await Promise.all(this.#lanes.map((lane) => lane.close()));
    // A start() under way ends now (its waits were ended above); what it made is closed below.
    await this.#started?.catch(() => {});
    await Promise.all(this.#lanes.map((lane) => lane.close()));
    await this.#transports.closeAll();
    await this.#excludeFile?.remove();
    this.#journal?.close({ clean: snapshotSaved && !this.#stateBroken });
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

  #makeLane(replica: Replica, limit: <T>(fn: () => Promise<T>) => Promise<T>): Lane {
    const o = this.options;
    this.#links ??= new HardLinks(o.source, this.#excluded());
    const execute = makeBatchRunner({
      options: o,
      excluded: this.#excluded(),
      links: this.#links,
      transport: this.#transports.for(replica),
      excludeFile: this.#excludeFile?.path,
      limit,
      onSynced: (event) => {
        const sent = this.#sent.get(replica.id) ?? { files: 0, bytes: 0 };
        // A dry run's counts are what rsync would send: reported in 'planned', never counted as sent.
        if (!o.dryRun) this.#sent.set(replica.id, { files: sent.files + event.files, bytes: sent.bytes + event.bytes });
        this.emit('synced', event);
      },
      onProblem: (event) => this.emit('problem', event),
      onPlanned: (event) => this.emit('planned', event),
      onProgress: (event) => this.emit('progress', event),
      onSentUnnamed: (paths) => this.#watcher?.recheck(paths),
    });
    const timing = { quietMs: o.quietMs, maxWaitMs: o.maxWaitMs, retryMinMs: o.retryMinMs, retryMaxMs: o.retryMaxMs };
    return new Lane(replica.id, execute, timing, realClock, {
      onConfirmed: (seq) => {
        this.#durably('record a confirmation', () => {
          this.#journal?.confirm(replica.id, seq);
          this.#compactJournal();
        });
      },
      onDown: (error) => {
        this.emit('replica-down', { replica: replica.id, error });
        this.emit('problem', problemOf(replica.id, error));
      },
      onUp: () => this.emit('replica-up', { replica: replica.id }),
      onFailed: (error, wasUp) => {
        if (wasUp) this.emit('replica-down', { replica: replica.id, error });
        this.emit('problem', problemOf(replica.id, error));
        this.#report(error);
      },
    });
  }

  /** 'error' is emitted only to listeners: an embedding app must not crash on a replica's trouble. */
  #report(err: MirrorError): void {
    debug('error: %s', err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/** Resolves true when `p` settled before the deadline (none: waits for it); rejections pass through. */
async function withDeadline(p: Promise<unknown>, deadline: number | undefined): Promise<boolean> {
  if (deadline === undefined) {
    await p;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([p.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function environment() {
  return { cwd: process.cwd(), homeDir: homedir(), userName: userInfo().username, resolvePath: realPathOfExisting };
}

function problemOf(replica: string, error: MirrorError): ProblemEvent {
  const event: ProblemEvent = { replica, code: error.code, message: error.message };
  if (error.exitCode !== undefined) event.exitCode = error.exitCode;
  return event;
}

function openJournal(stateDir: string, source: string, limitBytes: number): Journal {
  try {
    return new Journal(stateDir, source, { limitBytes });
  } catch (e) {
    throw new MirrorError('ERR_STATE', `Cannot use the state directory ${stateDir}: ${(e as Error).message}. Give a writable directory (stateDir, --state-dir).`, { path: stateDir, cause: e });
  }
}

/** Refuses to watch part of a tree: see watch/watch-limit.ts. An injected limit counts as all free. */
async function preflightWatches(root: string, excluded: PathFilter, injected: number | undefined): Promise<void> {
  const limit = injected ?? (await readWatchLimit());
  if (limit === undefined) return; // not Linux /proc: nothing to check against
  const used = injected === undefined ? await countUsedWatches(process.getuid?.()) : 0;
  const started = Date.now();
  if (injected === undefined) {
    const bound = await directoryUpperBound(root);
    if (bound !== undefined && bound <= limit - used) {
      debug('preflight: at most %d directories (inodes in use), %d of %d watches in use', bound, used, limit);
      return;
    }
  }
  const dirs = await countDirectories(root, excluded, Math.max(0, limit - used));
  debug('preflight: %d directories, %d of %d watches in use (%d ms)', dirs, used, limit, Date.now() - started);
  checkWatchBudget(root, dirs, { limit, used });
}

async function checkSource(source: string): Promise<void> {
  let st;
  try {
    st = await stat(source);
  } catch (e) {
    throw new MirrorError('ERR_SOURCE_MISSING', `Source ${source} does not exist (${(e as NodeJS.ErrnoException).code}). Check the path, or mount the disk it lives on.`, { path: source, cause: e });
  }
  if (!st.isDirectory()) {
    throw new MirrorError('ERR_SOURCE_NOT_DIR', `Source ${source} is not a directory. Give the directory tree to mirror.`, { path: source });
  }
}

function checkRsync(rsyncPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(rsyncPath, ['--version'], (err) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new MirrorError('ERR_RSYNC_MISSING', `rsync was not found ("${rsyncPath}"). Install it (e.g. apt-get install rsync) on this machine and on every replica.`, { cause: err }));
      } else resolve();
    });
  });
}

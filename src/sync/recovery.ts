/**
 * The durable side of a running mirror: the journal (sync/journal.ts) is written before any lane
 * has a change, a restart gives each replica what it is owed, the tree snapshot that finds the
 * changes made while no mirror ran is kept fresh, and a failing state directory never ends the
 * process. Without a state directory every method is a no-op but fullPassFor().
 *
 * What starts a full pass, and for whom, is the table in core/reconcile-triggers.ts.
 */
import { existsSync } from 'node:fs';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import { Journal, type Resume } from './journal.js';
import { hashName, type JournalRecord } from './journal-format.js';
import type { Clock } from '../core/schedule.js';
import { RECONCILE_TRIGGERS, downtimeAnswer, type EveryReplicaTrigger, type OneReplicaTrigger, type ReconcileRule } from '../core/reconcile-triggers.js';
import type { DeliveryLog, Fanout } from './fanout.js';
import type { Lane } from './lane.js';
import type { TreeWatcher } from '../watch/tree-watcher.js';
import type { ProblemEvent, RestartBacklog } from '../types.js';

const debug = createDebug('fam-mirror:recovery');

/** How often the tree snapshot for restarts is refreshed (bounds what a restart after SIGKILL re-sends). */
const SNAPSHOT_EVERY_MS = 5 * 60_000;

/** Why a replica is sent everything, for the rules that say so (its `problem` event). */
const WHY: Record<Exclude<ReconcileRule['problem'], 'none'>, (replica: string, reason: string) => string> = {
  ERR_STATE_UNCLEAN: (replica) =>
    `The last run did not stop cleanly (killed or crashed), so what changed since its last snapshot is unknown: ${replica} gets a full pass, itemized so only what differs is sent.`,
  ERR_STATE_DAMAGED: (replica, reason) => `The saved state of ${replica} cannot be trusted (${reason}): it gets a full pass, itemized so only what differs is sent.`,
  ERR_TARGET_EMPTIED: (replica, reason) => `The root of ${replica} ${reason || 'lost its owner record'} since this master seeded it (re-imaged or emptied?): it is seeded again with a full pass.`,
};

type Snapshots = Pick<TreeWatcher, 'saveSnapshot' | 'changesSince'>;

export interface RecoveryDeps {
  fanout: Fanout;
  clock: Clock;
  /** The mirror is running (snapshots are taken only then). */
  running(): boolean;
  problem(event: ProblemEvent): void;
  /** An error for the Mirror's 'error' listeners. */
  report(err: MirrorError): void;
  stateDir: string | undefined;
  journalLimitBytes: number;
}

/** Opens the state of `source` under `stateDir`; a directory that cannot be used fails the start. */
export function openJournal(stateDir: string, source: string, limitBytes: number): Journal {
  try {
    return new Journal(stateDir, source, { limitBytes });
  } catch (e) {
    throw new MirrorError('ERR_STATE', `Cannot use the state directory ${stateDir}: ${(e as Error).message}. Give a writable directory (stateDir, --state-dir).`, { path: stateDir, cause: e });
  }
}

export class Recovery implements DeliveryLog {
  readonly #journal: Journal | undefined;
  readonly #deps: RecoveryDeps;
  /** What the last run left each replica owing: decided before watching, applied once watching. */
  #resumePlan: Array<{ lane: Lane; resume: Resume }> = [];
  #cancelSnapshots: (() => void) | undefined;
  /** What each replica lacked at the restart, until it confirms it (ReplicaStatus.restartBacklog). */
  readonly #owed = new Map<string, RestartBacklog>();
  /** A write to the state directory failed during this run (see #durably). */
  #stateBroken = false;

  constructor(journal: Journal | undefined, deps: RecoveryDeps) {
    this.#journal = journal;
    this.#deps = deps;
  }

  append(seq: number, paths: string[]): void {
    this.#durably('journal a change', () => this.#journal?.append({ seq, paths, at: this.#deps.clock.now() }));
  }

  delivered(): void {
    this.#durably('compact the journal', () => this.#compactJournal());
  }

  confirmed(replicaId: string, seq: number): void {
    const owed = this.#owed.get(replicaId);
    if (owed !== undefined && seq >= owed.upToSeq) {
      this.#owed.delete(replicaId);
      debug('%s: has what it lacked at the restart', replicaId);
      this.#deps.fanout.restartBacklog({ replica: replicaId, ...owed, cleared: true });
    }
    this.#durably('record a confirmation', () => {
      this.#journal?.confirm(replicaId, seq);
      this.#compactJournal();
    });
  }

  owed(replicaId: string): RestartBacklog | undefined {
    return this.#owed.get(replicaId);
  }

  /** A restart: decides what each replica is owed (applied by catchUpDowntime(), once watching). */
  restore(): void {
    const journal = this.#journal;
    if (journal === undefined) return;
    for (const lane of this.#deps.fanout.lanes) {
      const resume = journal.resume(lane.id);
      // A replica this state has never seen is assumed in step (fam_mirror's rule), as on a first start.
      if (resume.kind === 'new') journal.confirm(lane.id, this.#deps.fanout.seq);
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
  async catchUpDowntime(watcher: Snapshots): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) return;
    for (const { lane, resume } of this.#resumePlan.splice(0)) {
      if (resume.kind === 'records') {
        for (const r of resume.records) lane.add(r.paths, r.seq);
        this.#listOwed(lane.id, resume.records);
      } else if (resume.kind === 'full') this.fullPassFor('damaged-state', lane, resume.reason);
      debug('%s: %s', lane.id, resume.kind === 'records' ? `${resume.records.length} journal records to resend` : resume.kind);
    }
    const answer = downtimeAnswer({ known: journal.known, cleanStop: journal.cleanStop, snapshot: existsSync(journal.snapshotFile) });
    if (answer === 'snapshot-diff') {
      const started = Date.now();
      const paths = await watcher.changesSince(journal.snapshotFile);
      debug('%d paths changed while stopped (diffed in %d ms)', paths.length, Date.now() - started);
      if (paths.length > 0) this.#deps.fanout.dispatch(paths);
    } else if (answer !== 'first-start') this.reconcileAll(answer);
    await watcher.saveSnapshot(journal.snapshotFile);
    this.#armSnapshots(watcher, journal);
  }

  /** The restart is honest: a replica behind is listed with what it lacks, until it has it. */
  #listOwed(replica: string, records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    const owed: RestartBacklog = { changes: 0, oldestSeq: records[0]!.seq, upToSeq: records[0]!.seq };
    for (const r of records) {
      owed.changes += r.paths.length;
      owed.oldestSeq = Math.min(owed.oldestSeq, r.seq);
      owed.upToSeq = Math.max(owed.upToSeq, r.seq);
      if (r.at !== undefined) owed.oldestAt = Math.min(owed.oldestAt ?? r.at, r.at);
    }
    this.#owed.set(replica, owed);
    this.#deps.fanout.restartBacklog({ replica, ...owed, cleared: false });
  }

  /** A full pass of every replica, each told why first when the trigger's rule says so. */
  reconcileAll(trigger: EveryReplicaTrigger, reason = ''): void {
    const { problem } = RECONCILE_TRIGGERS[trigger];
    if (problem !== 'none') for (const lane of this.#deps.fanout.lanes) this.#deps.problem({ replica: lane.id, code: problem, message: WHY[problem](lane.id, reason) });
    this.#deps.fanout.dispatch([''], trigger);
  }

  /**
   * A full pass for one replica only, journaled so that it survives any kill until that replica
   * confirms it. It stands for everything the replica lacked, so its watermark moves up to just
   * below it (which lets the journal drop what it was behind on).
   */
  fullPassFor(trigger: OneReplicaTrigger, lane: Lane, reason = ''): void {
    const { problem } = RECONCILE_TRIGGERS[trigger];
    if (problem !== 'none') {
      const message = WHY[problem](lane.id, reason);
      debug('%s', message);
      this.#deps.problem({ replica: lane.id, code: problem, message });
    }
    const seq = this.#deps.fanout.nextSeq();
    this.#deps.fanout.noteFullPass(seq, trigger);
    if (this.#journal !== undefined) {
      this.#journal.append({ seq, paths: [''], replica: hashName(lane.id), at: this.#deps.clock.now() });
      this.#journal.setMark(lane.id, seq - 1);
    }
    lane.addFull(seq);
  }

  /** A replica whose root was emptied under it (batch-runner.ts): seeded again, journaled. */
  reseed(id: string, reason: string): void {
    const lane = this.#deps.fanout.lanes.find((l) => l.id === id);
    if (lane !== undefined) this.fullPassFor('target-emptied', lane, reason);
  }

  /** A clean stop saves the tree's state, so the next start diffs only what changed while stopped. */
  async saveFinalSnapshot(watcher: Snapshots): Promise<boolean> {
    if (this.#journal === undefined) return false;
    return await watcher.saveSnapshot(this.#journal.snapshotFile).then(
      () => true,
      (e: Error) => {
        debug('snapshot at close failed: %s', e.message);
        return false;
      },
    );
  }

  stopSnapshots(): void {
    this.#cancelSnapshots?.();
  }

  /** Only a stop whose snapshot was saved and whose state was all written is recorded as clean. */
  close(snapshotSaved: boolean): void {
    this.#journal?.close({ clean: snapshotSaved && !this.#stateBroken });
  }

  #armSnapshots(watcher: Snapshots, journal: Journal): void {
    if (!this.#deps.running()) return;
    this.#cancelSnapshots = this.#deps.clock.after(SNAPSHOT_EVERY_MS, () => {
      if (!this.#deps.running()) return;
      watcher.saveSnapshot(journal.snapshotFile).then(
        () => this.#armSnapshots(watcher, journal),
        (e: Error) => {
          debug('snapshot failed: %s', e.message);
          this.#armSnapshots(watcher, journal);
        },
      );
    });
  }

  /**
   * Compaction follows the slowest watermark, so a replica down for long would keep the journal
   * growing: past `journalLimitBytes` behind, that replica gets a full pass instead of its records.
   */
  #compactJournal(): void {
    const journal = this.#journal;
    if (journal === undefined || !journal.compactionDue) return;
    const lanes = this.#deps.fanout.lanes;
    const ids = lanes.map((lane) => lane.id);
    for (const id of journal.behindBeyond(ids)) {
      debug('%s: more than %d bytes of journal behind, a full pass replaces its records', id, this.#deps.journalLimitBytes);
      this.fullPassFor('journal-overflow', lanes.find((lane) => lane.id === id)!);
    }
    journal.compact(ids);
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
        const err = new MirrorError(
          'ERR_STATE',
          `Cannot ${what} in the state directory: ${(e as Error).message}. Changes still flow; the next start reconciles every replica. Free space there or fix its permissions.`,
          { path: this.#deps.stateDir, cause: e },
        );
        this.#deps.problem({ replica: '', code: err.code, message: err.message });
        this.#deps.report(err);
      }
      this.#stateBroken = true;
    }
  }
}

/**
 * One lane per replica, and every delivery of changes handed to all of them under one sequence
 * number. Replicas are independent (README, How it works): a lane that is down or failed only
 * changes its own state; flush() waits per lane, and can stop waiting for the ones that are down.
 *
 * Nothing is lost (README, How it works): with a state directory, each delivery is written to the journal
 * (the `DeliveryLog`, sync/recovery.ts) before any lane has it, and a lane's confirmations move
 * that replica's durable watermark.
 */
import type { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import type { Clock } from '../core/schedule.js';
import { Lane, type BatchExecutor, type BatchOutcome, type LaneTiming } from './lane.js';
import { repairedSample, type BackgroundTrigger } from './drift.js';
import type { FullPassReason, LastFullPass, MirrorEvents, ProblemEvent, Replica, ReplicaStatus, RestartBacklog, RestartBacklogEvent, StartResult, SyncedEvent } from '../types.js';

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

/** What makes deliveries durable (sync/recovery.ts). None of these throws. */
export interface DeliveryLog {
  /** Before any lane has the delivery `seq`. */
  append(seq: number, paths: string[]): void;
  /** After every lane has it. */
  delivered(): void;
  /** Every change with a seq ≤ `seq` is on this replica. */
  confirmed(replicaId: string, seq: number): void;
  /** What this replica still lacks from before the restart (ReplicaStatus.restartBacklog). */
  owed?(replicaId: string): RestartBacklog | undefined;
}

export interface FanoutDeps {
  /** The batch executor of one replica (built by the Mirror: transport, excludes, events). */
  makeExecute(replica: Replica): BatchExecutor;
  /** The start-up check of one replica (sync/runners.ts); without it a lane starts idle, unchecked. */
  makeCheck?(replica: Replica): () => Promise<BatchOutcome>;
  timing: LaneTiming;
  clock: Clock;
  /** Where the lanes' state changes go: the Mirror. */
  events: Pick<EventEmitter<MirrorEvents>, 'emit'>;
  /** An error for the Mirror's 'error' listeners (a failure that needs a human). */
  report(err: MirrorError): void;
  /** The last seq a previous run used (the journal's): this run continues above it. */
  lastSeq: number;
  /** Picks each lane's share of a drift pass's spread (tests make it predictable). */
  random?: () => number;
}

const debug = createDebug('fam-mirror:drift');

export class Fanout {
  readonly #deps: FanoutDeps;
  #lanes: Lane[] = [];
  #seq: number;
  #sent = new Map<string, { files: number; bytes: number }>();
  /** Why each live full pass was queued, by its seq (few: full passes are rare; the oldest go first). */
  #fullReasons = new Map<number, FullPassReason>();
  #lastFullPass = new Map<string, LastFullPass>();
  #log: DeliveryLog | undefined;

  constructor(deps: FanoutDeps) {
    this.#deps = deps;
    this.#seq = deps.lastSeq;
  }

  /** Makes every delivery from now on durable (sync/recovery.ts). */
  useLog(log: DeliveryLog): void {
    this.#log = log;
  }

  /**
   * What a seed (a full pass, flushed with healthyOnly) did: every replica that can be reached was
   * seeded; one that is down gets its seed when back; one that needs a human is failed with its code
   * while the others run. Only when every replica failed does the start fail (nothing could be seeded).
   */
  seedOutcome(flushed: FlushResult): StartResult {
    const failedLanes = this.#lanes.filter((lane) => lane.status().state === 'failed');
    if (failedLanes.length > 0 && failedLanes.length === this.#lanes.length) {
      const first = failedLanes[0]!;
      throw first.lastError ?? new MirrorError('ERR_RSYNC_FATAL', `Replica ${first.id} failed while seeding.`);
    }
    const failed = failedLanes.map((lane) => ({ replica: lane.id, code: lane.lastError?.code ?? ('ERR_RSYNC_FATAL' as const) }));
    const failedIds = new Set(failed.map((f) => f.replica));
    return {
      seeded: this.#lanes.map((l) => l.id).filter((id) => !flushed.behind.includes(id)),
      unseeded: flushed.behind.filter((id) => !failedIds.has(id)),
      failed,
    };
  }

  get lanes(): readonly Lane[] {
    return this.#lanes;
  }

  /** The seq of the last delivery. */
  get seq(): number {
    return this.#seq;
  }

  /** A seq for a delivery that is not for every lane (a full pass of one replica). */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** One delivery of changes: logged first (when durable), then into every replica's backlog. A full pass (`['']`) says why. */
  dispatch(paths: string[], reason?: FullPassReason): void {
    const seq = ++this.#seq;
    if (reason !== undefined) this.noteFullPass(seq, reason);
    this.#log?.append(seq, paths);
    for (const lane of this.#lanes) lane.add(paths, seq);
    this.#log?.delivered();
  }

  /** A drift pass for every lane (sync/drift.ts), each at its own random delay below `spreadMs`. */
  drift(trigger: BackgroundTrigger, spreadMs: number): void {
    const random = this.#deps.random ?? Math.random;
    for (const lane of this.#lanes) lane.drift(trigger, Math.floor(random() * spreadMs));
  }

  add(replica: Replica): Lane {
    const lane = this.#makeLane(replica);
    this.#lanes.push(lane);
    return lane;
  }

  /** Takes out the lanes whose replica is not in `keep`; the caller closes them. */
  detach(keep: ReadonlySet<string>): Lane[] {
    const removed = this.#lanes.filter((lane) => !keep.has(lane.id));
    this.#lanes = this.#lanes.filter((lane) => keep.has(lane.id));
    return removed;
  }

  /** A replica behind after a restart (listed once), or caught up with it (sync/recovery.ts). */
  restartBacklog(event: RestartBacklogEvent): void {
    this.#deps.events.emit('restart-backlog', event);
  }

  /** Why the full pass with this seq was queued, for its synced event and the status. */
  noteFullPass(seq: number, reason: FullPassReason): void {
    this.#fullReasons.set(seq, reason);
    if (this.#fullReasons.size > 1000) this.#fullReasons.delete(this.#fullReasons.keys().next().value!);
  }

  fullReason(seq: number): FullPassReason | undefined {
    return this.#fullReasons.get(seq);
  }

  countSent(replicaId: string, synced: SyncedEvent): void {
    if (synced.full && synced.reason !== undefined) {
      const at = this.#deps.clock.now();
      this.#lastFullPass.set(replicaId, { reason: synced.reason, at, repaired: synced.changed ?? 0, sample: repairedSample(synced.sample ?? []) });
    }
    const sent = this.#sent.get(replicaId) ?? { files: 0, bytes: 0 };
    this.#sent.set(replicaId, { files: sent.files + synced.files, bytes: sent.bytes + synced.bytes });
  }

  status(): ReplicaStatus[] {
    return this.#lanes.map((lane) => {
      const sent = this.#sent.get(lane.id) ?? { files: 0, bytes: 0 };
      const owed = this.#log?.owed?.(lane.id);
      const last = this.#lastFullPass.get(lane.id);
      return { ...lane.status(), filesSent: sent.files, bytesSent: sent.bytes, ...(owed === undefined ? {} : { restartBacklog: owed }), ...(last === undefined ? {} : { lastFullPass: last }) };
    });
  }

  /**
   * Resolves when every lane has every change delivered before `barrier` (the watcher's: every event
   * before the call) resolved. The deadline covers the barrier too: a watcher being replaced can
   * take a while.
   */
  async flush(opts: FlushOptions, barrier: () => Promise<void>): Promise<FlushResult> {
    const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    const done = new Set<string>();
    const inTime = await withDeadline(barrier(), deadline);
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

  /** Stops every lane: the batches in flight finish, nothing new starts. */
  async close(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.close()));
  }

  #makeLane(replica: Replica): Lane {
    const { events, report } = this.#deps;
    const listener = {
      onConfirmed: (seq: number) => this.#log?.confirmed(replica.id, seq),
      onDown: (error: MirrorError) => {
        events.emit('replica-down', { replica: replica.id, error });
        events.emit('problem', problemOf(replica.id, error));
      },
      onUp: () => events.emit('replica-up', { replica: replica.id }),
      onDrift: (reason: BackgroundTrigger, outcome: BatchOutcome) => {
        const repaired = outcome.changed ?? 0;
        const sample = repairedSample(outcome.sample ?? []);
        if (repaired === 0) debug('%s: %s drift pass found nothing to repair', replica.id, reason);
        else debug('%s: %s drift pass repaired %d paths, e.g. %o', replica.id, reason, repaired, sample);
        events.emit('repaired', { replica: replica.id, reason, repaired, sample });
      },
      onFailed: (error: MirrorError, wasUp: boolean) => {
        if (wasUp) events.emit('replica-down', { replica: replica.id, error });
        events.emit('problem', problemOf(replica.id, error));
        report(error);
      },
    };
    // A retry of a replica already down (or failed) that fails another way than its last failure is
    // news, once per change: a 'problem' with the new code. Failing the same way again is not.
    let lane: Lane | undefined;
    const watched =
      <A extends unknown[]>(run: (...args: A) => Promise<BatchOutcome>) =>
      async (...args: A): Promise<BatchOutcome> => {
        const outcome = await run(...args);
        const state = lane?.status().state;
        const last = lane?.lastError;
        if (outcome.error !== undefined && outcome.verdict === 'retry' && (state === 'down' || state === 'failed') && last !== undefined && last.code !== outcome.error.code) {
          events.emit('problem', problemOf(replica.id, outcome.error));
        }
        return outcome;
      };
    const check = this.#deps.makeCheck?.(replica);
    lane = new Lane(replica.id, watched(this.#deps.makeExecute(replica)), this.#deps.timing, this.#deps.clock, listener, check === undefined ? undefined : watched(check));
    return lane;
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

function problemOf(replica: string, error: MirrorError): ProblemEvent {
  const event: ProblemEvent = { replica, code: error.code, message: error.message };
  if (error.exitCode !== undefined) event.exitCode = error.exitCode;
  return event;
}

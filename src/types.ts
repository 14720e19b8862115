import type { MirrorError, MirrorErrorCode } from './errors.js';
import type { ReconcileTrigger } from './core/reconcile-triggers.js';

/**
 * Why a full pass ran: a trigger of core/reconcile-triggers.ts (`seed`, `burst`, `watcher-error`,
 * `drift-periodic`, `replica-added`, …), or `resumed`: journaled before a restart, not yet confirmed.
 */
export type FullPassReason = ReconcileTrigger | 'resumed';

/** A replica after parsing: either a plain local directory (local rsync) or a directory on an ssh host. */
export type Replica = LocalReplica | SshReplica;

export interface LocalReplica {
  kind: 'local';
  /** Stable display name, also the key of its lane. */
  id: string;
  path: string;
}

export interface SshReplica {
  kind: 'ssh';
  id: string;
  host: string;
  port: number;
  /** Undefined: the mirror's default user (the local user name, as OpenSSH does). */
  user: string | undefined;
  path: string;
}

/** What the replica-spec parser returns: `path` is undefined for a bare `host` (same path as the source). */
export type ParsedReplicaSpec = LocalReplica | (Omit<SshReplica, 'path' | 'id'> & { path: string | undefined });

export interface SyncedEvent {
  replica: string;
  /** Paths listed to rsync (after folding); 0 for a full pass. */
  paths: number;
  /** Of those, paths that were gone at plan time (deletions). */
  deleted: number;
  full: boolean;
  durationMs: number;
  /** Regular files whose data rsync sent, and the bytes it reports for the batch. */
  files: number;
  bytes: number;
  /** Full passes only: entries rsync changed (itemized lines); on an in-step replica, what events missed. */
  changed?: number;
  /** Full passes only: the first itemized lines, e.g. `>f+++++++++ lost/file`. */
  sample?: string[];
  /** The batch went over the fast path (SFTP and a long-lived shell, README.md "How it works"), not rsync. */
  fast?: true;
  /** Full passes only: why it ran. */
  reason?: FullPassReason;
}

/** The last full pass that ran to its end on a replica (ReplicaStatus.lastFullPass). */
export interface LastFullPass {
  reason: FullPassReason;
  /** Epoch ms when it ended. */
  at: number;
  /** Entries it changed or deleted on the replica (0: nothing to repair). */
  repaired: number;
  /** Up to 10 of their paths. */
  sample: string[];
}

export interface ProblemEvent {
  replica: string;
  code: MirrorErrorCode;
  message: string;
  path?: string;
  exitCode?: number;
}

export interface ReplicaStateEvent {
  replica: string;
  error?: MirrorError;
}

/** A batch as a dry run saw it (option dryRun): nothing was sent. */
export interface PlannedEvent {
  replica: string;
  /** The rsync argv that would run (without -n). Paths are never in it. */
  args: string[];
  /** Paths listed to rsync on stdin, or 'full' for a full pass. */
  paths: string[] | 'full';
  /** What rsync reports it would change (itemized; at most 200 lines). */
  items: string[];
  /** Of all rsync's itemized lines (not only those kept): entries it would change, files it would send, entries it would delete. */
  changes: number;
  files: number;
  deletions: number;
}

/** A full pass (seed, reconcile) under way on one replica, as rsync reports it. */
export interface ProgressEvent {
  replica: string;
  /** Bytes of the tree handled so far (sent or found up to date). */
  bytes: number;
  /** rsync's percent of the file list known so far: it can drop while listComplete is false. */
  percent: number;
  /** rsync's rendering of the rate (its kB/MB are powers of 1024), and the same in bytes per second. */
  rate: string;
  bytesPerSec: number;
  /** rsync's estimate of the time left (h:mm:ss), of the list known so far. */
  eta: string;
  filesDone?: number;
  filesTotal?: number;
  /** rsync has its whole file list: percent, eta and filesTotal no longer move backwards. Absent when the record does not say. */
  listComplete?: boolean;
  /** Files whose data was sent so far. */
  filesSent: number;
}

/** What a replica answered to its start-up check (Transport.check()). */
export interface ReplicaCheck {
  /** The version of rsync there, e.g. "3.2.7". */
  rsyncVersion: string;
  /** The target directory, as the replica spec names it. */
  path: string;
  /** The check made it (its parent existed). */
  created: boolean;
}

/** The end of one attempt at a replica's start-up check: its answer, or why it has none. */
export interface ReplicaCheckedEvent {
  replica: string;
  /** 1 for the check at start; more for its retries (a replica down or failed at start). */
  attempt: number;
  check?: ReplicaCheck;
  error?: MirrorError;
}

/**
 * A drift pass (a background full pass, on by default: reconcileIntervalSec) ran to its end on one
 * replica: what it found changed there behind the mirror's back and put right. `repaired` 0: nothing.
 */
export interface RepairedEvent {
  replica: string;
  /** Why it ran: once after start-up and catch-up, or the periodic pass. */
  reason: 'drift-startup' | 'drift-periodic';
  /** Entries rsync changed or deleted on the replica. */
  repaired: number;
  /** Up to 10 of their paths. */
  sample: string[];
}

/**
 * Something at start-up that is allowed but likely wrong; the mirror runs on. WARN_TARGET_CREATED: a
 * replica's target did not exist and was created without initMirror (it gets only the changes from
 * now on); WARN_STATE_READABLE: state others on this machine can read; WARN_SOURCE_NETWORK_FS: the
 * source is on a network file system, whose other clients' writes inotify does not see.
 */
export type MirrorWarningCode = 'WARN_TARGET_CREATED' | 'WARN_STATE_READABLE' | 'WARN_SOURCE_NETWORK_FS';

export interface WarningEvent {
  code: MirrorWarningCode;
  message: string;
  replica?: string;
  path?: string;
}

export interface MirrorEvents {
  'replica-checked': [ReplicaCheckedEvent];
  'restart-backlog': [RestartBacklogEvent];
  progress: [ProgressEvent];
  synced: [SyncedEvent];
  repaired: [RepairedEvent];
  planned: [PlannedEvent];
  problem: [ProblemEvent];
  warning: [WarningEvent];
  error: [MirrorError];
  'replica-down': [ReplicaStateEvent];
  'replica-up': [ReplicaStateEvent];
}

/**
 * checking: just added, its start-up check (connect, rsync there, target directory) under way;
 * idle/syncing: in step; down: retrying with backoff; failed: needs a human (retried slowly);
 * catching-up: back, draining its backlog; closed: the mirror was closed (nothing is sent any more).
 */
export type LaneState = 'checking' | 'idle' | 'syncing' | 'catching-up' | 'down' | 'failed' | 'closed';

export interface ReplicaStatus {
  replica: string;
  state: LaneState;
  /** Dirty paths waiting or in flight (a full pass counts as one). */
  backlog: number;
  /** Seconds since the oldest change this replica does not have yet was seen; 0 when in step. */
  lagSec: number;
  /** Epoch ms of the last successful batch. */
  lastSuccessAt: number | undefined;
  /** Message of the last failure (kept after recovery, for the record). */
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  syncs: number;
  /** Paths this replica could not be given (rsync named them; retried slowly); see Mirror.flush(). */
  problems: number;
  filesSent: number;
  bytesSent: number;
  /**
   * What this replica still lacks from before the last restart (the journal's records above its
   * watermark), until it has it; undefined when it lacks nothing from then.
   */
  restartBacklog?: RestartBacklog;
  /** Why the last full pass ran, when it ended and what it repaired; undefined before the first. */
  lastFullPass?: LastFullPass;
}

/** The changes a replica was owed when the mirror restarted (sync/recovery.ts). */
export interface RestartBacklog {
  /** Journaled paths it lacks ('' for a full pass counts as one). */
  changes: number;
  /** The seq of the oldest of them, and of the newest: it has them all once confirmed up to `upToSeq`. */
  oldestSeq: number;
  upToSeq: number;
  /** Epoch ms when the oldest of them was journaled. */
  oldestAt?: number;
}

/** A replica behind after a restart (listed once at start), or caught up with that backlog (`cleared`). */
export interface RestartBacklogEvent extends RestartBacklog {
  replica: string;
  cleared: boolean;
}

/** One replica compared with the source by Mirror.verify(). */
export interface VerifyResult {
  replica: string;
  identical: boolean;
  /** rsync itemize lines, e.g. `>fc.t...... www/index.html` or `*deleting   stale.txt`; at most 1,000. */
  differences: string[];
  /** Differences beyond those listed. */
  more: number;
}

/** What start() did: with initMirror, whose seed is confirmed and who is still without one. */
export interface StartResult {
  /** Replicas whose seed (a full pass) completed; empty without initMirror. */
  seeded: string[];
  /** Replicas down while seeding: each gets its seed when back. Empty without initMirror. */
  unseeded: string[];
  /**
   * Replicas that need a human (a wrong host key or login, no rsync there, a fenced or owned target…),
   * with the code of their error; they are `failed` in status() while the others run. start() rejects
   * instead when every replica failed. Empty without initMirror.
   */
  failed: Array<{ replica: string; code: MirrorErrorCode }>;
}

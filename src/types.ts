import type { MirrorError, MirrorErrorCode } from './errors.js';

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
export type ParsedReplicaSpec =
  | LocalReplica
  | (Omit<SshReplica, 'path' | 'id'> & { path: string | undefined });

export interface SyncedEvent {
  replica: string;
  /** Paths listed to rsync (after folding); 0 for a full pass. */
  paths: number;
  /** Of those, paths that were gone at plan time (deletions). */
  deleted: number;
  full: boolean;
  durationMs: number;
  /** Full passes only: entries rsync changed (itemized lines); on an in-step replica, what events missed. */
  changed?: number;
  /** Full passes only: the first itemized lines, e.g. `>f+++++++++ lost/file`. */
  sample?: string[];
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

export interface MirrorEvents {
  synced: [SyncedEvent];
  problem: [ProblemEvent];
  error: [MirrorError];
  'replica-down': [ReplicaStateEvent];
  'replica-up': [ReplicaStateEvent];
}

/** idle/syncing: in step; down: retrying with backoff; failed: needs a human (retried slowly); catching-up: back, draining its backlog. */
export type LaneState = 'idle' | 'syncing' | 'catching-up' | 'down' | 'failed';

export interface ReplicaStatus {
  replica: string;
  state: LaneState;
  backlog: number;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  syncs: number;
}

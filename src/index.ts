export { Mirror, type FlushOptions, type FlushResult, type StartResult } from './mirror.js';
export { MirrorGroup, type MirrorGroupOptions, type GroupReconfigureResult } from './mirror-group.js';
export { parseWatchList, type WatchRoot } from './core/watch-list.js';
export { MirrorError, isMirrorError, type MirrorErrorCode } from './errors.js';
export { parseReplicaSpec } from './replica-spec.js';
export type { MirrorOptions } from './options.js';
export type {
  MirrorEvents,
  PlannedEvent,
  ProgressEvent,
  SyncedEvent,
  FullPassReason,
  LastFullPass,
  RepairedEvent,
  ProblemEvent,
  ReplicaStateEvent,
  ReplicaStatus,
  Replica,
  LaneState,
} from './types.js';
export type { VerifyResult } from './rsync/verify.js';
export { formatMetrics } from './core/metrics.js';
export { ConnectionPool } from './transport/pool.js';

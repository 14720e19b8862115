export { Mirror, type FlushOptions, type FlushResult, type StartResult } from './mirror.js';
export { MirrorGroup, type MirrorGroupOptions, type GroupReconfigureResult } from './mirror-group.js';
export { parseWatchList, type WatchRoot } from './core/watch-list.js';
export { MirrorError, isMirrorError, type MirrorErrorCode, type MirrorErrorDetails } from './errors.js';
export { parseReplicaSpec } from './replica-spec.js';
export type { MirrorOptions, NormalizedOptions } from './options.js';
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
  ReplicaCheckedEvent,
  ReplicaCheck,
  RestartBacklogEvent,
  RestartBacklog,
  ReplicaStatus,
  Replica,
  LocalReplica,
  SshReplica,
  ParsedReplicaSpec,
  LaneState,
  VerifyResult,
  WarningEvent,
  MirrorWarningCode,
} from './types.js';
export { formatMetrics } from './core/metrics.js';

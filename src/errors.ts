/**
 * The one error class of fam-mirror. Every failure the library reports carries a stable `code`
 * (callers switch on it; messages may be reworded) and, where it applies, the replica host, the
 * path, rsync's exit code and a bounded tail of its stderr. Messages say what failed first and
 * what to do last.
 */
export type MirrorErrorCode =
  | 'ERR_OPTIONS'
  | 'ERR_CONFIG'
  | 'ERR_WATCH_LIST'
  | 'ERR_SOURCE_MISSING'
  | 'ERR_SOURCE_NOT_DIR'
  | 'ERR_SOURCE_IS_ROOT'
  | 'ERR_REPLICA_SPEC'
  | 'ERR_REPLICA_DUPLICATE'
  | 'ERR_REPLICA_LOOP'
  | 'ERR_HOST_KEY_UNKNOWN'
  | 'ERR_HOST_KEY_CHANGED'
  | 'ERR_HOST_KEY_REVOKED'
  | 'ERR_HOST_KEY_UNCHECKED'
  | 'ERR_SSH_AUTH'
  | 'ERR_SSH_CONNECT'
  | 'ERR_SSH_NO_IDENTITY'
  | 'ERR_SSH_CONFIG'
  | 'ERR_RSYNC_MISSING'
  | 'ERR_RSYNC'
  | 'ERR_RSYNC_FATAL'
  | 'ERR_RSYNC_PATH'
  | 'ERR_TARGET_MISSING'
  | 'ERR_TARGET_UNUSABLE'
  | 'ERR_SOURCE_VANISHED'
  | 'ERR_SOURCE_EMPTY'
  | 'ERR_REPLICA_FENCED'
  | 'ERR_REPLICA_OWNED'
  | 'ERR_TARGET_UNMOUNTED'
  | 'ERR_TARGET_EMPTIED'
  | 'ERR_STATE'
  | 'ERR_STATE_DAMAGED'
  | 'ERR_STATE_UNCLEAN'
  | 'ERR_EXCLUDE_FILE'
  | 'ERR_WATCH'
  | 'ERR_WATCH_LIMIT'
  | 'ERR_METRICS_PORT'
  | 'ERR_STDOUT_CLOSED'
  | 'ERR_CLOSED'
  | 'ERR_STARTED'
  | 'ERR_NOT_STARTED';

export interface MirrorErrorDetails {
  host?: string;
  path?: string;
  exitCode?: number;
  stderr?: string;
  cause?: unknown;
}

export class MirrorError extends Error {
  readonly code: MirrorErrorCode;
  readonly host?: string;
  readonly path?: string;
  readonly exitCode?: number;
  readonly stderr?: string;

  constructor(code: MirrorErrorCode, message: string, details: MirrorErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MirrorError';
    this.code = code;
    if (details.host !== undefined) this.host = details.host;
    if (details.path !== undefined) this.path = details.path;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.stderr !== undefined) this.stderr = details.stderr;
  }
}

export function isMirrorError(err: unknown, code?: MirrorErrorCode): err is MirrorError {
  return err instanceof MirrorError && (code === undefined || err.code === code);
}

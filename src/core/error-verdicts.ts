/**
 * What each error code means for whoever meets it: `retry` (the mirror gets past it by itself:
 * backoff, reconnect, a full pass) or `needs-a-human` (nothing heals until someone fixes the cause:
 * an option, a host key, a login, a missing program). A `Record` over the whole union, so a new
 * code cannot be added to src/errors.ts without a verdict here. Pure.
 *
 * A lane meets few of them (a failed connect: sync/batch-runner.ts); a code that needs a human
 * there makes its batch `fatal`: reported as failed, and still retried slowly, so the lane heals
 * once the setup is fixed. rsync's exit codes have their own table (rsync/args.ts, EXIT_VERDICTS).
 */
import type { MirrorErrorCode } from '../errors.js';

export type CodeVerdict = 'retry' | 'needs-a-human';

export const CODE_VERDICTS = {
  // Bad input: start() or the CLI refuses it, and says what to change.
  ERR_OPTIONS: 'needs-a-human',
  ERR_CONFIG: 'needs-a-human',
  ERR_SOURCE_MISSING: 'needs-a-human',
  ERR_SOURCE_NOT_DIR: 'needs-a-human',
  ERR_SOURCE_IS_ROOT: 'needs-a-human',
  ERR_REPLICA_SPEC: 'needs-a-human',
  ERR_REPLICA_DUPLICATE: 'needs-a-human',
  ERR_REPLICA_LOOP: 'needs-a-human',
  ERR_EXCLUDE_FILE: 'needs-a-human',
  ERR_RSYNC_MISSING: 'needs-a-human',
  ERR_WATCH_LIMIT: 'needs-a-human',
  ERR_WATCH_LIST: 'needs-a-human',
  // A host key or a login that does not check out: retrying the same key cannot help.
  ERR_HOST_KEY_UNKNOWN: 'needs-a-human',
  ERR_HOST_KEY_CHANGED: 'needs-a-human',
  ERR_HOST_KEY_REVOKED: 'needs-a-human',
  ERR_SSH_AUTH: 'needs-a-human',
  ERR_SSH_NO_IDENTITY: 'needs-a-human',
  // An ssh config file that cannot be read or says something unusable (file:line in the message).
  ERR_SSH_CONFIG: 'needs-a-human',
  // A warning the user opted into (an unchecked host key): the connection goes on.
  ERR_HOST_KEY_UNCHECKED: 'retry',
  // The host is away or slow: reconnects with backoff.
  ERR_SSH_CONNECT: 'retry',
  ERR_RSYNC: 'retry',
  // rsync said the replica's setup is wrong (its exit table): retried slowly all the same.
  ERR_RSYNC_FATAL: 'needs-a-human',
  // The replica's target directory: its parent is missing (nothing creates more than the last
  // component), or it is not a directory, or it is not writable.
  ERR_TARGET_MISSING: 'needs-a-human',
  ERR_TARGET_UNUSABLE: 'needs-a-human',
  // Named paths only: the rest is in step, these are retried every retryMaxMs.
  ERR_RSYNC_PATH: 'retry',
  // Held back until the source is back (an unmounted disk), retried with backoff.
  ERR_SOURCE_VANISHED: 'retry',
  ERR_SOURCE_EMPTY: 'retry',
  // The replica refuses this master (core/replica-guard.ts): fenced by a failover, fed by another
  // master, or its file system unmounted. Nothing is written until someone unfences, releases or
  // mounts it; the lane checks again slowly and heals by itself then.
  ERR_REPLICA_FENCED: 'needs-a-human',
  ERR_REPLICA_OWNED: 'needs-a-human',
  ERR_TARGET_UNMOUNTED: 'needs-a-human',
  // The replica root vanished or was emptied (re-imaged): answered with a full pass of that replica.
  ERR_TARGET_EMPTIED: 'retry',
  // The state directory cannot be written (full, read-only): changes still flow, but nothing is
  // durable until someone frees space or fixes its permissions.
  ERR_STATE: 'needs-a-human',
  // State that does not check out, or a stop that was not clean: answered with a full pass.
  ERR_STATE_DAMAGED: 'retry',
  ERR_STATE_UNCLEAN: 'retry',
  // The watcher replaces a failed subscription itself and asks for a full pass once back.
  ERR_WATCH: 'retry',
  // The command's own edges: the metrics address cannot be served (in use, not allowed), or
  // stdout's reader went away; neither comes back by itself.
  ERR_METRICS_PORT: 'needs-a-human',
  ERR_STDOUT_CLOSED: 'needs-a-human',
  // A connection closed under a batch: the mirror is closing (the lane with it) or it reconnects.
  ERR_CLOSED: 'retry',
  // A method called in the wrong phase (core/lifecycle.ts): the caller's code has to change.
  ERR_STARTED: 'needs-a-human',
  ERR_NOT_STARTED: 'needs-a-human',
} as const satisfies Record<MirrorErrorCode, CodeVerdict>;

export function codeVerdict(code: MirrorErrorCode): CodeVerdict {
  return CODE_VERDICTS[code];
}

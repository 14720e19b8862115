/**
 * What README.md says about every event of a Mirror and every state of a replica, checked against
 * src/types.ts by `satisfies`: an event or state added there without a line here fails the type
 * check, and `npm run docs:options` writes these tables into README.md. Pure data.
 */
import type { LaneState, MirrorEvents } from '../types.js';

export const EVENT_DOCS = {
  'replica-checked': "`{ replica, attempt, check?, error? }`: a replica's start-up check (connection, rsync there, target directory) ended; `check` is `{ rsyncVersion, path, created }`",
  'restart-backlog': '`{ replica, changes, oldestSeq, upToSeq, oldestAt?, cleared }`: what a replica lacks from before a restart (listed at start), and `cleared` once it has it',
  progress: '`{ replica, bytes, percent, rate, eta, filesDone?, filesTotal?, filesSent }`: a full pass (seed, reconcile) under way, as rsync reports it',
  synced: '`{ replica, paths, deleted, full, durationMs, files, bytes, changed?, sample? }`: a batch reached a replica (never said in a dry run)',
  repaired: '`{ replica, reason, repaired, sample }`: a drift pass ran to its end; `reason` `drift-startup` or `drift-periodic`, `repaired` entries changed (0: none)',
  planned: '`{ replica, args, paths, items }`: with `dryRun`, a batch as it would run (rsync argv, listed paths or `full`, what rsync would change); nothing was sent',
  problem: '`{ replica, code, message, path?, exitCode? }`: a path a replica could not be given, or a warning about a connection; the replica goes on',
  warning:
    "`{ code, message, replica?, path? }`: at start, something allowed but likely wrong: `WARN_TARGET_CREATED` (a replica target did not exist and was created without `initMirror`: is this the right path?), `WARN_STATE_READABLE` (state others can read), `WARN_SOURCE_NETWORK_FS` (inotify misses the writes of other clients of the source's file system)",
  error: 'a `MirrorError` that concerns the whole mirror (a watcher failure); emitted only when listened to',
  'replica-down': '`{ replica, error? }`: a replica became unreachable (retried with backoff) or failed (needs a human: `error.code` says why)',
  'replica-up': '`{ replica }`: a replica that was down or failed answers again (it catches up)',
} as const satisfies Record<keyof MirrorEvents, string>;

export const STATE_DOCS = {
  checking: 'just added: its start-up check (connect, rsync there, target directory) is under way; nothing is sent to it yet, changes are kept',
  idle: 'in step: has every change seen so far',
  syncing: 'an rsync to it is running',
  'catching-up': 'back after being down, or behind after a restart: draining its backlog',
  down: 'unreachable or failing: retried with backoff; its changes are kept (and journaled with a state directory)',
  failed: 'needs a human (host key, login, no rsync there, target, a replica guard): retried slowly; `lastError` says why',
  closed: 'the mirror was closed: nothing is sent any more',
} as const satisfies Record<LaneState, string>;

/** README.md's events and states tables (Markdown). */
export function eventsMarkdown(): string {
  const lines = ['| event | payload and meaning |', '| --- | --- |'];
  for (const [name, doc] of Object.entries(EVENT_DOCS)) lines.push(`| \`${name}\` | ${doc.replace(/\|/g, '\\|')} |`);
  lines.push('', '| replica state | meaning |', '| --- | --- |');
  for (const [name, doc] of Object.entries(STATE_DOCS)) lines.push(`| \`${name}\` | ${doc.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

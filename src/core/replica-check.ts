/**
 * The start-up check of one replica (Transport.check()), the part that is the same for every
 * transport: what the host's answer about rsync and the target directory means, and the error a
 * human needs. The transports gather the facts (a local stat and mkdir, or one remote `sh` command
 * over the open connection); this turns them into a ReplicaCheck or a MirrorError. Pure.
 */
import { MirrorError } from '../errors.js';
import type { ReplicaCheck } from '../types.js';

/**
 * What the host found at the target: a writable directory (`ok`), one it just made (`created`, its
 * parent existed: rsync's --mkpath for the last component only), one it would make (`would-create`,
 * a dry run makes nothing), or why it cannot be used.
 */
export type TargetAnswer = 'ok' | 'created' | 'would-create' | 'unwritable' | 'not-a-directory' | 'no-parent';
export const TARGET_ANSWERS = ['ok', 'created', 'would-create', 'unwritable', 'not-a-directory', 'no-parent'] as const satisfies readonly TargetAnswer[];

/** The version in rsync's first `--version` line ("rsync  version 3.2.7  protocol version 31"). */
export function rsyncVersion(firstLine: string): string | undefined {
  return /\bversion\s+v?(\d[^\s,]*)/.exec(firstLine)?.[1];
}

export interface CheckFacts {
  replica: string;
  /** The host named in errors; undefined for a local replica. */
  host: string | undefined;
  path: string;
  /** How rsync is started there (the rsync path, or remoteRsyncPath). */
  rsyncCommand: string;
  /** rsync's first `--version` line; undefined when it did not run. */
  versionLine: string | undefined;
  target: TargetAnswer;
}

/** The check's result, or the MirrorError that says what is wrong and what to do. */
export function judgeCheck(f: CheckFacts): ReplicaCheck {
  const where = f.host === undefined ? 'on this machine' : `on ${f.host}`;
  const details = { host: f.host, path: f.path };
  const version = f.versionLine === undefined ? undefined : rsyncVersion(f.versionLine);
  if (version === undefined) {
    const what = f.versionLine === undefined ? 'did not run' : `answered ${JSON.stringify(f.versionLine.slice(0, 80))}`;
    throw new MirrorError(
      'ERR_RSYNC_MISSING',
      `Replica ${f.replica}: rsync ("${f.rsyncCommand} --version") ${what} ${where}. Install rsync there, or point remoteRsyncPath (--rsync-path) at it.`,
      details,
    );
  }
  switch (f.target) {
    case 'ok':
    case 'created':
    case 'would-create':
      return { rsyncVersion: version, path: f.path, created: f.target === 'created' };
    case 'no-parent':
      throw new MirrorError(
        'ERR_TARGET_MISSING',
        `Replica ${f.replica}: the target directory ${f.path} does not exist ${where}, nor does its parent (only the last component is created). Create it, or correct the replica's path.`,
        details,
      );
    case 'not-a-directory':
      throw new MirrorError('ERR_TARGET_UNUSABLE', `Replica ${f.replica}: the target ${f.path} ${where} is not a directory. Move it away, or correct the replica's path.`, details);
    case 'unwritable':
      throw new MirrorError(
        'ERR_TARGET_UNUSABLE',
        `Replica ${f.replica}: the target directory ${f.path} ${where} cannot be written (or created) by this user. Fix its permissions, or log in as its owner.`,
        details,
      );
  }
}

/**
 * A replica that is a plain directory of this machine: local rsync, moves and stats done here.
 * Nothing to connect to and nothing held, so connect() and close() have no work.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { judgeCheck, type TargetAnswer } from '../core/replica-check.js';
import type { Rename } from '../core/plan.js';
import type { GuardSpec } from '../core/replica-guard.js';
import type { RsyncTarget } from '../rsync/args.js';
import type { LocalReplica, ReplicaCheck } from '../types.js';
import { moveLocally } from './replica-moves.js';
import { runLocalGuard } from './local-guard.js';
import { runRsync, type RsyncRun, type RunOptions } from './run-rsync.js';
import type { ReplicaRoot, Transport } from './transport.js';

export class LocalTransport implements Transport {
  readonly replica: LocalReplica;
  readonly target: RsyncTarget;
  readonly host = undefined;
  readonly #rsyncPath: string;

  constructor(replica: LocalReplica, rsyncPath: string) {
    this.replica = replica;
    this.target = { path: replica.path };
    this.#rsyncPath = rsyncPath;
  }

  async connect(): Promise<void> {}

  async rsync(args: string[], stdin: Buffer | undefined, opts: RunOptions = {}): Promise<RsyncRun> {
    if (opts.guard !== undefined) {
      const refused = await runLocalGuard(opts.guard);
      if (refused !== undefined) return refused;
    }
    return runRsync(this.#rsyncPath, args, stdin, undefined, opts);
  }

  async move(renames: readonly Rename[], guard?: GuardSpec): Promise<void> {
    if (renames.length === 0) return;
    if (guard !== undefined && (await runLocalGuard(guard)) !== undefined) return;
    await moveLocally(this.replica.path, renames);
  }

  async check(opts: { create: boolean }): Promise<ReplicaCheck> {
    const [versionLine, target] = await Promise.all([firstVersionLine(this.#rsyncPath), localTarget(this.replica.path, opts.create)]);
    return judgeCheck({ replica: this.replica.id, host: undefined, path: this.replica.path, rsyncCommand: this.#rsyncPath, versionLine, target });
  }

  async inspectRoot(): Promise<ReplicaRoot> {
    const root = this.replica.path.replace(/\/+$/, '');
    const [self, parent] = await Promise.all([stat(root || '/').catch(() => undefined), stat(`${root}/..`).catch(() => undefined)]);
    return { exists: self !== undefined, isDirectory: self?.isDirectory() === true, device: self?.dev, parentDevice: parent?.dev };
  }

  async close(): Promise<void> {}

  logins(): undefined {
    return undefined;
  }
}

/** rsync's first `--version` line; undefined when it cannot be run. */
function firstVersionLine(rsyncPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(rsyncPath, ['--version'], { timeout: 30_000 }, (err, stdout) => resolve(err ? undefined : stdout.split('\n')[0]));
  });
}

async function localTarget(path: string, create: boolean): Promise<TargetAnswer> {
  const st = await stat(path).catch(() => undefined);
  if (st !== undefined) {
    if (!st.isDirectory()) return 'not-a-directory';
    return await access(path, constants.W_OK).then(
      () => 'ok' as const,
      () => 'unwritable' as const,
    );
  }
  // Lexically: `path/..` does not resolve while path is missing.
  const parent = await stat(dirname(resolve(path))).catch(() => undefined);
  if (parent?.isDirectory() !== true) return 'no-parent';
  if (!create) return 'would-create';
  // The last component only (rsync's --mkpath would make every missing parent too).
  return await mkdir(path).then(
    () => 'created' as const,
    (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? localTarget(path, false) : 'unwritable'),
  );
}

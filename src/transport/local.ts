/**
 * A replica that is a plain directory of this machine: local rsync, moves and stats done here.
 * Nothing to connect to and nothing held, so connect() and close() have no work.
 */
import { stat } from 'node:fs/promises';
import type { Rename } from '../core/plan.js';
import type { GuardSpec } from '../core/replica-guard.js';
import type { RsyncTarget } from '../rsync/args.js';
import type { LocalReplica } from '../types.js';
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

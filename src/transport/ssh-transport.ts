/**
 * A replica on an ssh host: rsync bridged onto an exec channel of one persistent ssh2 connection
 * (run-rsync.ts), moves and stats as one small remote `sh` command each. The connection comes from
 * the shared ConnectionPool, so every replica (of every mirror) on the same `user@host:port` logs in
 * once; this transport is one user of it and releases it on close().
 */
import type { FastBatch, FastCaps } from '../core/fast-path.js';
import type { Rename } from '../core/plan.js';
import { guardCommand, type GuardSpec } from '../core/replica-guard.js';
import { shellQuote } from '../core/shell-quote.js';
import { judgeCheck, TARGET_ANSWERS, type TargetAnswer } from '../core/replica-check.js';
import { MirrorError } from '../errors.js';
import type { RsyncTarget } from '../rsync/args.js';
import type { ReplicaCheck, SshReplica } from '../types.js';
import { applyFast, type FastResult } from './fast-apply.js';
import { sessionOf } from './fast-session.js';
import { buildMoveCommand } from './replica-moves.js';
import { bridgeRsh, runRsync, type RemoteChannel, type RsyncRun, type RunOptions } from './run-rsync.js';
import { routeSettings } from './ssh-route.js';
import { SshConnection } from './ssh.js';
import type { ReplicaRoot, Transport, TransportContext } from './transport.js';

/** A stat answer is two short lines; anything longer is noise from the remote shell's start-up files. */
const ANSWER_KEEP = 4096;

export class SshTransport implements Transport {
  readonly replica: SshReplica;
  readonly target: RsyncTarget;
  readonly host: string;
  /** `user@host:port`: the pool's key, and the name loginCounts() reports. */
  readonly connection: string;
  readonly #ctx: TransportContext;
  readonly #conn: SshConnection;
  #closed = false;

  constructor(replica: SshReplica, ctx: TransportContext) {
    const o = ctx.options;
    const user = replica.user ?? o.userName;
    this.replica = replica;
    this.host = replica.host;
    this.#ctx = ctx;
    this.connection = `${user}@${replica.host}:${replica.port}`;
    this.target = { path: replica.path, rsh: bridgeRsh(), remoteRsyncPath: o.remoteRsyncPath };
    this.#conn = ctx.pool.acquire(this, this.connection, () => newConnection(replica, user, ctx, this.connection));
  }

  connect(): Promise<void> {
    return this.#conn.connect();
  }

  async fastCaps(): Promise<FastCaps | undefined> {
    if (!this.#ctx.options.fastPath) return undefined;
    return await sessionOf(this.#conn, this.#ctx.options.timeoutSec * 1000).caps();
  }

  apply(batch: FastBatch, guard: GuardSpec | undefined): Promise<FastResult> {
    return applyFast(sessionOf(this.#conn, this.#ctx.options.timeoutSec * 1000), batch, this.replica.path, guard);
  }

  rsync(args: string[], stdin: Buffer | undefined, opts: RunOptions = {}): Promise<RsyncRun> {
    return runRsync(this.#ctx.options.rsyncPath, args, stdin, (command) => this.#conn.exec(command), opts);
  }

  async move(renames: readonly Rename[], guard?: GuardSpec): Promise<void> {
    if (renames.length === 0) return;
    await this.#run((guard === undefined ? '' : guardCommand(guard)) + buildMoveCommand(this.replica.path, renames));
  }

  /**
   * Connects (host key, login), then one remote command: rsync's first --version line and what the
   * target is. remoteRsyncPath goes in as a command, unquoted, as rsync's --rsync-path does.
   */
  async check(opts: { create: boolean }): Promise<ReplicaCheck> {
    await this.connect();
    const rsync = this.#ctx.options.remoteRsyncPath;
    const { stdout } = await this.#run(checkCommand(rsync, this.replica.path, opts.create));
    const answers = stdout.split('\n').filter((line) => line.startsWith('fam-check '));
    const versionLine = answers.find((line) => line.startsWith('fam-check rsync '))?.slice('fam-check rsync '.length);
    const target = answers.find((line) => line.startsWith('fam-check target '))?.slice('fam-check target '.length);
    if (target === undefined || !(TARGET_ANSWERS as readonly string[]).includes(target)) {
      throw new MirrorError(
        'ERR_SSH_CONNECT',
        `${this.connection}: unexpected answer to the check of ${this.replica.path}: ${JSON.stringify(stdout.slice(0, 200))}. Check that the account's shell is a POSIX sh.`,
        {
          host: this.replica.host,
          path: this.replica.path,
        },
      );
    }
    return judgeCheck({ replica: this.replica.id, host: this.replica.host, path: this.replica.path, rsyncCommand: rsync, versionLine: versionLine || undefined, target: target as TargetAnswer });
  }

  /**
   * GNU stat first, BSD stat's spelling where that fails; `root/..` is resolved by the host (a
   * symlinked root's parent is its target's parent, as the kernel sees it).
   */
  async inspectRoot(): Promise<ReplicaRoot> {
    const root = this.replica.path.replace(/\/+$/, '');
    const operands = [root || '/', `${root}/..`].map(shellQuote).join(' ');
    const command = `for p in ${operands}; do if [ -e "$p" ]; then stat -L -c '%F %d' -- "$p" 2>/dev/null || stat -L -f '%HT %d' -- "$p"; else echo missing; fi; done`;
    const { stdout } = await this.#run(command);
    const lines = stdout.trim().split('\n').slice(-2);
    const facts = lines.map((line) => /^(.+) (\d+)$/.exec(line.trim()));
    if (lines.length !== 2 || lines.some((line, i) => line.trim() !== 'missing' && facts[i] === null)) {
      throw new MirrorError(
        'ERR_SSH_CONNECT',
        `${this.connection}: unexpected answer to a stat of ${this.replica.path}: ${JSON.stringify(stdout.slice(0, 200))}. Check that the account's shell prints nothing on its own.`,
        { host: this.replica.host, path: this.replica.path },
      );
    }
    const [self, parent] = facts;
    return {
      exists: self != null,
      isDirectory: self != null && /^directory$/i.test(self[1]!),
      device: self != null ? Number(self[2]) : undefined,
      parentDevice: parent != null ? Number(parent[2]) : undefined,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.pool.release(this, this.connection);
  }

  logins(): { connection: string; count: number } {
    return { connection: this.connection, count: this.#conn.logins };
  }

  /** Runs a short command to its end; its stdout (bounded) and exit code. */
  async #run(command: string): Promise<{ stdout: string; code: number | null }> {
    const channel: RemoteChannel = await this.#conn.exec(command);
    let stdout = '';
    channel.on('data', (d: Buffer) => {
      if (stdout.length < ANSWER_KEEP) stdout += d.toString('utf8');
    });
    channel.stderr.on('data', () => {});
    await new Promise<void>((resolve) => channel.on('close', () => resolve()));
    return { stdout, code: channel.exitStatus.code ?? null };
  }
}

/** The remote half of check(): prints `fam-check rsync <first --version line>` and `fam-check target <TargetAnswer>`. */
export function checkCommand(remoteRsync: string, path: string, create: boolean): string {
  // An empty path is the login's home directory, as rsync reads `host:`.
  const p = shellQuote(path.replace(/(.)\/+$/, '$1') || '.');
  return [
    `v=$(${remoteRsync} --version 2>/dev/null | head -n 1)`,
    'echo "fam-check rsync $v"',
    `p=${p}`,
    'if [ -d "$p" ]; then if [ -w "$p" ]; then t=ok; else t=unwritable; fi',
    'elif [ -e "$p" ]; then t=not-a-directory',
    'elif [ ! -d "$(dirname -- "$p")" ]; then t=no-parent',
    create ? 'elif mkdir -- "$p" 2>/dev/null; then t=created\nelse t=unwritable; fi' : 'else t=would-create; fi',
    'echo "fam-check target $t"',
  ].join('\n');
}

function newConnection(replica: SshReplica, user: string, ctx: TransportContext, key: string): SshConnection {
  const o = ctx.options;
  const route = { options: o, pool: ctx.pool, onWarning: (message: string) => ctx.onWarning(key, message) };
  // These settings name the connection until the first login; routeSettings says what it logs in with.
  return new SshConnection(
    {
      host: replica.host,
      port: replica.port,
      user,
      identityFiles: o.identityFiles,
      passphrase: o.passphrase,
      agent: o.agent,
      knownHostsFiles: o.knownHostsFiles,
      hostKeyPolicy: o.strictHostKeyChecking,
      onWarning: route.onWarning,
      connectTimeoutMs: o.connectTimeoutMs,
      keepaliveIntervalMs: Math.max(500, Math.min(5000, Math.floor((o.timeoutSec * 1000) / 3))),
      keepaliveCountMax: 3,
    },
    routeSettings(replica, route),
  );
}

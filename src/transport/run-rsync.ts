/**
 * Runs the local rsync. For an ssh replica, rsync's remote shell is bridge.sh, which hands rsync's
 * remote command to us over an inherited control socket; we run it on an exec channel of the
 * replica's persistent ssh2 connection and shuttle bytes between the channel and the data socket.
 * No second SSH implementation and no per-batch login (README.md, "How it works").
 *
 * Why it cannot deadlock (docs/internals.md, "the bridge"): rsync waits for its remote shell to exit without ever
 * closing that child's stdin, so the bridge exits when we end the data socket after the channel
 * closed, and reports the remote exit status we send on the control socket.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { MirrorError } from '../errors.js';
import { guardCommand, guardRefusal, type GuardSpec } from '../core/replica-guard.js';
import type { ExitStatus } from './exit-status.js';

export const BRIDGE_SCRIPT = fileURLToPath(new URL('./bridge.sh', import.meta.url));

/** Opens the remote end: runs `command` on the replica and returns its channel. */
export type RemoteExec = (command: string) => Promise<RemoteChannel>;

export interface RemoteChannel extends Duplex {
  stderr: NodeJS.ReadableStream;
  /** Recorded from the moment the channel opened (exit-status.ts): read it at 'close'. */
  readonly exitStatus: ExitStatus;
}

export interface RsyncRun {
  exitCode: number;
  /** rsync's stdout lines (itemized changes), only when asked for; at most `maxLines`. */
  lines?: string[];
  /** Lines rsync printed beyond `maxLines`. */
  moreLines?: number;
  /** Last few KiB of local and remote stderr together: rsync can print one line per vanished file. */
  stderr: string;
}

const STDERR_KEEP = 8192;
const CHANNEL_GRACE_MS = 5000;

export function bridgeRsh(): string {
  if (BRIDGE_SCRIPT.includes("'")) {
    throw new MirrorError('ERR_OPTIONS', `fam-mirror is installed under a path with a quote (${BRIDGE_SCRIPT}); move it.`);
  }
  return `sh '${BRIDGE_SCRIPT}'`;
}

export interface RunOptions {
  /** Collect stdout lines (e.g. --itemize-changes), keeping at most this many. */
  maxLines?: number;
  /** Called with every stdout line (stdout is read only when this or maxLines is given). */
  onLine?: (line: string) => void;
  /**
   * Kills rsync. SIGKILL, as for a dying parent (above): SIGTERM can stay blocked for 0.5 s, and the
   * receiver (forked, or remote) sees the connection close and removes its temporary file itself.
   */
  signal?: AbortSignal;
  /**
   * Check the replica root before rsync writes to it (core/replica-guard.ts). Over ssh it runs as a
   * prefix of the remote command; a refusal's exit code becomes the run's exit code.
   */
  guard?: GuardSpec;
}

/**
 * rsync must die with the mirror, however the mirror dies (SIGKILL, OOM killer): an orphaned rsync
 * keeps writing beside the next run until its next write to our closed pipe fails (0.7-1.5 s measured
 * mid-seed). `setpriv --pdeathsig` (util-linux) asks the kernel to signal rsync when its parent exits,
 * and keeps rsync's own pid, exit code and stdio. SIGKILL, because rsync may hold SIGTERM blocked (it
 * did for 0.5 s here); the local rsync is always the sender, and its receiver (a forked rsync, or the
 * remote `rsync --server`, whose session ends with our TCP connection) sees the socket close and
 * exits through rsync's own cleanup, which removes its temporary file. Where setpriv is missing (not
 * Linux, old util-linux), rsync is spawned plainly. Detected once per process.
 */
let parentDeathPrefix: Promise<string[]> | undefined;

export function dieWithParentPrefix(): Promise<string[]> {
  parentDeathPrefix ??= new Promise((resolve) => {
    if (process.platform !== 'linux') return resolve([]);
    const prefix = ['--pdeathsig', 'KILL', '--'];
    execFile('setpriv', [...prefix, 'true'], (err) => resolve(err ? [] : ['setpriv', ...prefix]));
  });
  return parentDeathPrefix;
}

export async function runRsync(rsyncPath: string, args: string[], stdin: Buffer | undefined, remote?: RemoteExec, opts: RunOptions = {}): Promise<RsyncRun> {
  const [command, ...prefix] = [...(await dieWithParentPrefix()), rsyncPath];
  const run = await spawnRsync(command!, [...prefix, ...args], stdin, remote, opts);
  // setpriv's own "failed to execute" (exit 127 for ENOENT) stands for the spawn error rsync would give.
  if (command !== rsyncPath && run.exitCode === 127 && /^setpriv: failed to execute/m.test(run.stderr)) throw rsyncMissing(rsyncPath);
  return run;
}

function rsyncMissing(rsyncPath: string, cause?: unknown): MirrorError {
  return new MirrorError('ERR_RSYNC_MISSING', `rsync was not found ("${rsyncPath}"). Install rsync (e.g. apt-get install rsync) or set rsyncPath.`, { cause });
}

function spawnRsync(command: string, args: string[], stdin: Buffer | undefined, remote: RemoteExec | undefined, opts: RunOptions): Promise<RsyncRun> {
  return new Promise((resolve, reject) => {
    const out = opts.maxLines === undefined && opts.onLine === undefined ? 'ignore' : 'pipe';
    const keep = opts.maxLines ?? 0;
    const stdio = remote === undefined ? ['pipe', out, 'pipe'] : ['pipe', out, 'pipe', 'pipe', 'pipe'];
    const child = spawn(command, args, { stdio: stdio as ['pipe', 'pipe', 'pipe'] });
    const kill = () => child.kill('SIGKILL');
    if (opts.signal?.aborted === true) kill();
    else opts.signal?.addEventListener('abort', kill, { once: true });
    const lines: string[] = [];
    let moreLines = 0;
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => {
      // '\n' ends an itemized line, '\r' a progress record (--info=progress2).
      const parts = (partial + d.toString('utf8')).split(/[\r\n]/);
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line === '') continue;
        opts.onLine?.(line);
        if (lines.length < keep) lines.push(line);
        else moreLines++;
      }
    });
    const err = new TailBuffer(STDERR_KEEP);
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {}); // rsync may exit before reading the whole list; the exit code tells
    child.stdin.end(stdin ?? Buffer.alloc(0));
    let bridgeDone: Promise<number | null> = Promise.resolve(null);
    const abandon = new AbortController();
    if (remote !== undefined) {
      const data = child.stdio[3] as unknown as Duplex;
      const control = child.stdio[4] as unknown as Duplex;
      const guard = opts.guard;
      const guarded: RemoteExec = guard === undefined ? remote : (command) => remote(guardCommand(guard) + command);
      bridgeDone = bridge(data, control, guarded, err, abandon.signal, opts.signal);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? rsyncMissing(command, e) : new MirrorError('ERR_RSYNC', `rsync could not be started: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', kill);
      // A remote rsync that outlives the local one (hung peer) must not hold the lane forever.
      setTimeout(() => abandon.abort(), CHANNEL_GRACE_MS).unref();
      if (partial !== '') {
        opts.onLine?.(partial);
        if (lines.length < keep) lines.push(partial);
        else moreLines++;
      }
      const run: RsyncRun = { exitCode: code ?? (signal === null ? 255 : 128 + 20), stderr: err.text() };
      if (opts.maxLines !== undefined) Object.assign(run, { lines, moreLines });
      // The guard's refusal ends the remote command before rsync starts there: locally rsync only
      // sees its connection close (exit 12), so the remote exit code is the answer.
      void bridgeDone.then(
        (remoteExit) => {
          if (opts.guard !== undefined && remoteExit !== null && guardRefusal(remoteExit) !== undefined) run.exitCode = remoteExit;
          resolve(run);
        },
        () => resolve(run),
      );
    });
  });
}

/** Resolves with the remote command's exit code (null when there was none). */
async function bridge(data: Duplex, control: Duplex, remote: RemoteExec, err: TailBuffer, abandon: AbortSignal, stop?: AbortSignal): Promise<number | null> {
  data.on('error', () => {});
  control.on('error', () => {});
  let argv: string[];
  try {
    argv = await readArgv(control);
  } catch {
    return null; // rsync died before starting its remote shell: its own exit code says why
  }
  // argv: [-l user] host command... ; we connect by our own config, so only the command matters.
  let i = 0;
  if (argv[0] === '-l') i = 2;
  const command = argv.slice(i + 1).join(' ');
  let channel: RemoteChannel;
  try {
    channel = await remote(command);
  } catch (e) {
    err.push(Buffer.from(`fam-mirror: ${(e as Error).message}\n`));
    data.end();
    control.end('255\n');
    return null;
  }
  channel.stderr.on('data', (d: Buffer) => err.push(d));
  data.pipe(channel);
  channel.pipe(data);
  data.on('end', () => channel.end());
  // A killed rsync leaves the bridge holding the data socket open (its other cat still has it), so the
  // remote rsync would wait for input until its --timeout: end its input now, and drop the channel
  // if it does not close. Its close then answers the bridge, which exits, and the run ends.
  const stopRemote = () => {
    channel.end();
    setTimeout(() => channel.destroy(), CHANNEL_GRACE_MS).unref();
  };
  if (stop?.aborted === true) stopRemote();
  else stop?.addEventListener('abort', stopRemote, { once: true });
  return await new Promise<number | null>((resolve) => {
    abandon.addEventListener('abort', () => {
      channel.destroy();
      resolve(null);
    });
    channel.on('close', () => {
      data.unpipe(channel);
      data.end();
      const exitCode = channel.exitStatus.code ?? null;
      control.end(`${exitCode ?? 255}\n`);
      resolve(exitCode);
    });
  });
}

/** Reads `argc\0arg1\0…argN\0` from the control socket. */
function readArgv(control: Duplex): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const parts: string[] = [];
      let start = 0;
      for (let nul = buf.indexOf(0, start); nul !== -1; nul = buf.indexOf(0, start)) {
        parts.push(buf.subarray(start, nul).toString('utf8'));
        start = nul + 1;
      }
      const argc = Number(parts[0]);
      if (parts.length > 0 && parts.length - 1 >= argc) {
        cleanup();
        resolve(parts.slice(1, argc + 1));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('control socket closed before the remote command arrived'));
    };
    const cleanup = () => {
      control.off('data', onData);
      control.off('end', onEnd);
      control.off('close', onEnd);
    };
    control.on('data', onData);
    control.on('end', onEnd);
    control.on('close', onEnd);
  });
}

/** Keeps the last `limit` bytes pushed. */
class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(readonly limit: number) {}
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.limit && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/**
 * The fast path's two long-lived channels on one pooled ssh connection (README.md, "How it works"):
 * an SFTP session for data, renames and modes (no process per batch on either side), and one remote
 * `sh` reading commands from its stdin for what SFTP cannot do exactly (nanosecond mtimes, recursive
 * deletes, owners, the replica guard). Opened and probed once per connection; if either is missing
 * (no sftp subsystem, no posix-rename@openssh.com, a touch without `-d @SEC.NSEC`), `caps` is
 * undefined and every batch of that connection goes to rsync. A closed channel (reconnect, network)
 * makes the next batch open and probe afresh.
 *
 * One sh step at a time per connection: a step is a subshell with stdin from /dev/null (no command
 * it runs can eat the session's next commands) and stderr joined to stdout, ended by a marker line
 * carrying a per-session nonce and the subshell's exit status.
 */
import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import createDebug from 'debug';
import type { FastCaps } from '../core/fast-path.js';
import { printfFormat } from '../core/fast-script.js';
import type { ExecChannel } from './exit-status.js';
import type { SshConnection } from './ssh.js';

const debug = createDebug('fam-mirror:fast');
/** A step's output kept (the guard's owner line, an error); the rest is dropped. */
const KEEP = 8192;

interface Channels {
  sh: ExecChannel;
  sftp: SFTPWrapper | undefined;
  caps: FastCaps | undefined;
}

export interface StepResult {
  code: number;
  output: string;
}

export class FastSession {
  readonly #conn: SshConnection;
  readonly #timeoutMs: number;
  #open: Promise<Channels> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Which opening is current: a channel closing forgets only its own. */
  #gen = 0;

  constructor(conn: SshConnection, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
  }

  /** The probed capabilities, opening the channels first when needed; undefined: rsync only. */
  async caps(): Promise<FastCaps | undefined> {
    return (await this.#channels()).caps;
  }

  async sftp(): Promise<SFTPWrapper> {
    const { sftp } = await this.#channels();
    if (sftp === undefined) throw new Error('no SFTP session on this connection');
    return sftp;
  }

  /** Runs `fn` with the connection's writes gathered into one (SshConnection.batched). */
  batched<T>(fn: () => T): T {
    return this.#conn.batched(fn);
  }

  /** Runs one script as a subshell of the session; its exit status and (bounded) output. */
  step(script: string): Promise<StepResult> {
    const run = this.#queue.then(async () => this.#step((await this.#channels()).sh, script));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes both channels; the next use opens them again. */
  reset(): void {
    const open = this.#open;
    this.#open = undefined;
    this.#gen++;
    open?.then(
      ({ sh, sftp }) => {
        sh.close();
        sftp?.end();
      },
      () => undefined,
    );
  }

  #channels(): Promise<Channels> {
    this.#open ??= this.#start(++this.#gen).catch((e: Error) => {
      this.#open = undefined;
      throw e;
    });
    return this.#open;
  }

  async #start(gen: number): Promise<Channels> {
    const forget = () => {
      if (this.#gen === gen) this.#open = undefined;
    };
    // The C locale: each touch and chown starts faster without loading the login's (≈ 0.25 ms of ≈ 1 ms
    // measured on this machine), and no command here reads or prints anything that depends on it.
    const sh = await this.#conn.exec('LC_ALL=C exec sh');
    sh.stderr.on('data', () => {});
    sh.on('close', forget);
    // A write after the peer went away is an 'error' on the channel: a state of this session, never a crash.
    sh.on('error', forget);
    let sftp: SFTPWrapper | undefined;
    try {
      sftp = await this.#conn.sftp();
      sftp.on('close', forget);
      sftp.on('error', forget);
    } catch (e) {
      debug('no sftp: %s', (e as Error).message);
      // Not probed again on this connection: a replica without SFTP is served by rsync alone.
      return { sh, sftp: undefined, caps: undefined };
    }
    const probe = await this.#step(sh, PROBE);
    const caps = parseProbe(probe.output, (sftp as unknown as { _extensions: Record<string, unknown> })._extensions);
    debug('probe: %o', caps ?? probe.output.slice(0, 200));
    return { sh, sftp, caps };
  }

  #step(sh: ExecChannel, script: string): Promise<StepResult> {
    const nonce = randomBytes(8).toString('hex');
    const end = new RegExp(`@@fam-end-${nonce} (\\d+)\\n`);
    if (sh.destroyed || !sh.writable) {
      this.reset();
      return Promise.reject(new Error('the fast-path shell is closed'));
    }
    return new Promise<StepResult>((resolve, reject) => {
      let output = '';
      let tail = '';
      const done = (e: Error | undefined, r?: StepResult) => {
        clearTimeout(timer);
        sh.off('data', onData);
        sh.off('close', onClose);
        if (e !== undefined) {
          this.reset();
          reject(e);
        } else resolve(r!);
      };
      const onData = (d: Buffer) => {
        tail += d.toString('utf8');
        const m = end.exec(tail);
        if (m !== null) return done(undefined, { code: Number(m[1]), output: (output + tail.slice(0, m.index)).slice(0, KEEP) });
        // Keep enough of the tail to find a marker split across two reads.
        if (tail.length > 4096) {
          if (output.length < KEEP) output += tail.slice(0, -256);
          tail = tail.slice(-256);
        }
      };
      const onClose = () => done(new Error('the fast-path shell closed'));
      const timer = setTimeout(() => done(new Error(`no answer from the fast-path shell within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      sh.on('data', onData);
      sh.on('close', onClose);
      sh.write(`(\n${script}\n) </dev/null 2>&1; echo "@@fam-end-${nonce} $?"\n`);
    });
  }
}

/** Every byte value once: the probe has the replica's printf write them and reads them back. */
const PROBE_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/**
 * Once per connection: GNU touch sets a time to the nanosecond (read back with GNU stat), who the
 * login is, and whether the shell's printf writes every byte exactly (core/fast-script.ts
 * printfFormat). Prints `fam-fast UID touch-ok GROUPS…`, `fam-who USER GROUP` and `fam-inline HEX`.
 */
const PROBE = [
  't=$(mktemp 2>/dev/null) || exit 1',
  'touch -m -d @1.5 -- "$t" 2>/dev/null && [ "$(stat -c %.9Y -- "$t" 2>/dev/null)" = 1.500000000 ] && k=touch-ok || k=no-touch',
  `printf ${printfFormat(PROBE_BYTES)} > "$t" && echo "fam-inline $(od -An -tx1 -v -- "$t" | tr -d ' \n')"`,
  'rm -f -- "$t"',
  'echo "fam-who $(id -un) $(id -gn)"',
  'echo "fam-fast $(id -u) $k $(id -Gn)"',
].join('\n');

export function parseProbe(output: string, extensions: Record<string, unknown>): FastCaps | undefined {
  const lines = output.split('\n');
  const line = lines.find((l) => l.startsWith('fam-fast '));
  const m = line === undefined ? null : /^fam-fast (\d+) (\S+) ?(.*)$/.exec(line);
  if (m === null || m[2] !== 'touch-ok') return undefined;
  if (extensions['posix-rename@openssh.com'] === undefined) return undefined;
  const who = /^fam-who (\S+) (\S+)$/.exec(lines.find((l) => l.startsWith('fam-who ')) ?? '');
  const inline = lines.includes(`fam-inline ${PROBE_BYTES.toString('hex')}`);
  return { uid: Number(m[1]), groups: m[3]!.split(/\s+/).filter((g) => g !== ''), ...(who === null ? {} : { login: { user: who[1]!, group: who[2]! } }), inline };
}

const sessions = new WeakMap<SshConnection, FastSession>();

/** The connection's one FastSession (shared by every replica that uses the connection). */
export function sessionOf(conn: SshConnection, timeoutMs: number): FastSession {
  let session = sessions.get(conn);
  if (session === undefined) {
    session = new FastSession(conn, timeoutMs);
    sessions.set(conn, session);
  }
  return session;
}

/**
 * lsyncd, the tool fam-mirror is compared with (issue 4): found or installed from Debian's archive,
 * configured in a temp file, run as `lsyncd -nodaemon CONFIG` in its own process group, watched on
 * stdout (line by line, with the moment each line arrived), stopped with SIGTERM, and whatever is
 * left of its group (rsync, ssh) SIGKILLed.
 *
 * Installing: only scenarios that need lsyncd call ensureLsyncd(); when `lsyncd` is missing and the
 * bench runs as root, it runs `apt-get update` and `apt-get install -y lsyncd` once per bench run
 * (bounded in time). When that fails the scenario skips its lsyncd rows and says why.
 *
 * Configuration (lsyncdConfig): one `sync{}` per replica, all on the same source. `default.rsyncssh`
 * (rsync for transfers, `ssh HOST mv` for moves) unless `mode: 'rsync'`. The ssh words are lsyncd's
 * own `ssh = { port, identityFile, options }`, which it turns into rsync's `--rsh` and into the argv
 * of its `ssh … mv`; `-F none` cannot be passed to rsync that way (a second `--rsh` would replace
 * the first: measured with `-log Exec`), so Debian's GSSAPI default is switched off by an option
 * instead. With `controlPath`, every ssh goes through an OpenSSH ControlMaster (lsyncd's best
 * configuration: one login per host, kept open).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import type { SshdHost } from '../../test/helpers/sshd.js';
import { loRxBytes, type Moment } from './cli.js';
import { groupMembers, settlesWithin } from './proc.js';

const LSYNCD = 'lsyncd';
const UPDATE_TIMEOUT_MS = 180_000;
const INSTALL_TIMEOUT_MS = 300_000;
/** Lines kept of lsyncd's stdout (it logs every path of every batch: a 10,000-file burst is 10,000 lines). */
const KEEP_LINES = 400;

export type LsyncdAvailability = { ok: true; version: string; installedNow: boolean; installMs?: number } | { ok: false; reason: string };

let availability: Promise<LsyncdAvailability> | undefined;

/** lsyncd's version, installing it with apt-get first when it is missing (once per bench run). */
export function ensureLsyncd(log: (m: string) => void): Promise<LsyncdAvailability> {
  availability ??= findOrInstall(log);
  return availability;
}

/** The reason to print when a scenario skips its lsyncd rows. */
export function skipNote(a: LsyncdAvailability): string {
  return a.ok ? '' : `lsyncd rows skipped: ${a.reason}`;
}

interface Ran {
  code: number | null;
  out: string;
}

function run(cmd: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 8 << 20, env: env ?? process.env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
      resolve({ code, out: `${String(stdout)}${String(stderr)}` });
    });
  });
}

async function version(): Promise<string | undefined> {
  const r = await run(LSYNCD, ['--version'], 10_000);
  return /Version:\s*(\S+)/.exec(r.out)?.[1];
}

async function findOrInstall(log: (m: string) => void): Promise<LsyncdAvailability> {
  const found = await version();
  if (found !== undefined) return { ok: true, version: found, installedNow: false };
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'lsyncd is not installed and the bench does not run as root (install it: apt-get install -y lsyncd)' };
  }
  const t0 = performance.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('bench: lsyncd not found: apt-get update && apt-get install -y lsyncd');
  const update = await run('apt-get', ['update', '-q'], UPDATE_TIMEOUT_MS, env);
  if (update.code !== 0) return { ok: false, reason: `apt-get update failed (exit ${update.code}): ${lastLine(update.out)}` };
  const install = await run('apt-get', ['install', '-y', '-q', 'lsyncd'], INSTALL_TIMEOUT_MS, env);
  if (install.code !== 0) return { ok: false, reason: `apt-get install -y lsyncd failed (exit ${install.code}): ${lastLine(install.out)}` };
  const v = await version();
  if (v === undefined) return { ok: false, reason: 'apt-get installed lsyncd, but `lsyncd --version` does not answer' };
  const installMs = Math.round(performance.now() - t0);
  log(`bench: installed lsyncd ${v} in ${(installMs / 1000).toFixed(1)} s`);
  return { ok: true, version: v, installedNow: true, installMs };
}

function lastLine(text: string): string {
  return text.trim().split('\n').slice(-2).join(' | ').slice(0, 300);
}

// ---------------------------------------------------------------- configuration

export interface LsyncdTarget {
  host: SshdHost;
  /** Directory on the host (here: a local temp dir reached over ssh). */
  dir: string;
}

export interface LsyncdSetup {
  source: string;
  targets: readonly LsyncdTarget[];
  /** Seconds; undefined = lsyncd's default (15 s for rsync and rsyncssh). */
  delay?: number;
  /** ControlPath of an OpenSSH ControlMaster (e.g. DIR/cm-%p); undefined = a fresh ssh login per call. */
  controlPath?: string;
  /** 'rsyncssh' (default: moves and deletes through `ssh HOST mv`/rsync) or 'rsync' (everything by rsync). */
  mode?: 'rsyncssh' | 'rsync';
  logFile: string;
}

/** A Lua string literal; refuses what would need escaping (the temp paths here never do). */
function lua(s: string | number): string {
  const v = String(s);
  if (!/^[\w./%@:=+, -]*$/.test(v)) throw new Error(`refusing a value lsyncd's config would need escaped: ${JSON.stringify(v)}`);
  return `"${v}"`;
}

/** ssh -o options, as lsyncd's `ssh.options` table (and, for mode 'rsync', as -o words). */
function sshOptions(h: SshdHost, controlPath: string | undefined): [string, string][] {
  const o: [string, string][] = [
    ['UserKnownHostsFile', h.knownHostsFile],
    ['BatchMode', 'yes'],
    ['IdentitiesOnly', 'yes'],
    // Debian's /etc/ssh/ssh_config turns GSSAPI on (`-F none` cannot reach rsync's ssh, see above).
    ['GSSAPIAuthentication', 'no'],
  ];
  if (controlPath !== undefined) o.push(['ControlMaster', 'auto'], ['ControlPath', controlPath], ['ControlPersist', '60']);
  return o;
}

export function lsyncdConfig(s: LsyncdSetup): string {
  const lines = ['settings {', `  logfile = ${lua(s.logFile)},`, '  insist = false,', '}', ''];
  for (const t of s.targets) {
    const h = t.host;
    const opts = sshOptions(h, s.controlPath);
    lines.push('sync {');
    if ((s.mode ?? 'rsyncssh') === 'rsyncssh') {
      lines.push(
        '  default.rsyncssh,',
        `  source = ${lua(s.source)},`,
        `  host = ${lua(`${h.user}@127.0.0.1`)},`,
        `  targetdir = ${lua(t.dir)},`,
        '  ssh = {',
        `    port = ${h.port},`,
        `    identityFile = ${lua(h.identityFile)},`,
        `    options = { ${opts.map(([k, v]) => `${k} = ${lua(v)}`).join(', ')} },`,
        '  },',
      );
    } else {
      const rsh = ['ssh', '-F', 'none', '-i', h.identityFile, '-p', String(h.port), ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])].join(' ');
      lines.push('  default.rsync,', `  source = ${lua(s.source)},`, `  target = ${lua(`${h.user}@127.0.0.1:${t.dir}/`)},`, `  rsync = { rsh = ${lua(rsh)} },`);
    }
    if (s.delay !== undefined) lines.push(`  delay = ${s.delay},`);
    lines.push('}', '');
  }
  return lines.join('\n');
}

/** "lsyncd rsyncssh, delay 0, ControlMaster", for params and labels. */
export function describeSetup(s: Omit<LsyncdSetup, 'source' | 'targets' | 'logFile'>): string {
  return `default.${s.mode ?? 'rsyncssh'}, delay ${s.delay ?? 'default (15 s)'}, ${s.controlPath === undefined ? 'plain ssh (a login per call)' : 'OpenSSH ControlMaster'}`;
}

// ---------------------------------------------------------------- the process

const live = new Set<LsyncdProcess>();
let exitHandler = false;

export interface LsyncdLine {
  /** ms from just before spawn(). */
  ms: number;
  text: string;
}

/**
 * `lsyncd -nodaemon CONFIG` in its own process group. stdout is read line by line as it arrives
 * (lsyncd line-buffers it: measured, each line comes at the moment it is logged).
 */
export class LsyncdProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly t0: number;
  readonly rx0: number;
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** "Startup of … finished" lines so far (one per sync{}), with their moments. */
  readonly startups: { moment: Moment; code: number }[] = [];
  /** Counts of interesting log lines (rsync calls, moves, failures). */
  readonly counts = { rsyncCalls: 0, finishedList: 0, moves: 0, errors: 0 };
  #partial = '';
  #tail: string[] = [];
  #errors: string[] = [];
  #stderr = '';
  #lastLineAt = 0;

  constructor(configFile: string) {
    if (!exitHandler) {
      exitHandler = true;
      process.on('exit', () => {
        for (const p of live) p.killGroupSync();
      });
    }
    this.rx0 = loRxBytes();
    this.t0 = performance.now();
    this.#lastLineAt = this.t0;
    this.child = spawn(LSYNCD, ['-nodaemon', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.pid = this.child.pid ?? 0;
    live.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      const now = performance.now();
      const text = this.#partial + d;
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.#line(line, now);
    });
    this.child.stderr!.on('data', (d: string) => {
      if (this.#stderr.length < 1 << 16) this.#stderr += d;
    });
    this.exited = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (err) => {
        this.exit = { code: null, signal: null };
        this.#stderr += `spawn failed: ${err.message}\n`;
        resolve();
      });
    });
  }

  #line(line: string, now: number): void {
    this.#lastLineAt = now;
    this.#tail.push(line);
    if (this.#tail.length > KEEP_LINES) this.#tail.splice(0, this.#tail.length - KEEP_LINES);
    // default.rsyncssh: `Startup of "SRC" finished: 0`; default.rsync: `Startup of SRC -> TARGET finished.`
    const m = /Normal: Startup of .* finished(?:: (\d+)|\.)$/.exec(line);
    if (m !== null) this.startups.push({ moment: { ms: now - this.t0, rxBytes: loRxBytes() - this.rx0 }, code: Number(m[1] ?? 0) });
    if (/Normal: Calling rsync/.test(line)) this.counts.rsyncCalls++;
    if (/Normal: Finished \(list\)/.test(line)) this.counts.finishedList++;
    if (/Normal: Moving /.test(line)) this.counts.moves++;
    if (/ Error: |Failure|Temporary or permanent failure/.test(line)) {
      this.counts.errors++;
      if (this.#errors.length < 20) this.#errors.push(line);
    }
  }

  /** ms since the last stdout line (for "lsyncd has gone quiet"). */
  get quietForMs(): number {
    return performance.now() - this.#lastLineAt;
  }

  get errorLines(): string[] {
    return [...this.#errors];
  }

  tail(lines = 25): string {
    return `--- lsyncd stdout (last ${lines} lines) ---\n${this.#tail.slice(-lines).join('\n')}\n--- stderr ---\n${this.#stderr.slice(-1500)}`;
  }

  /**
   * The moment the n-th "Startup of … finished" line arrived (one per sync{}: its initial rsync).
   * Rejects on a non-zero startup code, when lsyncd exits first, past the deadline, or on abort.
   */
  async waitStartups(n: number, deadlineMs: number, signal: AbortSignal): Promise<Moment> {
    const deadline = performance.now() + deadlineMs;
    const maxPolls = Math.ceil(deadlineMs / 5) + 10;
    for (let i = 0; i < maxPolls; i++) {
      const bad = this.startups.find((s) => s.code !== 0);
      if (bad !== undefined) throw new Error(`lsyncd: a startup rsync exited ${bad.code}\n${this.tail()}`);
      if (this.startups.length >= n) return this.startups[n - 1]!.moment;
      if (this.exit !== undefined) throw new Error(`lsyncd exited (${JSON.stringify(this.exit)}) before its ${n} startup rsyncs finished\n${this.tail()}`);
      if (signal.aborted) throw new Error('aborted while waiting for lsyncd to start');
      if (performance.now() >= deadline) break;
      await delay(5);
    }
    throw new Error(`lsyncd: ${this.startups.length} of ${n} startup rsyncs finished within ${deadlineMs} ms\n${this.tail()}`);
  }

  /** Waits (bounded) until lsyncd has logged nothing for `quietMs`. */
  async waitQuiet(quietMs: number, deadlineMs: number, signal: AbortSignal): Promise<void> {
    const deadline = performance.now() + deadlineMs;
    const maxPolls = Math.ceil(deadlineMs / 20) + 10;
    for (let i = 0; i < maxPolls && performance.now() < deadline; i++) {
      if (signal.aborted) throw new Error('aborted');
      if (this.quietForMs >= quietMs) return;
      await delay(20);
    }
    throw new Error(`lsyncd kept logging for ${deadlineMs} ms\n${this.tail()}`);
  }

  /** SIGTERM; SIGKILL of the whole group past the deadline. Then SIGKILLs what is left in its group. */
  async stop(deadlineMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean; leftovers: number }> {
    let killed = false;
    if (this.exit === undefined) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // ESRCH: gone.
      }
    }
    if (!(await this.#waitExit(deadlineMs))) {
      killed = true;
      this.killGroupSync();
      await this.#waitExit(5_000);
    }
    const left = groupMembers(this.pid);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH
      }
    }
    live.delete(this);
    return { code: this.exit?.code ?? null, signal: this.exit?.signal ?? null, killed, leftovers: left.length };
  }

  killGroupSync(): void {
    if (this.pid <= 0) return;
    if (this.exit === undefined) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // ESRCH
      }
    }
    for (const pid of groupMembers(this.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH
      }
    }
  }

  #waitExit(ms: number): Promise<boolean> {
    return this.exit !== undefined ? Promise.resolve(true) : settlesWithin(this.exited, ms);
  }
}

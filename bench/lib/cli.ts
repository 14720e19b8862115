/**
 * The built `fam-mirror` command (dist/cli.js) as a child process, run the way an operator would:
 * `node dist/cli.js ARGS…` with an argument array (no shell), its stdout watched for the lines it
 * logs. Also the loopback interface's byte counter, for "bytes on the wire" between two moments.
 *
 * Each CLI runs in its own process group (spawn `detached`, so the group id is its pid): after a
 * SIGKILL, the rsync / bridge.sh children it leaves behind are found by that group id and killed,
 * and only those. A process 'exit' handler SIGKILLs whatever CLI is still running (a crashed or
 * twice-interrupted bench leaks none).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { groupMembers, settlesWithin } from './proc.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const SRC_DIR = fileURLToPath(new URL('../../src/', import.meta.url));
const LO_RX = '/sys/class/net/lo/statistics/rx_bytes';
/**
 * Kept of each stream: the CLI logs one line per batch (≈ 110 bytes), a few KiB per run in most
 * scenarios, ≈ 1 MiB in the farm's 30 s at 32 replicas; past this, activity counts and "quiet" go blind.
 */
const OUT_KEEP = 8 << 20;

/**
 * Bytes received on the loopback interface since boot. Every packet sent over `lo` is received on
 * `lo` once, so this counts both directions of every loopback connection (payload plus TCP/IP
 * headers), of every process on the machine.
 */
export function loRxBytes(): number {
  return Number(readFileSync(LO_RX, 'latin1').trim());
}

/** Throws when dist/cli.js is missing; true when a file under src/ is newer than it (a stale build). */
export function checkBuilt(): { stale: boolean } {
  let cliMtime: number;
  try {
    cliMtime = statSync(CLI).mtimeMs;
  } catch {
    throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  }
  let newest = 0;
  const dirs = [SRC_DIR];
  // Bounded: src/ is a small tree; each directory is listed once.
  for (let i = 0; i < dirs.length && i < 1000; i++) {
    for (const e of readdirSync(dirs[i]!, { withFileTypes: true })) {
      const p = `${dirs[i]}${e.name}`;
      if (e.isDirectory()) dirs.push(`${p}/`);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return { stale: newest > cliMtime };
}

const live = new Set<CliProcess>();
let exitHandler = false;

export interface Moment {
  /** ms from just before spawn(). */
  ms: number;
  /** loRxBytes() at that moment minus its value just before spawn(). */
  rxBytes: number;
}

interface Watch {
  re: RegExp;
  resolve(m: Moment): void;
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() and loRxBytes() just before spawn(). */
  readonly t0: number;
  readonly rx0: number;
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #stdout = '';
  #stderr = '';
  #watches: Watch[] = [];
  /** When each stdout chunk arrived (end offset in #stdout), so a late waitForOutput() still gets its moment. */
  #chunks: { end: number; moment: Moment }[] = [];

  constructor(args: readonly string[]) {
    if (!exitHandler) {
      exitHandler = true;
      process.on('exit', () => {
        for (const c of live) c.killGroupSync();
      });
    }
    // INIT_MIRROR would turn a restart into a seed; an agent's keys would add login round trips;
    // DEBUG output would go to stderr and cost time.
    const env: NodeJS.ProcessEnv = { ...process.env, DEBUG: '' };
    delete env.INIT_MIRROR;
    delete env.SSH_AUTH_SOCK;
    this.rx0 = loRxBytes();
    this.t0 = performance.now();
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
    this.pid = this.child.pid ?? 0;
    live.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      // Timed at once, in the data handler: no poll interval adds to the figure.
      const now = performance.now();
      const rx = loRxBytes();
      if (this.#stdout.length < OUT_KEEP) {
        this.#stdout += d;
        this.#chunks.push({ end: this.#stdout.length, moment: { ms: now - this.t0, rxBytes: rx - this.rx0 } });
      }
      this.#watches = this.#watches.filter((w) => {
        if (!w.re.test(this.#stdout)) return true;
        w.resolve({ ms: now - this.t0, rxBytes: rx - this.rx0 });
        return false;
      });
    });
    this.child.stderr!.on('data', (d: string) => {
      if (this.#stderr.length < OUT_KEEP) this.#stderr += d;
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

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Both streams' tails, for error messages. */
  tail(chars = 1500): string {
    return `--- stdout ---\n${this.#stdout.slice(-chars)}\n--- stderr ---\n${this.#stderr.slice(-chars)}`;
  }

  /**
   * The moment stdout first matched `re` (tested on everything printed so far). Rejects when the CLI
   * exits first, after `deadlineMs` from now, or on abort.
   */
  async waitForOutput(re: RegExp, deadlineMs: number, what: string, signal: AbortSignal): Promise<Moment> {
    if (re.test(this.#stdout)) {
      const first = this.#chunks.find((c) => re.test(this.#stdout.slice(0, c.end)));
      if (first !== undefined) return first.moment;
    }
    let watch: Watch | undefined;
    const matched = new Promise<Moment>((resolve) => {
      watch = { re, resolve };
      this.#watches.push(watch);
    });
    const timer = new AbortController();
    try {
      const r = await Promise.race([
        matched,
        this.exited.then(() => 'exited' as const),
        delay(deadlineMs, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const),
        new Promise<'aborted'>((resolve) => {
          if (signal.aborted) resolve('aborted');
          signal.addEventListener('abort', () => resolve('aborted'), { once: true, signal: timer.signal });
        }),
      ]);
      if (r === 'exited') {
        // The line may have come with the last chunk: 'exit' can fire before the final 'data'.
        await delay(50);
        const late = await Promise.race([matched, delay(0, undefined)]);
        if (late !== undefined) return late;
        throw new Error(`fam-mirror exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`);
      }
      if (r === 'timeout') throw new Error(`fam-mirror: no ${what} within ${deadlineMs} ms\n${this.tail()}`);
      if (r === 'aborted') throw new Error(`aborted while waiting for ${what}`);
      return r;
    } finally {
      timer.abort();
      this.#watches = this.#watches.filter((w) => w !== watch);
    }
  }

  /** SIGTERM (the operator's stop); resolves with the exit code. SIGKILLs and throws past the deadline. */
  async stop(deadlineMs = 20_000): Promise<number | null> {
    if (this.exit === undefined) this.#signal('SIGTERM');
    if (!(await this.#waitExit(deadlineMs))) {
      this.#signal('SIGKILL');
      await this.#waitExit(5_000);
      throw new Error(`fam-mirror did not exit within ${deadlineMs} ms of SIGTERM (killed)\n${this.tail()}`);
    }
    return this.exit!.code;
  }

  /** SIGKILL the CLI only (a crash, an OOM kill): its children are left to fend for themselves. */
  async kill(deadlineMs = 5_000): Promise<void> {
    if (this.exit === undefined) this.#signal('SIGKILL');
    if (!(await this.#waitExit(deadlineMs))) throw new Error(`fam-mirror pid ${this.pid} survived SIGKILL for ${deadlineMs} ms`);
  }

  /** Processes still in the CLI's group (after its exit: its orphaned rsync, bridge.sh …). */
  leftovers(): number[] {
    return groupMembers(this.pid);
  }

  /**
   * Waits (bounded) for the group's leftovers to exit on their own, then SIGKILLs the rest; returns
   * how many were still there at the start and how many had to be killed.
   */
  async reapLeftovers(graceMs = 2_000): Promise<{ found: number; killed: number }> {
    const found = this.leftovers().length;
    const deadline = performance.now() + graceMs;
    while (this.leftovers().length > 0 && performance.now() < deadline) await delay(20);
    const rest = this.leftovers();
    for (const pid of rest) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: gone meanwhile.
      }
    }
    if (rest.length === 0 && this.exit !== undefined) live.delete(this);
    return { found, killed: rest.length };
  }

  /**
   * For cleanup after a failure: SIGKILL the CLI and every process left in its group. A no-op once
   * reapLeftovers() found the group empty after the CLI's exit (its pid may be reused by then).
   */
  async killAll(): Promise<void> {
    if (!live.has(this)) return;
    this.killGroupSync();
    await this.#waitExit(5_000);
    await this.reapLeftovers(500);
    live.delete(this);
  }

  killGroupSync(): void {
    if (this.exit === undefined && this.pid > 0) this.#signal('SIGKILL');
    for (const pid of groupMembers(this.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH
      }
    }
  }

  #signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // ESRCH: it has exited already; 'exit' will tell.
    }
  }

  #waitExit(ms: number): Promise<boolean> {
    return this.exit !== undefined ? Promise.resolve(true) : settlesWithin(this.exited, ms);
  }
}

/**
 * The contenders of the comparison scenarios, behind one small interface, each a separate process
 * mirroring one source to N replica directories on N sshd hosts (127.0.0.1):
 *
 *  - fam-mirror: the built CLI (`node dist/cli.js --state-dir TMP --identity KEY --known-hosts KH
 *    [--init] SRC ssh://USER@127.0.0.1:PORT/DIR …`), default settings otherwise;
 *  - lsyncd: `lsyncd -nodaemon CONFIG`, one sync{} per replica (lib/lsyncd.ts);
 *  - plain rsync: `rsync -a -e "ssh …" SRC/ USER@127.0.0.1:DIR/` to every host at once.
 *
 * A `Cleanup` collects what a scenario started (processes, ControlMasters, sysctls) and undoes it in
 * reverse order in the scenario's `finally`, each step bounded and logged, none hiding another.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stopAll, type SshdHost } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../../test/helpers/tree.js';
import { CliProcess, type Moment } from './cli.js';
import { describeSetup, LsyncdProcess, lsyncdConfig, type LsyncdSetup } from './lsyncd.js';
import { closeControlMaster, controlMasterWords, rshValue, sshWords } from './openssh.js';
import { runTimed, type TimedRun } from './proc.js';

export class Cleanup {
  readonly #steps: { what: string; fn: () => Promise<unknown> | unknown }[] = [];
  readonly notes: string[] = [];

  add(what: string, fn: () => Promise<unknown> | unknown): void {
    this.#steps.push({ what, fn });
  }

  /** Runs every step, last added first; a failing step is logged and the rest still run. */
  async run(log: (m: string) => void): Promise<void> {
    for (const s of this.#steps.splice(0).reverse()) {
      const timer = new AbortController();
      try {
        const r = await Promise.race([Promise.resolve().then(s.fn), delay(30_000, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const)]);
        if (r === 'timeout') log(`warning: cleanup step "${s.what}" took over 30 s`);
        else if (typeof r === 'string') this.notes.push(`${s.what}: ${r}`);
      } catch (err) {
        log(`warning: cleanup step "${s.what}" failed: ${(err as Error).message}`);
      } finally {
        timer.abort();
      }
    }
  }

  /** A scenario's `finally`: every step, then every sshd and temp dir; what the steps said goes to `checks.cleanup`. */
  async teardown(log: (m: string) => void, checks: Record<string, unknown>): Promise<void> {
    await this.run(log);
    if (this.notes.length > 0) checks.cleanup = this.notes;
    await stopAll();
    await cleanupTempDirs();
  }
}

/** sshd logins so far, summed over `hosts`. */
export async function sumLogins(hosts: readonly SshdHost[]): Promise<number> {
  return (await Promise.all(hosts.map((h) => h.logins()))).reduce((a, b) => a + b, 0);
}

export interface Contender {
  id: string;
  label: string;
  /** The mirroring process (for /proc figures). */
  pid: number;
  /** spawn → ready (fam-mirror: its "watching" line; lsyncd: every startup rsync finished). */
  ready: Moment;
  /** Waits until the process has logged nothing for `quietMs` (its last batch is done). */
  quiet(quietMs: number, deadlineMs: number, signal: AbortSignal): Promise<void>;
  /** Batches / rsync calls so far, for the checks. */
  activity(): Record<string, number>;
  /** What it has logged so far (fam-mirror: its stdout; lsyncd: its last lines). */
  output(): string;
  /** SIGTERM and wait; returns exit facts for the checks. Idempotent. */
  stop(): Promise<Record<string, unknown>>;
}

const replicaUrl = (h: SshdHost, dir: string): string => `ssh://${h.user}@127.0.0.1:${h.port}${dir}`;

export interface FamStart {
  hosts: readonly SshdHost[];
  source: string;
  dirs: readonly string[];
  /** --init: seed every replica first; ready is then "seeded and watching". */
  init: boolean;
  readyDeadlineMs: number;
  extraArgs?: readonly string[];
}

/** The argv (after `node dist/cli.js`) of a fam-mirror CLI mirroring `source` to `dirs` on `hosts`. */
export function famArgs(s: Omit<FamStart, 'readyDeadlineMs'>, stateDir: string): string[] {
  const h = s.hosts[0]!;
  return [
    ...(s.init ? ['--init'] : []),
    '--state-dir',
    stateDir,
    '--identity',
    h.identityFile,
    '--known-hosts',
    h.knownHostsFile,
    ...(s.extraArgs ?? []),
    s.source,
    ...s.dirs.map((d, i) => replicaUrl(s.hosts[i]!, d)),
  ];
}

export async function startFam(s: FamStart, cleanup: Cleanup, signal: AbortSignal): Promise<Contender & { cli: CliProcess }> {
  const state = await makeTempDir('fam-bench-state-');
  const cli = new CliProcess(famArgs(s, state));
  let stopped: Record<string, unknown> | undefined;
  const stop = async (): Promise<Record<string, unknown>> => {
    if (stopped !== undefined) return stopped;
    let code: number | null = null;
    let error: string | undefined;
    try {
      code = await cli.stop();
    } catch (err) {
      error = (err as Error).message.split('\n')[0];
    }
    const leftovers = await cli.reapLeftovers();
    await cli.killAll();
    stopped = { exitCode: code, ...(error === undefined ? {} : { error }), leftovers };
    return stopped;
  };
  cleanup.add('fam-mirror CLI', stop);
  const ready = await cli.waitForOutput(s.init ? /seeded and watching/ : /watching \(ready in/, s.readyDeadlineMs, s.init ? '"seeded and watching"' : '"watching (ready in"', signal);
  return {
    id: 'fam',
    label: 'fam-mirror (defaults)',
    pid: cli.pid,
    ready,
    cli,
    quiet: (quietMs, deadlineMs, sig) => cliQuiet(cli, quietMs, deadlineMs, sig),
    activity: () => famActivity(cli.stdout),
    output: () => cli.stdout,
    stop,
  };
}

/** fam-mirror's batch lines: `synced N paths to R in X ms`, `synced full pass to R in X ms`. */
export function famActivity(stdout: string): { batches: number; fullPasses: number; problems: number } {
  let batches = 0;
  let fullPasses = 0;
  let problems = 0;
  for (const line of stdout.split('\n')) {
    if (/ synced full pass /.test(line)) fullPasses++;
    else if (/ synced \d+ paths? /.test(line)) batches++;
    if (/ (problem on|error:|replica .* is down)/.test(line)) problems++;
  }
  return { batches, fullPasses, problems };
}

/** fam-mirror's `synced …` lines in `text`, without their timestamps, at most `max`. */
export function syncedLines(text: string, max = 12): string[] {
  return text
    .split('\n')
    .filter((l) => / synced /.test(l))
    .map((l) => l.replace(/^\S+ /, ''))
    .slice(0, max);
}

/** Waits (bounded) until the CLI has printed nothing for `quietMs`. */
export async function cliQuiet(cli: CliProcess, quietMs: number, deadlineMs: number, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let seen = cli.stdout.length;
  let since = performance.now();
  const maxPolls = Math.ceil(deadlineMs / 20) + 10;
  for (let i = 0; i < maxPolls && performance.now() < deadline; i++) {
    if (signal.aborted) throw new Error('aborted');
    if (cli.exit !== undefined) throw new Error(`fam-mirror exited (${JSON.stringify(cli.exit)})\n${cli.tail()}`);
    if (cli.stdout.length !== seen) {
      seen = cli.stdout.length;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return;
    await delay(20);
  }
  throw new Error(`fam-mirror kept logging for ${deadlineMs} ms\n${cli.tail()}`);
}

export interface LsyncdStart {
  hosts: readonly SshdHost[];
  source: string;
  dirs: readonly string[];
  setup: Pick<LsyncdSetup, 'delay' | 'controlPath' | 'mode'>;
  readyDeadlineMs: number;
  id: string;
  label?: string;
}

export async function startLsyncd(s: LsyncdStart, cleanup: Cleanup, signal: AbortSignal): Promise<Contender & { proc: LsyncdProcess; config: string }> {
  const dir = await makeTempDir('fam-bench-lsyncd-');
  if (s.setup.controlPath !== undefined) await warmControlMasters(s.hosts, s.setup.controlPath, cleanup);
  const config = lsyncdConfig({
    ...s.setup,
    source: s.source,
    targets: s.dirs.map((d, i) => ({ host: s.hosts[i]!, dir: d })),
    logFile: join(dir, 'lsyncd.log'),
  });
  const file = join(dir, 'lsyncd.conf.lua');
  await writeFile(file, config);
  const proc = new LsyncdProcess(file);
  let stopped: Record<string, unknown> | undefined;
  const stop = async (): Promise<Record<string, unknown>> => {
    stopped ??= { ...(await proc.stop()), errors: proc.errorLines.slice(0, 5) };
    return stopped;
  };
  cleanup.add(`lsyncd (${s.id})`, stop);
  const ready = await proc.waitStartups(s.dirs.length, s.readyDeadlineMs, signal);
  return {
    id: s.id,
    label: s.label ?? `lsyncd ${describeSetup(s.setup)}`,
    pid: proc.pid,
    ready,
    proc,
    config,
    quiet: (quietMs, deadlineMs, sig) => proc.waitQuiet(quietMs, deadlineMs, sig),
    activity: () => ({ ...proc.counts }),
    output: () => proc.tail(40),
    stop,
  };
}

/**
 * Starts (or reuses) one OpenSSH ControlMaster per host at `controlPath` (ControlPersist 60 s) with a
 * `true` command, so the first timed transfer does not pay the login; closes them at cleanup.
 */
export async function warmControlMasters(hosts: readonly SshdHost[], controlPath: string, cleanup: Cleanup): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      const r = await runTimed('ssh', [...sshWords(h), ...controlMasterWords(controlPath), `${h.user}@127.0.0.1`, 'true'], 20_000);
      if (r.code !== 0) throw new Error(`ssh ControlMaster warm-up to port ${h.port} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    }),
  );
  cleanup.add(`ControlMasters at ${controlPath}`, async () => (await Promise.all(hosts.map((h) => closeControlMaster(h, controlPath)))).join('; '));
}

/** rsync's -e value for `h`: a fresh login, or through the ControlMaster at `controlPath`. */
export function rshFor(h: SshdHost, controlPath?: string): string {
  return rshValue([...sshWords(h), ...(controlPath === undefined ? [] : controlMasterWords(controlPath))]);
}

export interface ParallelRsync {
  /** From just before the first spawn to the last exit. */
  ms: number;
  runs: TimedRun[];
  commands: string[][];
}

/**
 * `rsync -a -e RSH SRC USER@127.0.0.1:DIR/` to every host at once (`src` as given: `DIR/` for a tree,
 * a file path for one file). Throws unless every run exits 0.
 */
export async function rsyncToHosts(hosts: readonly SshdHost[], src: string, dirs: readonly string[], controlPath: string | undefined, timeoutMs: number): Promise<ParallelRsync> {
  const commands = hosts.map((h, i) => ['-a', '-e', rshFor(h, controlPath), src, `${h.user}@127.0.0.1:${dirs[i]}/`]);
  // All spawned in the same tick; runTimed's `ms` is spawn → 'exit' (it may resolve up to 0.5 s later
  // when a ControlMaster holds a pipe), so the slowest `ms` is the parallel run's time.
  const runs = await Promise.all(commands.map((args) => runTimed('rsync', args, timeoutMs)));
  for (const [i, r] of runs.entries()) {
    if (r.code !== 0) throw new Error(`rsync to port ${hosts[i]!.port} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-500)}`);
  }
  const ms = Math.max(...runs.map((r) => r.ms));
  return { ms, runs, commands: commands.map((a) => ['rsync', ...a]) };
}

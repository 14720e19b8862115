/**
 * Scenario 3 — what a restart with a known backlog costs, next to a full seed. The built command
 * (dist/cli.js) runs as a child process, as an operator runs it, with one ssh replica and a
 * --state-dir in a temp dir:
 *
 *  seed:    `fam-mirror --init …` onto an empty replica; timed from spawn until stdout says
 *           "seeded and watching"; then SIGTERM (exit 0).
 *  restart: the mirror runs (started without --init, ready); the replica's sshd is paused, files are
 *           changed and added until the journal holds them; the mirror is SIGKILLed, the host resumed,
 *           more files changed while no mirror runs; then `fam-mirror` (no --init) is started again and
 *           timed from spawn until the replica tree equals the source.
 *
 * Bytes: the loopback interface's rx_bytes over the same interval (both directions of all loopback
 * traffic: see lib/cli.ts). Everything is on 127.0.0.1; processes are spawned with argument arrays;
 * every wait has a deadline; the `finally` SIGKILLs any CLI (and its process group) still running,
 * stops sshd and removes the temp dirs.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeJournal, hashName } from '../../src/sync/journal-format.js';
import { startSshdHosts, stopAll, type SshdHost } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, diffTrees, makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt, CLI, CliProcess, loRxBytes, type Moment } from '../lib/cli.js';
import type { Metric, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const FILE_BYTES = 4096;
const ADDED = 10;
const CHANGED_WHILE_DOWN = 20;
/** Seeding 5,000 files over loopback, or a restart catching up, taking longer than this is a failure. */
const SEED_DEADLINE_MS = 120_000;
const READY_DEADLINE_MS = 60_000;
const EQUAL_DEADLINE_MS = 60_000;
const JOURNAL_DEADLINE_MS = 30_000;
/** Poll period of the equality check (it shares two cores with the CLI, rsync and sshd). */
const POLL_MS = 10;
/** Before a timed start: leftover traffic of the killed mirror's connection has died down. */
const SETTLE_MS = 500;
/** Before SIGTERM: the CLI printed nothing for this long (its last batch is done). */
const QUIET_MS = 700;
/** Loopback traffic above this (bytes/s) while the bench is idle means someone else is using lo. */
const LO_IDLE_LIMIT = 4096;

interface Config {
  files: number;
  dirs: number;
  changedPaused: number;
  seeds: number;
  restarts: number;
}

const config = (quick: boolean): Config => (quick ? { files: 500, dirs: 10, changedPaused: 10, seeds: 1, restarts: 1 } : { files: 5000, dirs: 100, changedPaused: 50, seeds: 3, restarts: 3 });

export const restartVsSeed: Scenario = {
  id: 'restart-vs-seed',
  title: 'restart with a known backlog vs full seed',
  describe: (quick) => {
    const c = config(quick);
    return (
      `fam-mirror CLI (dist/cli.js) as a child process, 1 ssh replica, --state-dir. Tree: ${c.files} files × ${FILE_BYTES / 1024} KiB in ${c.dirs} dirs. ` +
      `Seed (×${c.seeds}): --init onto an empty replica, spawn → "seeded and watching". ` +
      `Restart (×${c.restarts}): sshd paused, ${c.changedPaused} files changed + ${ADDED} added until journaled, SIGKILL, sshd resumed, ${CHANGED_WHILE_DOWN} more changed; ` +
      'start without --init, spawn → replica tree equals source. KiB = lo rx_bytes delta over the same interval (both directions, all loopback traffic).'
    );
  },
  run,
};

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const dirName = (d: number): string => `d${pad(d, 3)}`;
const fileName = (k: number, c: Config): string => `${dirName(k % c.dirs)}/f${pad(k, 5)}.bin`;
const kib = (bytes: number): number => bytes / 1024;

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick);
  const { stale } = checkBuilt();
  if (stale) ctx.log(`restart-vs-seed: warning: a file under src/ is newer than ${CLI} (npm run build?)`);
  const clis: CliProcess[] = [];
  let host: SshdHost | undefined;
  let paused = false;
  const start = (args: string[]): CliProcess => {
    const cli = new CliProcess(args);
    clis.push(cli);
    return cli;
  };
  try {
    [host] = await startSshdHosts(1);
    const h = host!;
    const src = await makeTempDir('fam-bench-rvs-src-');
    ctx.log(`restart-vs-seed: writing ${c.files} files × ${FILE_BYTES} B in ${c.dirs} directories`);
    for (let d = 0; d < c.dirs; d++) await mkdir(join(src, dirName(d)));
    await forEachLimit(c.files, 32, (k) => writeFile(join(src, fileName(k, c)), randomBytes(FILE_BYTES)));

    // Other loopback traffic on the machine would be counted too: measured before and after (expected: 0).
    const loIdleBefore = await loopbackRate(ctx);

    const argsFor = (state: string, dst: string): string[] => ['--state-dir', state, '--identity', h.identityFile, '--known-hosts', h.knownHostsFile, src, `ssh://${h.user}@127.0.0.1:${h.port}${dst}`];

    // ---------------------------------------------------------------- seeds
    const seedMs: number[] = [];
    const seedKiB: number[] = [];
    const seedChecks: Record<string, unknown>[] = [];
    let dst = '';
    let state = '';
    for (let s = 0; s < c.seeds; s++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      dst = await makeTempDir('fam-bench-rvs-dst-');
      state = await makeTempDir('fam-bench-rvs-state-');
      const logins0 = await h.logins();
      const cli = start(['--init', ...argsFor(state, dst)]);
      const seeded = await cli.waitForOutput(/seeded and watching/, SEED_DEADLINE_MS, '"seeded and watching"', ctx.signal);
      const diffs = await diffTrees(src, dst);
      if (diffs.length > 0) throw new Error(`seed ${s + 1}: replica differs after "seeded and watching": ${diffs.slice(0, 5).join('; ')}`);
      await waitQuiet(cli, ctx.signal);
      const rxAtStop = loRxBytes() - cli.rx0;
      const code = await cli.stop();
      if (code !== 0) throw new Error(`seed ${s + 1}: fam-mirror exited ${code} on SIGTERM (expected 0)\n${cli.tail()}`);
      const left = await cli.reapLeftovers();
      seedMs.push(seeded.ms);
      seedKiB.push(kib(seeded.rxBytes));
      seedChecks.push({ exitCode: code, sshdLogins: (await h.logins()) - logins0, kibUntilSigterm: round1(kib(rxAtStop)), leftovers: left, log: batchLines(cli.stdout) });
      ctx.log(`restart-vs-seed: seed ${s + 1}/${c.seeds}: ${seeded.ms.toFixed(0)} ms, ${kib(seeded.rxBytes).toFixed(0)} KiB`);
    }

    // ---------------------------------------------------------------- restarts
    const journal = join(state, hashName(src), 'journal');
    const args = argsFor(state, dst);
    const readyMs: number[] = [];
    const equalMs: number[] = [];
    const restartKiB: number[] = [];
    const restartChecks: Record<string, unknown>[] = [];
    let cursor = 0;
    for (let r = 0; r < c.restarts; r++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      // The mirror runs, level with the source.
      const base = start(args);
      await base.waitForOutput(/watching \(ready in/, READY_DEADLINE_MS, 'the first start to be ready', ctx.signal);
      await waitQuiet(base, ctx.signal);

      // The replica hangs; what the mirror sees is journaled but not confirmed.
      h.pause();
      paused = true;
      const changed = Array.from({ length: c.changedPaused }, () => fileName(cursor++, c));
      const added = Array.from({ length: ADDED }, (_, i) => `${dirName((i * 7 + r) % c.dirs)}/new-r${r}-${i}.bin`);
      for (const p of [...changed, ...added]) await writeFile(join(src, p), randomBytes(FILE_BYTES));
      const journaled = await waitJournaled(journal, [...changed, ...added], ctx.signal);
      await base.kill();
      const leftovers = await base.reapLeftovers();
      h.resume();
      paused = false;

      // Changes while no mirror runs.
      const changedDown = Array.from({ length: CHANGED_WHILE_DOWN }, () => fileName(cursor++, c));
      for (const p of changedDown) await writeFile(join(src, p), randomBytes(FILE_BYTES));
      const behind = (await diffTrees(src, dst)).length;
      if (behind === 0) throw new Error(`restart ${r + 1}: the replica is not behind before the restart`);
      const expected = await expectedState(src, [...changed, ...added, ...changedDown], c);
      await delay(SETTLE_MS, undefined, { signal: ctx.signal }).catch(() => {});

      const logins0 = await h.logins();
      const cli = start(args);
      const ready = cli.waitForOutput(/watching \(ready in/, READY_DEADLINE_MS, 'ready', ctx.signal);
      ready.catch(() => {}); // awaited below; an early failure of waitEqual must not leave it unhandled
      const equal = await waitEqual(src, dst, expected, cli, ctx.signal);
      const readyAt = await ready;
      const logins = (await h.logins()) - logins0;
      await waitQuiet(cli, ctx.signal);
      const rxAtStop = loRxBytes() - cli.rx0;
      const code = await cli.stop();
      if (code !== 0) throw new Error(`restart ${r + 1}: fam-mirror exited ${code} on SIGTERM (expected 0)\n${cli.tail()}`);
      const stopLeftovers = await cli.reapLeftovers();
      const fullPass = /synced full pass/.test(cli.stdout);
      // After a SIGKILL what changed since the last snapshot is unknown: the restart must reconcile.
      if (!fullPass) ctx.log(`restart-vs-seed: WARNING: restart ${r + 1} after SIGKILL ran no reconcile (itemized full pass)`);
      readyMs.push(readyAt.ms);
      equalMs.push(equal.moment.ms);
      restartKiB.push(kib(equal.moment.rxBytes));
      restartChecks.push({
        fullPass,
        exitCode: code,
        sshdLogins: logins,
        diffsBeforeRestart: behind,
        journalWaitMs: Math.round(journaled),
        leftoversAfterSigkill: leftovers,
        leftoversAfterSigterm: stopLeftovers,
        equalityPolls: equal.polls,
        fullDiffFallbacks: equal.fallbacks,
        kibUntilSigterm: round1(kib(rxAtStop)),
        log: batchLines(cli.stdout),
      });
      ctx.log(
        `restart-vs-seed: restart ${r + 1}/${c.restarts}: ready ${readyAt.ms.toFixed(0)} ms, equal ${equal.moment.ms.toFixed(0)} ms, ` +
          `${kib(equal.moment.rxBytes).toFixed(0)} KiB${fullPass ? ' (FULL PASS)' : ''}`,
      );
    }

    const loIdleAfter = await loopbackRate(ctx);

    const metrics: Metric[] = [
      { id: 'seed-ms', label: 'seed (--init): spawn → "seeded and watching"', samples: seedMs },
      { id: 'seed-kib', label: 'seed: bytes on lo over that interval', samples: seedKiB, unit: 'KiB' },
      { id: 'restart-ready-ms', label: 'restart: spawn → "watching (ready in …)"', samples: readyMs },
      { id: 'restart-ms', label: 'restart: spawn → replica tree equals source', samples: equalMs },
      { id: 'restart-kib', label: 'restart: bytes on lo over that interval', samples: restartKiB, unit: 'KiB' },
    ];
    return {
      params: {
        files: c.files,
        dirs: c.dirs,
        fileBytes: FILE_BYTES,
        seeds: c.seeds,
        restarts: c.restarts,
        perRestart: { changedWhileReplicaPaused: c.changedPaused, addedWhileReplicaPaused: ADDED, changedWhileMirrorDown: CHANGED_WHILE_DOWN },
        payloadKiB: { seed: (c.files * FILE_BYTES) / 1024, restart: ((c.changedPaused + ADDED + CHANGED_WHILE_DOWN) * FILE_BYTES) / 1024 },
        contents: 'random bytes (incompressible); a changed file is rewritten whole with new random bytes, same size',
        commands: {
          seed: ['node', CLI, '--init', ...argsFor('STATE', 'DST')],
          restart: ['node', CLI, ...argsFor('STATE', 'DST')],
        },
        equality: `poll every ${POLL_MS} ms: the touched files (size, mtime, content) and every directory's mtime on the replica; then diffTrees(src, dst) must be empty (else diffTrees is polled until it is)`,
        bytes: '/sys/class/net/lo/statistics/rx_bytes delta: both directions of all loopback traffic, headers included',
      },
      metrics,
      ratios: [
        { label: 'restart time (to equal) / seed time', numerator: 'restart-ms', denominator: 'seed-ms' },
        { label: 'restart bytes / seed bytes', numerator: 'restart-kib', denominator: 'seed-kib' },
        { label: 'restart time to ready / seed time', numerator: 'restart-ready-ms', denominator: 'seed-ms' },
      ],
      checks: {
        fullPassOnRestart: restartChecks.map((x) => x.fullPass),
        distStale: stale,
        loIdleBytesPerSec: { before: loIdleBefore, after: loIdleAfter },
        seeds: seedChecks,
        restarts: restartChecks,
      },
    };
  } finally {
    for (const cli of clis) await cli.killAll().catch((e: Error) => ctx.log(`warning: ${e.message}`));
    if (paused) host?.resume();
    await stopAll();
    await cleanupTempDirs();
  }
}

/** Bytes per second on lo over one idle second; logs a warning when something else is using it. */
async function loopbackRate(ctx: ScenarioContext): Promise<number> {
  const before = loRxBytes();
  await delay(1000, undefined, { signal: ctx.signal }).catch(() => {});
  const rate = loRxBytes() - before;
  if (rate > LO_IDLE_LIMIT) {
    ctx.log(`restart-vs-seed: WARNING: ${Math.round(rate / 1024)} KiB/s on lo with nothing of ours running: the byte figures include other traffic`);
  }
  return rate;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The CLI's batch lines, without their timestamps (for the JSON). */
function batchLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => / synced /.test(l))
    .map((l) => l.replace(/^\S+ /, ''))
    .slice(0, 20);
}

async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Waits (bounded) until the CLI has printed nothing for QUIET_MS. */
async function waitQuiet(cli: CliProcess, signal: AbortSignal, deadlineMs = 15_000): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let seen = cli.stdout.length;
  let since = performance.now();
  const maxPolls = Math.ceil(deadlineMs / 50) + 10;
  for (let i = 0; i < maxPolls && performance.now() < deadline; i++) {
    if (signal.aborted) throw new Error('aborted');
    if (cli.stdout.length !== seen) {
      seen = cli.stdout.length;
      since = performance.now();
    } else if (performance.now() - since >= QUIET_MS) return;
    await delay(50);
  }
  throw new Error(`fam-mirror kept logging for ${deadlineMs} ms\n${cli.tail()}`);
}

/** Polls the journal until every path is in it; returns how long that took. */
async function waitJournaled(journal: string, paths: readonly string[], signal: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const maxPolls = Math.ceil(JOURNAL_DEADLINE_MS / 20) + 10;
  let missing = paths.length;
  for (let i = 0; i < maxPolls && performance.now() - t0 < JOURNAL_DEADLINE_MS; i++) {
    if (signal.aborted) throw new Error('aborted');
    const buf = await readFile(journal).catch(() => Buffer.alloc(0));
    const have = new Set(decodeJournal(buf).records.flatMap((r) => r.paths));
    missing = paths.filter((p) => !have.has(p)).length;
    if (missing === 0) return performance.now() - t0;
    await delay(20);
  }
  throw new Error(`${missing} of ${paths.length} changed paths not in the journal after ${JOURNAL_DEADLINE_MS} ms`);
}

interface Expected {
  files: { path: string; size: number; mtimeMs: number; content: Buffer }[];
  dirs: { path: string; mtimeMs: number }[];
}

/** What the replica must show for the touched files and for every directory (read from the source). */
async function expectedState(src: string, touched: readonly string[], c: Config): Promise<Expected> {
  const files = await Promise.all(
    [...new Set(touched)].map(async (path) => {
      const st = await lstat(join(src, path));
      return { path, size: st.size, mtimeMs: Math.floor(st.mtimeMs), content: await readFile(join(src, path)) };
    }),
  );
  const dirs = await Promise.all(Array.from({ length: c.dirs }, async (_, d) => ({ path: dirName(d), mtimeMs: Math.floor((await lstat(join(src, dirName(d)))).mtimeMs) })));
  return { files, dirs };
}

async function fileMatches(dst: string, f: Expected['files'][number]): Promise<boolean> {
  try {
    const st = await lstat(join(dst, f.path));
    if (!st.isFile() || st.size !== f.size || Math.floor(st.mtimeMs) !== f.mtimeMs) return false;
    return (await readFile(join(dst, f.path))).equals(f.content);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function dirMatches(dst: string, d: Expected['dirs'][number]): Promise<boolean> {
  try {
    return Math.floor((await lstat(join(dst, d.path))).mtimeMs) === d.mtimeMs;
  } catch {
    return false;
  }
}

/**
 * The moment the replica equals the source: the first poll at whose end every touched file and every
 * directory matched, provided a full diffTrees right after finds no difference. If it does find one
 * (something the cheap check does not look at), diffTrees itself is polled and the end of the first
 * empty one is the moment. Either way the figure is an upper bound, within one poll (≈ POLL_MS + the
 * check's own time) of the truth.
 */
async function waitEqual(src: string, dst: string, exp: Expected, cli: CliProcess, signal: AbortSignal): Promise<{ moment: Moment; polls: number; fallbacks: number }> {
  const deadline = cli.t0 + EQUAL_DEADLINE_MS;
  const pending = new Set(exp.files);
  const maxPolls = Math.ceil(EQUAL_DEADLINE_MS / POLL_MS) + 10;
  let fallbacks = 0;
  for (let poll = 1; poll <= maxPolls; poll++) {
    if (signal.aborted) throw new Error('aborted');
    for (const f of [...pending]) if (await fileMatches(dst, f)) pending.delete(f);
    if (pending.size === 0 && (await Promise.all(exp.dirs.map((d) => dirMatches(dst, d)))).every(Boolean)) {
      const moment = { ms: performance.now() - cli.t0, rxBytes: loRxBytes() - cli.rx0 };
      let diffs = await diffTrees(src, dst);
      if (diffs.length === 0) return { moment, polls: poll, fallbacks };
      // Bounded by the same deadline; each diffTrees is a full walk of both trees.
      for (let i = 0; i < maxPolls && performance.now() < deadline; i++) {
        fallbacks++;
        diffs = await diffTrees(src, dst);
        if (diffs.length === 0) return { moment: { ms: performance.now() - cli.t0, rxBytes: loRxBytes() - cli.rx0 }, polls: poll, fallbacks };
        if (signal.aborted) throw new Error('aborted');
        await delay(POLL_MS);
      }
      throw new Error(`replica not equal to the source within ${EQUAL_DEADLINE_MS} ms: ${diffs.slice(0, 5).join('; ')}\n${cli.tail()}`);
    }
    if (cli.exit !== undefined) throw new Error(`fam-mirror exited (${JSON.stringify(cli.exit)}) before the replica caught up\n${cli.tail()}`);
    if (performance.now() >= deadline) break;
    await delay(POLL_MS);
  }
  throw new Error(`replica not caught up within ${EQUAL_DEADLINE_MS} ms: ${pending.size} of ${exp.files.length} touched files still differ\n${cli.tail()}`);
}

/**
 * Scenario — start-up on a big tree whose replica is already in sync (issue 4, 1d). `startup-100k`
 * runs in every bench; `startup-1m` (1,000,000 directories, one run of each) only when named with --only.
 *
 * The tree: 100,000 directories (quick: 5,000), two levels (T top directories of L subdirectories
 * each), one small file in every directory. One replica (one sshd), made level with the source by a
 * local `rsync -a` before anything is timed. The page cache is warm for every run (the tree was just
 * written and read).
 *
 *  - fam-mirror: `node dist/cli.js --state-dir NEW SRC ssh://…/DST`, a first start (new state dir: the
 *    replica is taken as in step, nothing is sent), timed from spawn to the stdout chunk "watching
 *    (ready in …)";
 *  - fam-mirror --init on the same in-sync replica: the same plus a full rsync pass that checks
 *    every entry (what lsyncd's start-up does), spawn → "seeded and watching";
 *  - lsyncd default.rsyncssh over a ControlMaster: spawn → the "Startup of … finished" line (it adds
 *    its watches, then runs its recursive start-up rsync).
 * For each: peak RSS (VmHWM of the process, read just before stopping it, once it has been quiet for
 * 1 s) and the inotify watches it holds (`inotify wd:` lines in /proc/PID/fdinfo/*).
 * fs.inotify.max_user_watches is raised when the tree needs more headroom than it allows, and
 * restored afterwards.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startSshdHosts } from '../../test/helpers/sshd.js';
import { makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt } from '../lib/cli.js';
import { Cleanup, famActivity, startFam, startLsyncd, type Contender } from '../lib/contenders.js';
import { ensureLsyncd, skipNote } from '../lib/lsyncd.js';
import { writeWideTree } from '../lib/fsutil.js';
import { runTimed } from '../lib/proc.js';
import { inotifyWatches, vmHwmKiB } from '../lib/procstat.js';
import { raiseSysctlAtLeast } from '../lib/sysctl.js';
import type { Metric, Ratio, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const READY_DEADLINE_MS = 300_000;
/** Watches left for everything else the user runs while the benchmark holds one per directory. */
const WATCH_HEADROOM = 100_000;
const WATCHES_SYSCTL = 'fs.inotify.max_user_watches';

interface Config {
  top: number;
  perTop: number;
  famRuns: number;
  famInitRuns: number;
  lsyncdRuns: number;
}

const QUICK: Config = { top: 50, perTop: 99, famRuns: 1, famInitRuns: 1, lsyncdRuns: 1 };
const dirCount = (c: Config): number => c.top * (c.perTop + 1);

function makeScenario(id: string, full: Config, optIn: boolean): Scenario {
  const config = (quick: boolean): Config => (quick ? QUICK : full);
  return {
    id,
    title: optIn ? `start-up on ${dirCount(full).toLocaleString('en')} directories already in sync (opt-in): fam-mirror vs lsyncd` : 'start-up on a big tree already in sync: fam-mirror vs lsyncd',
    describe: (quick) => {
      const c = config(quick);
      return (
        `${dirCount(c)} directories (${c.top} × ${c.perTop + 1}), one small file each, 1 replica already level (warm page cache). ` +
        `fam-mirror CLI first start (×${c.famRuns}): spawn → "watching (ready in"; fam-mirror --init on the in-sync replica (×${c.famInitRuns}): spawn → "seeded and watching"; ` +
        `lsyncd rsyncssh over a ControlMaster (×${c.lsyncdRuns}): spawn → "Startup of … finished". Peak RSS = VmHWM, watches = inotify wd lines in /proc/PID/fdinfo.`
      );
    },
    run: (ctx) => run(ctx, config(ctx.quick)),
    ...(optIn ? { optIn, watchdogMs: 75 * 60_000 } : {}),
  };
}

export const startup100k = makeScenario('startup-100k', { top: 100, perTop: 999, famRuns: 3, famInitRuns: 2, lsyncdRuns: 2 }, false);
/** 1,000,000 directories: half an hour and ~1 GiB of kernel memory for the watches; only with --only startup-1m. */
export const startup1m = makeScenario('startup-1m', { top: 1000, perTop: 999, famRuns: 1, famInitRuns: 1, lsyncdRuns: 1 }, true);

async function run(ctx: ScenarioContext, c: Config): Promise<ScenarioResult> {
  const dirs = dirCount(c);
  const cleanup = new Cleanup();
  const notes: string[] = [];
  const checks: Record<string, unknown> = {};
  const samples = new Map<string, number[]>();
  const push = (id: string, v: number | undefined): void => {
    if (v !== undefined) samples.set(id, [...(samples.get(id) ?? []), v]);
  };
  try {
    const { stale } = checkBuilt();
    checks.distStale = stale;
    const lsyncd = await ensureLsyncd(ctx.log);
    checks.lsyncdAvailable = lsyncd;
    if (!lsyncd.ok) notes.push(skipNote(lsyncd));

    const raised = raiseSysctlAtLeast(WATCHES_SYSCTL, dirs + WATCH_HEADROOM);
    cleanup.add(WATCHES_SYSCTL, () => raised.restore());
    checks.maxUserWatches = { before: raised.before, during: raised.now, raised: raised.changed };

    const [host] = await startSshdHosts(1);
    const h = host!;
    const source = await makeTempDir('fam-bench-big-src-');
    const replica = await makeTempDir('fam-bench-big-dst-');
    ctx.log(`startup: writing ${dirs} directories with one file each`);
    let t = performance.now();
    writeWideTree(source, c.top, c.perTop, ctx.signal);
    checks.treeWriteMs = Math.round(performance.now() - t);
    t = performance.now();
    const level = await runTimed('rsync', ['-a', `${source}/`, `${replica}/`], READY_DEADLINE_MS);
    if (level.code !== 0) throw new Error(`local rsync to level the replica exited ${level.code}: ${level.stderr}`);
    checks.levelRsyncMs = Math.round(performance.now() - t);

    const perRun: Record<string, Record<string, unknown>[]> = {};
    const measure = async (id: string, start: (runCleanup: Cleanup) => Promise<Contender>): Promise<void> => {
      if (ctx.signal.aborted) throw new Error('aborted');
      const runCleanup = new Cleanup();
      try {
        const contender = await start(runCleanup);
        await contender.quiet(1000, 120_000, ctx.signal);
        const hwm = vmHwmKiB(contender.pid);
        const watches = inotifyWatches(contender.pid);
        const activity = contender.activity();
        const stop = await contender.stop();
        push(`${id}-ms`, contender.ready.ms);
        push(`${id}-rss`, hwm === undefined ? undefined : hwm / 1024);
        push(`${id}-watches`, watches);
        (perRun[id] ??= []).push({ readyMs: Math.round(contender.ready.ms), vmHwmKiB: hwm, watches, activity, stop });
        ctx.log(`startup: ${id}: ready ${contender.ready.ms.toFixed(0)} ms, VmHWM ${((hwm ?? 0) / 1024).toFixed(1)} MiB, ${watches} watches`);
      } finally {
        await runCleanup.run(ctx.log);
      }
      await delay(500, undefined, { signal: ctx.signal }).catch(() => {});
    };

    const famLog: string[] = [];
    for (let r = 0; r < c.famRuns; r++) {
      await measure('fam', async (runCleanup) => {
        const fam = await startFam({ hosts: [h], source, dirs: [replica], init: false, readyDeadlineMs: READY_DEADLINE_MS }, runCleanup, ctx.signal);
        return { ...fam, stop: async () => ({ ...(await fam.stop()), readyLine: /watching \(ready in (\d+) ms\)/.exec(fam.cli.stdout)?.[0], batches: famActivity(fam.cli.stdout) }) };
      });
    }
    for (let r = 0; r < c.famInitRuns; r++) {
      await measure('fam-init', async (runCleanup) => {
        const fam = await startFam({ hosts: [h], source, dirs: [replica], init: true, readyDeadlineMs: READY_DEADLINE_MS }, runCleanup, ctx.signal);
        famLog.push(
          ...fam.cli.stdout
            .split('\n')
            .filter((l) => / synced /.test(l))
            .map((l) => l.replace(/^\S+ /, '')),
        );
        return fam;
      });
    }
    if (lsyncd.ok) {
      const controlPath = join(await makeTempDir('fam-cm-'), 'cm-%p');
      for (let r = 0; r < c.lsyncdRuns; r++) {
        await measure('lsyncd', (runCleanup) =>
          startLsyncd({ hosts: [h], source, dirs: [replica], setup: { delay: 0, controlPath }, readyDeadlineMs: READY_DEADLINE_MS, id: 'lsyncd' }, runCleanup, ctx.signal),
        );
      }
    }
    checks.runs = perRun;
    checks.famInitLog = famLog.slice(0, 6);

    const metrics: Metric[] = [];
    const row = (id: string, label: string, unit?: string): void => {
      const v = samples.get(id);
      if (v !== undefined) metrics.push({ id, label, samples: v, ...(unit === undefined ? {} : { unit }) });
    };
    row('fam-ms', 'fam-mirror first start: spawn → "watching (ready in"');
    row('fam-init-ms', 'fam-mirror --init (full pass, in sync): spawn → "seeded"');
    row('lsyncd-ms', 'lsyncd (ControlMaster): spawn → "Startup … finished"');
    row('fam-rss', 'fam-mirror first start: peak RSS (VmHWM)', 'MiB');
    row('fam-init-rss', 'fam-mirror --init: peak RSS (VmHWM)', 'MiB');
    row('lsyncd-rss', 'lsyncd: peak RSS (VmHWM)', 'MiB');
    row('fam-watches', 'fam-mirror: inotify watches', 'watches');
    row('lsyncd-watches', 'lsyncd: inotify watches', 'watches');
    const ratios: Ratio[] = [];
    if (samples.has('lsyncd-ms')) {
      ratios.push({ label: 'fam-mirror ready / lsyncd start-up', numerator: 'fam-ms', denominator: 'lsyncd-ms' });
      ratios.push({ label: 'fam-mirror --init (full pass) / lsyncd start-up', numerator: 'fam-init-ms', denominator: 'lsyncd-ms' });
      ratios.push({ label: 'fam-mirror peak RSS / lsyncd peak RSS', numerator: 'fam-rss', denominator: 'lsyncd-rss' });
    }
    notes.push(`${WATCHES_SYSCTL}: ${raised.changed ? `raised ${raised.before} → ${raised.now} for the run, restored afterwards` : `${raised.before}, enough (not changed)`}`);
    return {
      params: { dirs, files: dirs, layout: `${c.top} top dirs × ${c.perTop} subdirs + the top dirs, one file each`, runs: { fam: c.famRuns, famInit: c.famInitRuns, lsyncd: c.lsyncdRuns } },
      metrics,
      ratios,
      checks,
      notes,
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

/**
 * Scenario — a burst of new files, fam-mirror vs lsyncd vs plain parallel rsync (issue 4, 1b).
 *
 * N new 4 KiB files (random bytes) are written as fast as possible (writeFileSync in a loop) into a
 * directory that already exists on every replica; the time from just before the first write until
 * all N are present (under their final names, i.e. complete: rsync renames a finished temp file into
 * place) on all 4 replicas, polled every 5 ms with readdir. N = 1,000 and 10,000 (quick: 200).
 *
 * Contenders, one after another, each on its own source and replica directories:
 *  - fam-mirror CLI (dist/cli.js), default settings (seeded with --init before the bursts);
 *  - lsyncd default.rsyncssh, delay 0, OpenSSH ControlMaster (its best configuration);
 *  - after every burst of either, with the contender idle: one plain `rsync -a -e "ssh …" SRC/
 *    USER@127.0.0.1:DIR/` per host, the 4 in parallel, over a ControlMaster warmed beforehand (so no
 *    login is timed), into directories that held everything but that burst: spawn → last exit. It
 *    starts with the files already written, so it does not pay the writing time that the mirrors
 *    (which start while the files are being written) do.
 * After each timed run the burst directory is compared with the source on every replica (content,
 * mtime, mode; directory mtimes not compared) outside the timing.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshdHosts } from '../../test/helpers/sshd.js';
import { diffTrees, makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt } from '../lib/cli.js';
import { Cleanup, rsyncToHosts, startFam, startLsyncd, syncedLines, warmControlMasters, type Contender, sumLogins } from '../lib/contenders.js';
import { finalEntries, waitEach } from '../lib/fsutil.js';
import { ensureLsyncd, skipNote } from '../lib/lsyncd.js';
import type { Metric, Ratio, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const HOSTS = 4;
const FILE_BYTES = 4096;
const POLL_MS = 5;
const READY_DEADLINE_MS = 120_000;
const RSYNC_TIMEOUT_MS = 300_000;

interface Config {
  sizes: { files: number; rounds: number }[];
}

const config = (quick: boolean): Config =>
  quick
    ? { sizes: [{ files: 200, rounds: 1 }] }
    : {
        sizes: [
          { files: 1000, rounds: 3 },
          { files: 10_000, rounds: 1 },
        ],
      };

const deadlineFor = (files: number): number => 60_000 + files * 20;

export const burst: Scenario = {
  id: 'burst',
  title: 'burst of new 4 KiB files → on all 4 replicas: fam-mirror vs lsyncd vs parallel rsync',
  describe: (quick) => {
    const c = config(quick);
    return (
      `${c.sizes.map((s) => `${s.files} files ×${s.rounds}`).join(', ')}: new ${FILE_BYTES / 1024} KiB files written as fast as possible into an existing directory; ` +
      'first write → all present (final names, readdir every 5 ms) on 4 replicas. fam-mirror CLI (defaults) vs lsyncd (Debian package) rsyncssh delay 0 over a ControlMaster; ' +
      'plain rsync: after each burst, `rsync -a SRC/ host:DIR/` to the 4 hosts in parallel over warmed ControlMasters (spawn → last exit; files already written).'
    );
  },
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick);
  const cleanup = new Cleanup();
  const notes: string[] = [];
  const checks: Record<string, unknown> = {};
  const samples = new Map<string, number[]>();
  const push = (id: string, v: number): void => {
    samples.set(id, [...(samples.get(id) ?? []), v]);
  };
  const commands: Record<string, unknown> = {};
  try {
    const { stale } = checkBuilt();
    checks.distStale = stale;
    const hosts = await startSshdHosts(HOSTS);
    const lsyncd = await ensureLsyncd(ctx.log);
    checks.lsyncdAvailable = lsyncd;
    if (!lsyncd.ok) notes.push(skipNote(lsyncd));
    const controlPath = join(await makeTempDir('fam-cm-'), 'cm-%p');
    await warmControlMasters(hosts, controlPath, cleanup);

    const phases: { id: string; start(src: string, dirs: string[]): Promise<Contender> }[] = [
      { id: 'fam', start: (source, dirs) => startFam({ hosts, source, dirs, init: true, readyDeadlineMs: READY_DEADLINE_MS }, cleanup, ctx.signal) },
    ];
    if (lsyncd.ok) {
      phases.push({
        id: 'lsyncd',
        start: (source, dirs) => startLsyncd({ hosts, source, dirs, setup: { delay: 0, controlPath }, readyDeadlineMs: READY_DEADLINE_MS, id: 'lsyncd' }, cleanup, ctx.signal),
      });
    }

    for (const phase of phases) {
      if (ctx.signal.aborted) throw new Error('aborted');
      const source = await makeTempDir(`fam-bench-burst-${phase.id}-src-`);
      writeFileSync(join(source, 'seed.txt'), 'seeded at start\n');
      const bursts = c.sizes.flatMap((s) => Array.from({ length: s.rounds }, (_, r) => ({ files: s.files, round: r, dir: `burst-${s.files}-${r}` })));
      for (const b of bursts) mkdirSync(join(source, b.dir));
      const dirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-burst-${phase.id}-r${i + 1}-`)));
      const rsyncDirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-burst-${phase.id}-rsync${i + 1}-`)));
      // The plain-rsync destinations start level with the source (untimed).
      await rsyncToHosts(hosts, `${source}/`, rsyncDirs, controlPath, RSYNC_TIMEOUT_MS);
      ctx.log(`burst: ${phase.id}: starting`);
      const contender = await phase.start(source, dirs);
      await contender.quiet(700, 30_000, ctx.signal);
      if ('config' in contender) commands[phase.id] = (contender as { config: string }).config;
      const phaseChecks: Record<string, unknown>[] = [];
      for (const b of bursts) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const payload = Array.from({ length: b.files }, () => randomBytes(FILE_BYTES));
        const act0 = contender.activity();
        const out0 = contender.output().length;
        const logins0 = await sumLogins(hosts);
        const t0 = performance.now();
        for (let k = 0; k < b.files; k++) writeFileSync(join(source, b.dir, `f-${String(k).padStart(5, '0')}.bin`), payload[k]!);
        const writeMs = performance.now() - t0;
        const each = await waitEach(HOSTS, async (i) => (await finalEntries(join(dirs[i]!, b.dir))) === b.files, t0, deadlineFor(b.files), POLL_MS, `${phase.id}: ${b.files} files`, ctx.signal);
        const ms = Math.max(...each);
        push(`${phase.id}-${b.files}`, ms);
        await contender.quiet(700, 120_000, ctx.signal);
        const act = contender.activity();
        const logins = (await sumLogins(hosts)) - logins0;
        await verify(source, dirs, b.dir, `${phase.id} burst ${b.dir}`);

        const plain = await rsyncToHosts(hosts, `${source}/`, rsyncDirs, controlPath, RSYNC_TIMEOUT_MS);
        push(`rsync-${b.files}`, plain.ms);
        commands.rsync ??= plain.commands;
        await verify(source, rsyncDirs, b.dir, `plain rsync after ${phase.id} burst ${b.dir}`);
        phaseChecks.push({
          burst: b.dir,
          writeMs: Math.round(writeMs),
          perReplicaMs: each.map(Math.round),
          activity: Object.fromEntries(Object.entries(act).map(([k, n]) => [k, n - (act0[k] ?? 0)])),
          sshdLogins: logins,
          ...(phase.id === 'fam' ? { log: syncedLines(contender.output().slice(out0)) } : {}),
          plainRsyncPerHostMs: plain.runs.map((r) => Math.round(r.ms)),
        });
        ctx.log(`burst: ${phase.id}: ${b.files} files on all 4 in ${ms.toFixed(0)} ms (written in ${writeMs.toFixed(0)} ms); plain parallel rsync ${plain.ms.toFixed(0)} ms`);
      }
      checks[phase.id] = { readyMs: Math.round(contender.ready.ms), bursts: phaseChecks, stop: await contender.stop() };
    }

    const metrics: Metric[] = [];
    const ratios: Ratio[] = [];
    for (const s of c.sizes) {
      const row = (id: string, label: string): void => {
        const v = samples.get(id);
        if (v !== undefined) metrics.push({ id, label, samples: v });
      };
      row(`fam-${s.files}`, `${s.files} files: fam-mirror (defaults), all 4 replicas`);
      row(`lsyncd-${s.files}`, `${s.files} files: lsyncd delay 0, ControlMaster, all 4`);
      row(`rsync-${s.files}`, `${s.files} files: plain rsync -a ×4 in parallel, ControlMaster`);
      if (samples.has(`lsyncd-${s.files}`)) ratios.push({ label: `${s.files} files: fam-mirror / lsyncd best`, numerator: `fam-${s.files}`, denominator: `lsyncd-${s.files}` });
      ratios.push({ label: `${s.files} files: fam-mirror / plain parallel rsync`, numerator: `fam-${s.files}`, denominator: `rsync-${s.files}` });
      if (samples.has(`lsyncd-${s.files}`)) ratios.push({ label: `${s.files} files: lsyncd best / plain parallel rsync`, numerator: `lsyncd-${s.files}`, denominator: `rsync-${s.files}` });
    }
    notes.push('plain rsync rows: one sample after every burst of either contender (files already written, ControlMasters warm, contender idle)');
    return {
      params: { hosts: HOSTS, fileBytes: FILE_BYTES, sizes: c.sizes, pollMs: POLL_MS, commands },
      metrics,
      ratios,
      checks,
      notes,
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

/** The burst directory on every replica equals the source's (directory mtimes aside). */
async function verify(source: string, dirs: readonly string[], sub: string, what: string): Promise<void> {
  for (const d of dirs) {
    const diffs = await diffTrees(join(source, sub), join(d, sub), { dirMtime: false });
    if (diffs.length > 0) throw new Error(`${what}: ${d}/${sub} differs from the source: ${diffs.slice(0, 5).join('; ')}`);
  }
}

/**
 * Scenario — renaming a directory and deleting a subtree, 4 replicas (issue 4, 1f).
 *
 * The source holds `mv-0/` (1,000 files × 4 KiB, random bytes) and one 1,000-file subtree per round
 * (`del-R/`: 10 subdirectories × 100 files × 4 KiB). Each round, with the contender idle:
 *  - rename: `rename(mv-R, mv-R+1)` (one syscall), timed until on all 4 replicas `mv-R` is gone and
 *    `mv-R+1` holds its 1,000 files under their final names;
 *  - delete: `rm -r del-R`, timed until `del-R` is gone on all 4 replicas.
 * Polled every 2 ms. Bytes: lo rx_bytes from just before the operation until loopback is quiet again
 * (< 2 KiB in 300 ms: the transfer and its trailing acks are over), both directions of all loopback
 * traffic (the machine is otherwise idle: checked before the run). The data renamed is 1,000 × 4 KiB
 * per replica, 16,000 KiB on the 4. After each operation the replicas are compared with the source
 * (outside the timing).
 *
 * Contenders, each on its own source and replicas: the fam-mirror CLI (default settings, seeded with
 * --init); lsyncd default.rsyncssh, delay 0, ControlMaster (its best configuration: a move becomes
 * `ssh HOST mv A B`); and lsyncd default.rsync, delay 0, ControlMaster (everything by rsync) for
 * comparison.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshdHosts } from '../../test/helpers/sshd.js';
import { makeTempDir, snapshotTree } from '../../test/helpers/tree.js';
import { checkBuilt, loRxBytes } from '../lib/cli.js';
import { Cleanup, startFam, startLsyncd, syncedLines, type Contender } from '../lib/contenders.js';
import { compareSnapshots, exists, finalEntries, KiB, loIdleRate, waitEach, waitLoQuiet } from '../lib/fsutil.js';
import { ensureLsyncd, skipNote } from '../lib/lsyncd.js';
import type { Metric, Ratio, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const HOSTS = 4;
const FILES = 1000;
const FILE_BYTES = 4096;
const DEL_DIRS = 10;
const POLL_MS = 2;
const READY_DEADLINE_MS = 120_000;
const OP_DEADLINE_MS = 60_000;
const QUIET_WINDOW_MS = 300;
const QUIET_BYTES = 2048;

const roundsFor = (quick: boolean): number => (quick ? 1 : 5);

export const renameDelete: Scenario = {
  id: 'rename-delete',
  title: 'rename a 1,000-file directory, rm -r a 1,000-file subtree: 4 replicas',
  describe: (quick) =>
    `${roundsFor(quick)} round(s) per contender: rename(mv-R, mv-R+1) of a directory of ${FILES} × ${FILE_BYTES / 1024} KiB files, then rm -r of a ${FILES}-file subtree (${DEL_DIRS} dirs); ` +
    'time until all 4 replicas reflect it (polled every 2 ms), KiB = lo rx_bytes until loopback is quiet again (both directions). ' +
    'fam-mirror CLI (defaults) vs lsyncd (Debian package) delay 0 over a ControlMaster: default.rsyncssh (moves by ssh mv) and default.rsync.',
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const rounds = roundsFor(ctx.quick);
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
    checks.loIdleBytesPerSecBefore = await loIdleRate(ctx.signal);

    const variants: { id: string; start(src: string, dirs: string[]): Promise<Contender> }[] = [
      { id: 'fam', start: (source, dirs) => startFam({ hosts, source, dirs, init: true, readyDeadlineMs: READY_DEADLINE_MS }, cleanup, ctx.signal) },
    ];
    if (lsyncd.ok) {
      for (const [id, mode] of [
        ['lsyncd', 'rsyncssh'],
        ['lsyncd-rsync', 'rsync'],
      ] as const) {
        variants.push({
          id,
          start: (source, dirs) => startLsyncd({ hosts, source, dirs, setup: { delay: 0, controlPath, mode }, readyDeadlineMs: READY_DEADLINE_MS, id }, cleanup, ctx.signal),
        });
      }
    }

    for (const v of variants) {
      if (ctx.signal.aborted) throw new Error('aborted');
      const source = await makeTempDir(`fam-bench-mv-${v.id}-src-`);
      mkdirSync(join(source, 'mv-0'));
      const data = randomBytes(FILES * FILE_BYTES);
      for (let k = 0; k < FILES; k++) writeFileSync(join(source, 'mv-0', `f-${String(k).padStart(4, '0')}.bin`), data.subarray(k * FILE_BYTES, (k + 1) * FILE_BYTES));
      for (let r = 0; r < rounds; r++) {
        for (let d = 0; d < DEL_DIRS; d++) {
          const dir = join(source, `del-${r}`, `s${d}`);
          mkdirSync(dir, { recursive: true });
          const bytes = randomBytes((FILES / DEL_DIRS) * FILE_BYTES);
          for (let k = 0; k < FILES / DEL_DIRS; k++) writeFileSync(join(dir, `g-${k}.bin`), bytes.subarray(k * FILE_BYTES, (k + 1) * FILE_BYTES));
        }
      }
      const dirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-mv-${v.id}-r${i + 1}-`)));
      ctx.log(`rename-delete: ${v.id}: starting`);
      const contender = await v.start(source, dirs);
      await contender.quiet(700, 60_000, ctx.signal);
      await waitLoQuiet(QUIET_WINDOW_MS, QUIET_BYTES, 10_000, ctx.signal);
      if ('config' in contender) commands[v.id] = (contender as { config: string }).config;
      const ops: Record<string, unknown>[] = [];

      const timed = async (op: string, act: () => void, done: (dst: string) => Promise<boolean>): Promise<void> => {
        const a0 = contender.activity();
        const out0 = contender.output().length;
        const rx0 = loRxBytes();
        const t0 = performance.now();
        act();
        const each = await waitEach(HOSTS, (i) => done(dirs[i]!), t0, OP_DEADLINE_MS, POLL_MS, `${v.id} ${op}`, ctx.signal);
        const ms = Math.max(...each);
        const rxVisible = loRxBytes() - rx0;
        await contender.quiet(700, 60_000, ctx.signal);
        const rxQuiet = (await waitLoQuiet(QUIET_WINDOW_MS, QUIET_BYTES, 20_000, ctx.signal)) - rx0;
        const a1 = contender.activity();
        push(`${v.id}-${op}`, ms);
        push(`${v.id}-${op}-kib`, KiB(rxQuiet));
        ops.push({
          op,
          ms: Math.round(ms),
          perReplicaMs: each.map(Math.round),
          kibUntilVisible: Math.round(KiB(rxVisible)),
          kibUntilQuiet: Math.round(KiB(rxQuiet)),
          activity: Object.fromEntries(Object.entries(a1).map(([k, n]) => [k, n - (a0[k] ?? 0)])),
          ...(v.id === 'fam' ? { log: syncedLines(contender.output().slice(out0)) } : {}),
        });
        ctx.log(`rename-delete: ${v.id}: ${op}: ${ms.toFixed(1)} ms, ${KiB(rxQuiet).toFixed(0)} KiB`);
      };

      for (let r = 0; r < rounds; r++) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const from = `mv-${r}`;
        const to = `mv-${r + 1}`;
        await timed(
          'rename',
          () => renameSync(join(source, from), join(source, to)),
          async (dst) => !(await exists(join(dst, from))) && (await finalEntries(join(dst, to))) === FILES,
        );
        const expected = await snapshotTree(join(source, to));
        for (const d of dirs) {
          const diffs = compareSnapshots(expected, await snapshotTree(join(d, to)), { dirMtime: false });
          if (diffs.length > 0) throw new Error(`${v.id}: after the rename, ${d}/${to} differs: ${diffs.join('; ')}`);
        }
        const del = `del-${r}`;
        await timed(
          'delete',
          () => rmSync(join(source, del), { recursive: true }),
          async (dst) => !(await exists(join(dst, del))),
        );
      }
      const top = await snapshotTree(source);
      for (const d of dirs) {
        const diffs = compareSnapshots(top, await snapshotTree(d), { dirMtime: false });
        if (diffs.length > 0) throw new Error(`${v.id}: at the end, ${d} differs from the source: ${diffs.join('; ')}`);
      }
      checks[v.id] = { readyMs: Math.round(contender.ready.ms), ops, stop: await contender.stop() };
    }

    const dataKiB = (HOSTS * FILES * FILE_BYTES) / 1024;
    const labels: Record<string, string> = { fam: 'fam-mirror (defaults)', lsyncd: 'lsyncd rsyncssh (ssh mv), CM', 'lsyncd-rsync': 'lsyncd default.rsync, CM' };
    const metrics: Metric[] = [];
    for (const op of ['rename', 'delete']) {
      for (const id of Object.keys(labels)) {
        const v = samples.get(`${id}-${op}`);
        if (v !== undefined) metrics.push({ id: `${id}-${op}`, label: `${op}: ${labels[id]}, all 4`, samples: v });
      }
      for (const id of Object.keys(labels)) {
        const v = samples.get(`${id}-${op}-kib`);
        if (v !== undefined) metrics.push({ id: `${id}-${op}-kib`, label: `${op}: ${labels[id]}, bytes on lo`, samples: v, unit: 'KiB' });
      }
    }
    metrics.push({ id: 'data-kib', label: 'data renamed: 1,000 × 4 KiB × 4 replicas', samples: [dataKiB], unit: 'KiB' });
    const ratios: Ratio[] = [{ label: 'fam-mirror rename: bytes on lo / data renamed', numerator: 'fam-rename-kib', denominator: 'data-kib' }];
    if (samples.has('lsyncd-rename')) {
      ratios.push(
        { label: 'lsyncd rsyncssh rename: bytes on lo / data renamed', numerator: 'lsyncd-rename-kib', denominator: 'data-kib' },
        { label: 'lsyncd default.rsync rename: bytes on lo / data renamed', numerator: 'lsyncd-rsync-rename-kib', denominator: 'data-kib' },
        { label: 'rename time: fam-mirror / lsyncd best (rsyncssh)', numerator: 'fam-rename', denominator: 'lsyncd-rename' },
        { label: 'rm -r time: fam-mirror / lsyncd best (rsyncssh)', numerator: 'fam-delete', denominator: 'lsyncd-delete' },
        { label: 'rm -r time: fam-mirror / lsyncd default.rsync', numerator: 'fam-delete', denominator: 'lsyncd-rsync-delete' },
      );
    }
    return {
      params: {
        hosts: HOSTS,
        files: FILES,
        fileBytes: FILE_BYTES,
        deleteSubtree: `${DEL_DIRS} dirs × ${FILES / DEL_DIRS} files`,
        rounds,
        pollMs: POLL_MS,
        quiet: `< ${QUIET_BYTES} B on lo in ${QUIET_WINDOW_MS} ms`,
        commands,
      },
      metrics,
      ratios,
      checks,
      notes,
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

/**
 * Scenario — the initial seed of 4 empty replicas (issue 4, 1c): fam-mirror's INIT_MIRROR seed vs a
 * plain `rsync -a` to the 4 hosts in parallel.
 *
 * The tree: 5,000 directories × 10 files × 4 KiB of random bytes, 195 MiB (quick: 100 × 10). Each
 * round, onto 4 new empty replica directories (one sshd each):
 *  - fam-mirror: `node dist/cli.js --init --state-dir S … SRC ssh://…/DIR1 … ssh://…/DIR4`, timed from
 *    just before spawn() to the stdout chunk saying "seeded and watching" (that includes starting
 *    node, the watcher's crawl, the ssh logins and the full rsync pass to every replica);
 *  - plain: `rsync -a -e "ssh …" SRC/ USER@127.0.0.1:DIR/` to each host at once (a fresh login each,
 *    as an operator would seed), spawn → last exit.
 * The order alternates every round. Afterwards (untimed) every replica is compared with the source
 * (path, type, mode, size, sha1, mtime) and `sync` flushes the page cache's dirty pages, so every run
 * starts from the same state (the replicas are deleted at the end, not between rounds). Bytes: lo
 * rx_bytes over the timed interval.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshdHosts, stopAll } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir, snapshotTree, type TreeEntry } from '../../test/helpers/tree.js';
import { checkBuilt, loRxBytes } from '../lib/cli.js';
import { Cleanup, famActivity, rsyncToHosts, startFam } from '../lib/contenders.js';
import { compareSnapshots, KiB, loIdleRate } from '../lib/fsutil.js';
import { runTimed } from '../lib/proc.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const HOSTS = 4;
const FILE_BYTES = 4096;
const SEED_DEADLINE_MS = 300_000;

interface Config {
  dirs: number;
  filesPerDir: number;
  rounds: number;
}

const config = (quick: boolean): Config => (quick ? { dirs: 100, filesPerDir: 10, rounds: 1 } : { dirs: 5000, filesPerDir: 10, rounds: 3 });

export const seed: Scenario = {
  id: 'seed',
  title: 'seed of 4 empty replicas: fam-mirror --init vs plain parallel rsync',
  describe: (quick) => {
    const c = config(quick);
    const mib = (c.dirs * c.filesPerDir * FILE_BYTES) / 2 ** 20;
    return (
      `${c.dirs} dirs × ${c.filesPerDir} files × ${FILE_BYTES / 1024} KiB (${mib.toFixed(0)} MiB, random), ${c.rounds} round(s), 4 new empty replicas each: ` +
      'fam-mirror CLI --init, spawn → "seeded and watching"; vs rsync -a -e ssh (fresh login) to the 4 hosts in parallel, spawn → last exit. KiB = lo rx_bytes over the same interval.'
    );
  },
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick);
  const cleanup = new Cleanup();
  const checks: Record<string, unknown> = {};
  const famMs: number[] = [];
  const famKiB: number[] = [];
  const rsyncMs: number[] = [];
  const rsyncKiB: number[] = [];
  let commands: unknown;
  try {
    const { stale } = checkBuilt();
    checks.distStale = stale;
    const hosts = await startSshdHosts(HOSTS);
    const source = await makeTempDir('fam-bench-seed-src-');
    ctx.log(`seed: writing ${c.dirs * c.filesPerDir} files × ${FILE_BYTES} B in ${c.dirs} directories`);
    const t = performance.now();
    for (let d = 0; d < c.dirs; d++) {
      const dir = join(source, `d${String(d).padStart(5, '0')}`);
      mkdirSync(dir);
      const data = randomBytes(FILE_BYTES * c.filesPerDir);
      for (let f = 0; f < c.filesPerDir; f++) writeFileSync(join(dir, `f${f}.bin`), data.subarray(f * FILE_BYTES, (f + 1) * FILE_BYTES));
      if (d % 500 === 499 && ctx.signal.aborted) throw new Error('aborted');
    }
    checks.treeWriteMs = Math.round(performance.now() - t);
    const expected = await snapshotTree(source);
    await runTimed('sync', [], 120_000);
    checks.loIdleBytesPerSecBefore = await loIdleRate(ctx.signal);

    const famRuns: Record<string, unknown>[] = [];
    const rsyncRuns: Record<string, unknown>[] = [];
    for (let r = 0; r < c.rounds; r++) {
      for (const which of r % 2 === 0 ? ['fam', 'rsync'] : ['rsync', 'fam']) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const dirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-seed-${which}-r${i + 1}-`)));
        if (which === 'fam') {
          const roundCleanup = new Cleanup();
          try {
            const fam = await startFam({ hosts, source, dirs, init: true, readyDeadlineMs: SEED_DEADLINE_MS }, roundCleanup, ctx.signal);
            famMs.push(fam.ready.ms);
            famKiB.push(KiB(fam.ready.rxBytes));
            commands ??= fam.cli.child.spawnargs;
            const stop = await fam.stop();
            famRuns.push({
              ms: Math.round(fam.ready.ms),
              log: famActivity(fam.cli.stdout),
              lines: fam.cli.stdout
                .split('\n')
                .filter((l) => / synced /.test(l))
                .map((l) => l.replace(/^\S+ /, '')),
              stop,
            });
            ctx.log(`seed: fam-mirror round ${r + 1}: ${fam.ready.ms.toFixed(0)} ms, ${KiB(fam.ready.rxBytes).toFixed(0)} KiB`);
          } finally {
            await roundCleanup.run(ctx.log);
          }
        } else {
          const rx0 = loRxBytes();
          const plain = await rsyncToHosts(hosts, `${source}/`, dirs, undefined, SEED_DEADLINE_MS);
          const rx = loRxBytes() - rx0;
          rsyncMs.push(plain.ms);
          rsyncKiB.push(KiB(rx));
          rsyncRuns.push({ ms: Math.round(plain.ms), perHostMs: plain.runs.map((x) => Math.round(x.ms)) });
          ctx.log(`seed: plain parallel rsync round ${r + 1}: ${plain.ms.toFixed(0)} ms, ${KiB(rx).toFixed(0)} KiB`);
        }
        await verifyAll(expected, dirs, which);
        // Kept until the end: deleting 200,000 files between rounds (ext4 online discard here) stalled
        // the next round's writes. `sync` flushes this round's dirty pages before the next is timed.
        await runTimed('sync', [], 120_000);
      }
    }
    checks.fam = famRuns;
    checks.rsync = rsyncRuns;
    return {
      params: {
        hosts: HOSTS,
        dirs: c.dirs,
        filesPerDir: c.filesPerDir,
        fileBytes: FILE_BYTES,
        payloadKiB: (c.dirs * c.filesPerDir * FILE_BYTES) / 1024,
        rounds: c.rounds,
        commands: { fam: commands, rsync: 'rsync -a -e "ssh -F none -i KEY -p PORT -o UserKnownHostsFile=KH -o BatchMode=yes -o IdentitiesOnly=yes" SRC/ USER@127.0.0.1:DIR/ (×4, in parallel)' },
      },
      metrics: [
        { id: 'fam', label: 'fam-mirror --init: spawn → "seeded and watching"', samples: famMs },
        { id: 'rsync', label: 'plain rsync -a ×4 in parallel (fresh logins)', samples: rsyncMs },
        { id: 'fam-kib', label: 'fam-mirror: bytes on lo', samples: famKiB, unit: 'KiB' },
        { id: 'rsync-kib', label: 'plain rsync: bytes on lo', samples: rsyncKiB, unit: 'KiB' },
      ],
      ratios: [
        { label: 'fam-mirror seed time / plain parallel rsync', numerator: 'fam', denominator: 'rsync' },
        { label: 'fam-mirror seed bytes / plain parallel rsync', numerator: 'fam-kib', denominator: 'rsync-kib' },
      ],
      checks,
    };
  } finally {
    await cleanup.run(ctx.log);
    await stopAll();
    await cleanupTempDirs();
  }
}

async function verifyAll(expected: readonly TreeEntry[], dirs: readonly string[], what: string): Promise<void> {
  for (const d of dirs) {
    const diffs = compareSnapshots(expected, await snapshotTree(d));
    if (diffs.length > 0) throw new Error(`seed (${what}): ${d} differs from the source: ${diffs.join('; ')}`);
  }
}

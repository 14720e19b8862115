/**
 * Scenario 1 — one-file change, end to end: write a small new file in the source, then poll every
 * replica until the file is there with the right content. Measures what a user of a web farm sees
 * (watcher latency + quiet window + probe/plan + rsync over the ssh2 bridge), per replica and for
 * "all replicas" (the slowest of the round).
 *
 * Not flush(): it adds a watcher barrier that a user does not wait for (flush() only quiesces the Mirror
 * between rounds, outside the timed interval). Every write meets an idle @parcel/watcher, which delivers
 * the first event after ≥ 500 ms of quiet at once (field-notes.md, "Debounce"); otherwise rounds would
 * measure its batching interval.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type SyncedEvent } from '../../src/index.js';
import { startSshdHosts, stopAll } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../../test/helpers/tree.js';
import { sleepUntil, waitVisible } from '../lib/poll.js';
import type { Metric, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';
import { closeQuietly, countValues, problemLog, ROUND_GAP_MS, VISIBLE_DEADLINE_MS, WATCHER_IDLE_MS, withDeadline } from './common.js';

const WARMUP_ROUNDS = 1;

export const oneFileEndToEnd: Scenario = {
  id: 'one-file-e2e',
  title: 'one-file change end to end',
  describe: (quick) =>
    `${quick ? 5 : 30} rounds (+${WARMUP_ROUNDS} warm-up): write one new small file in the source, poll (1 ms) until it is complete on every replica. ` +
    'Mirror with 2 ssh replicas (own sshd each, ssh2 bridge) + 1 local replica; default options (quietMs 10).',
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const rounds = ctx.quick ? 5 : 30;
  let mirror: Mirror | undefined;
  try {
    const hosts = await startSshdHosts(2);
    const source = await makeTempDir('fam-bench-src-');
    const dirs = [await makeTempDir('fam-bench-r1-'), await makeTempDir('fam-bench-r2-'), await makeTempDir('fam-bench-local-')];
    const specs = [`ssh://${hosts[0]!.user}@127.0.0.1:${hosts[0]!.port}${dirs[0]}`, `ssh://${hosts[1]!.user}@127.0.0.1:${hosts[1]!.port}${dirs[1]}`, dirs[2]!];
    const labels = ['ssh replica 1 (bridge)', 'ssh replica 2 (bridge)', 'local replica'];
    const ids = ['ssh1', 'ssh2', 'local'];
    await writeFile(join(source, 'seed.txt'), 'seeded at start\n');

    mirror = new Mirror({
      source,
      replicas: specs,
      identityFiles: [hosts[0]!.identityFile],
      knownHostsFiles: [hosts[0]!.knownHostsFile],
      initMirror: true,
    });
    const synced: SyncedEvent[] = [];
    mirror.on('synced', (e) => synced.push(e));
    const problems = problemLog(mirror);
    ctx.log(`one-file-e2e: seeding ${specs.length} replicas`);
    await mirror.start();
    const replicaIds = mirror.status().map((s) => s.replica);
    const loginsBefore = await Promise.all(hosts.map((h) => h.logins()));

    const visible: number[][] = ids.map(() => []);
    const all: number[] = [];
    const batch: number[][] = ids.map(() => []);
    const batchesPerRound: number[][] = ids.map(() => []);
    let idleSince = performance.now();
    let last = idleSince;
    for (let r = -WARMUP_ROUNDS; r < rounds; r++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      await sleepUntil(Math.max(last + ROUND_GAP_MS, idleSince + WATCHER_IDLE_MS), ctx.signal);
      const name = `round-${String(r + WARMUP_ROUNDS).padStart(3, '0')}.txt`;
      const content = Buffer.from(`round ${r} ${randomUUID()}\n`);
      const firstEvent = synced.length;
      const t0 = performance.now();
      last = t0;
      await writeFile(join(source, name), content);
      const ms = await waitVisible(
        dirs.map((d) => join(d, name)),
        content,
        t0,
        VISIBLE_DEADLINE_MS,
        ctx.signal,
      );
      // Let the Mirror go idle before the next round (outside the measurement): a write can reach it as
      // two watcher deliveries ~50 ms apart (create, then modify), hence a second batch per replica.
      await withDeadline(mirror.flush(), VISIBLE_DEADLINE_MS, 'Mirror.flush()', ctx.signal);
      idleSince = performance.now();
      if (r < 0) continue;
      ms.forEach((v, i) => {
        visible[i]!.push(v);
      });
      all.push(Math.max(...ms));
      const events = synced.slice(firstEvent);
      replicaIds.forEach((id, i) => {
        const mine = events.filter((e) => e.replica === id);
        batchesPerRound[i]!.push(mine.length);
        // The round's first batch is the one that carried the file.
        if (mine[0] !== undefined) batch[i]!.push(mine[0].durationMs);
      });
      ctx.log(`one-file-e2e: round ${r + 1}/${rounds}: ${ms.map((v) => v.toFixed(1)).join(' / ')} ms`);
    }
    const loginsAfter = await Promise.all(hosts.map((h) => h.logins()));

    const metrics: Metric[] = [
      ...ids.map((id, i) => ({ id: `visible-${id}`, label: `write→visible, ${labels[i]}`, samples: visible[i]! })),
      { id: 'visible-all', label: 'write→visible, all 3 replicas', samples: all },
      ...ids.map((id, i) => ({ id: `batch-${id}`, label: `Mirror batch (synced.durationMs), ${labels[i]}`, samples: batch[i]! })),
    ];
    return {
      params: { rounds, warmupRounds: WARMUP_ROUNDS, roundGapMs: ROUND_GAP_MS, replicas: specs, mirrorOptions: 'defaults + initMirror' },
      metrics,
      ratios: [{ label: 'all 3 replicas (slowest of each round) / ssh replica 1', numerator: 'visible-all', denominator: 'visible-ssh1' }],
      checks: {
        sshLoginsDuringRounds: loginsAfter.map((n, i) => n - loginsBefore[i]!),
        batchesPerRound: Object.fromEntries(ids.map((id, i) => [id, countValues(batchesPerRound[i]!)])),
        problems,
      },
    };
  } finally {
    await closeQuietly(mirror, ctx);
    await stopAll();
    await cleanupTempDirs();
  }
}

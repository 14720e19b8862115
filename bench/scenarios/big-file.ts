/**
 * Scenario — a big file modified in place, continuously (issue 4, 1g).
 *
 * A 512 MiB file of random bytes (quick: 32 MiB), mirrored by the fam-mirror CLI (default settings,
 * seeded with --init) to 1 replica (one sshd). Each round: 4 KiB of new random bytes are written
 * (pwrite, one syscall) at a random offset 10 times a second for 30 s (quick: 3 s); then the writes
 * stop and the replica is polled (stat every 10 ms) until its size and mtime (ns) equal the source's;
 * a sha256 of both must then match (else the replica's sha256 is polled until it does: counted).
 *
 *  - lag: from the end of the last write to that moment;
 *  - bytes on the wire: lo rx_bytes from the first write to that moment (both directions of all
 *    loopback traffic; the machine is otherwise idle, checked before), next to what re-sending the
 *    whole file at every sync would cost (file size × the number of batches the CLI logged) and to
 *    the payload written (writes × 4 KiB).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startSshdHosts, stopAll } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt, loRxBytes } from '../lib/cli.js';
import { Cleanup, famActivity, startFam } from '../lib/contenders.js';
import { KiB, loIdleRate, sha256File } from '../lib/fsutil.js';
import { sleepUntil } from '../lib/poll.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const WRITE_BYTES = 4096;
const RATE_HZ = 10;
const POLL_MS = 10;
const SEED_DEADLINE_MS = 300_000;
const EQUAL_DEADLINE_MS = 120_000;

interface Config {
  sizeMiB: number;
  streamMs: number;
  rounds: number;
}

const config = (quick: boolean): Config => (quick ? { sizeMiB: 32, streamMs: 3_000, rounds: 1 } : { sizeMiB: 512, streamMs: 30_000, rounds: 2 });

export const bigFile: Scenario = {
  id: 'big-file',
  title: 'a big file modified in place 10 times a second: bytes on the wire and lag',
  describe: (quick) => {
    const c = config(quick);
    return (
      `${c.sizeMiB} MiB file (random), fam-mirror CLI (defaults) → 1 replica; ${c.rounds} round(s) of ${RATE_HZ} pwrites/s of ${WRITE_BYTES / 1024} KiB at random offsets for ${c.streamMs / 1000} s; ` +
      'lag = last write → replica size+mtime equal the source (stat every 10 ms; sha256 checked after); KiB = lo rx_bytes from the first write to that moment (both directions).'
    );
  },
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick);
  const size = c.sizeMiB * 2 ** 20;
  const cleanup = new Cleanup();
  const checks: Record<string, unknown> = {};
  const lag: number[] = [];
  const kib: number[] = [];
  const wholeFileKiB: number[] = [];
  const payloadKiB: number[] = [];
  try {
    const { stale } = checkBuilt();
    checks.distStale = stale;
    const [host] = await startSshdHosts(1);
    const source = await makeTempDir('fam-bench-big-src-');
    const replica = await makeTempDir('fam-bench-big-dst-');
    const file = join(source, 'big.bin');
    const chunk = 8 * 2 ** 20;
    let fd = openSync(file, 'w');
    try {
      for (let off = 0; off < size; off += chunk) writeSync(fd, randomBytes(Math.min(chunk, size - off)), 0, Math.min(chunk, size - off), off);
    } finally {
      closeSync(fd);
    }
    checks.loIdleBytesPerSecBefore = await loIdleRate(ctx.signal);
    ctx.log(`big-file: seeding ${c.sizeMiB} MiB`);
    const fam = await startFam({ hosts: [host!], source, dirs: [replica], init: true, readyDeadlineMs: SEED_DEADLINE_MS }, cleanup, ctx.signal);
    checks.seedMs = Math.round(fam.ready.ms);
    await fam.quiet(700, 60_000, ctx.signal);
    const dst = join(replica, 'big.bin');
    const rounds: Record<string, unknown>[] = [];
    for (let r = 0; r < c.rounds; r++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      const a0 = famActivity(fam.cli.stdout);
      const writes = Math.round((c.streamMs / 1000) * RATE_HZ);
      const rx0 = loRxBytes();
      const t0 = performance.now();
      fd = openSync(file, 'r+');
      try {
        for (let k = 0; k < writes; k++) {
          await sleepUntil(t0 + (k * 1000) / RATE_HZ, ctx.signal);
          if (ctx.signal.aborted) throw new Error('aborted');
          writeSync(fd, randomBytes(WRITE_BYTES), 0, WRITE_BYTES, randomInt(0, size - WRITE_BYTES));
        }
      } finally {
        closeSync(fd);
      }
      const tStop = performance.now();
      const rxStream = loRxBytes() - rx0;
      const want = statSync(file, { bigint: true });
      let equalAt: number | undefined;
      const maxPolls = Math.ceil(EQUAL_DEADLINE_MS / POLL_MS) + 10;
      for (let p = 0; p < maxPolls && performance.now() - tStop < EQUAL_DEADLINE_MS; p++) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const st = await stat(dst, { bigint: true }).catch(() => undefined);
        if (st !== undefined && st.size === want.size && st.mtimeNs === want.mtimeNs) {
          equalAt = performance.now();
          break;
        }
        await delay(POLL_MS);
      }
      if (equalAt === undefined) throw new Error(`round ${r + 1}: the replica's size/mtime did not match the source's within ${EQUAL_DEADLINE_MS} ms of the last write\n${fam.cli.tail()}`);
      const rxEqual = loRxBytes() - rx0;
      const a1 = famActivity(fam.cli.stdout);
      // Outside the timing: the content must match too.
      const srcHash = await sha256File(file);
      let hashFallbacks = 0;
      let dstHash = await sha256File(dst);
      for (let i = 0; dstHash !== srcHash && i < 60 && performance.now() - tStop < EQUAL_DEADLINE_MS; i++) {
        hashFallbacks++;
        await delay(1000, undefined, { signal: ctx.signal }).catch(() => {});
        dstHash = await sha256File(dst);
        equalAt = performance.now();
      }
      if (dstHash !== srcHash) throw new Error(`round ${r + 1}: replica sha256 differs from the source's`);
      const syncs = a1.batches - a0.batches + a1.fullPasses - a0.fullPasses;
      lag.push(equalAt - tStop);
      kib.push(KiB(rxEqual));
      wholeFileKiB.push(KiB(size * syncs));
      payloadKiB.push(KiB(writes * WRITE_BYTES));
      rounds.push({
        writes,
        writeMs: Math.round(tStop - t0),
        syncs,
        kibDuringWrites: Math.round(KiB(rxStream)),
        kibUntilEqual: Math.round(KiB(rxEqual)),
        lagMs: Math.round(equalAt - tStop),
        hashFallbacks,
        sha256: srcHash.slice(0, 16),
      });
      ctx.log(`big-file: round ${r + 1}: ${writes} writes, ${syncs} batches, lag ${(equalAt - tStop).toFixed(0)} ms, ${KiB(rxEqual).toFixed(0)} KiB on lo`);
      await fam.quiet(700, 60_000, ctx.signal);
    }
    checks.rounds = rounds;
    checks.batchLines = fam.cli.stdout
      .split('\n')
      .filter((l) => / synced /.test(l))
      .map((l) => l.replace(/^\S+ /, ''))
      .slice(-12);
    checks.stop = await fam.stop();
    return {
      params: { sizeMiB: c.sizeMiB, writeBytes: WRITE_BYTES, rateHz: RATE_HZ, streamMs: c.streamMs, rounds: c.rounds, command: fam.cli.child.spawnargs },
      metrics: [
        { id: 'lag', label: 'lag: last write → replica equals source', samples: lag },
        { id: 'kib', label: 'bytes on lo, first write → equal', samples: kib, unit: 'KiB' },
        { id: 'whole', label: 'file size × batches (whole-file re-sends)', samples: wholeFileKiB, unit: 'KiB' },
        { id: 'payload', label: 'payload written (writes × 4 KiB)', samples: payloadKiB, unit: 'KiB' },
      ],
      ratios: [
        { label: 'bytes on lo / (file size × batches)', numerator: 'kib', denominator: 'whole' },
        { label: 'bytes on lo / payload written', numerator: 'kib', denominator: 'payload' },
      ],
      checks,
    };
  } finally {
    await cleanup.run(ctx.log);
    await stopAll();
    await cleanupTempDirs();
  }
}

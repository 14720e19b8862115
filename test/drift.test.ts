/**
 * Drift repair end to end, with real rsync toward a local replica and a real sshd host: a file edited
 * on the replicas behind the mirror's back is repaired by the start-up pass and by the periodic pass,
 * and a steady stream of writes keeps its latency while the pass keeps yielding to it (its rsync is
 * killed by every live change, locally and through the ssh bridge).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type MirrorOptions, type RepairedEvent } from '../src/index.js';
import { defaultTransport } from '../src/transport/transports.js';
import type { RunOptions, TransportFactory } from '../src/transport/transport.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

let host: SshdHost;
let source: string;
let replicas: string[];
let specs: string[];
const DIRS = 40;
const FILES_PER_DIR = 150;

function options(extra: Partial<MirrorOptions>): MirrorOptions {
  return { source, replicas: specs, identityFiles: [host.identityFile], knownHostsFiles: [host.knownHostsFile], quietMs: 5, maxWaitMs: 50, ...extra };
}

/** Real transports, counting the background runs and the ones their signal killed. */
function countingTransport(): { factory: TransportFactory; passes: { started: number; killed: number; stopMs: Record<string, number[]> } } {
  const passes = { started: 0, killed: 0, stopMs: {} as Record<string, number[]> };
  const factory: TransportFactory = (replica, ctx) => {
    const t = defaultTransport(replica, ctx);
    const rsync = t.rsync.bind(t);
    t.rsync = async (args: string[], stdin: Buffer | undefined, opts: RunOptions = {}) => {
      if (opts.signal === undefined) return await rsync(args, stdin, opts);
      passes.started++;
      let abortedAt = 0;
      opts.signal.addEventListener('abort', () => (abortedAt = performance.now()));
      const run = await rsync(args, stdin, opts);
      if (opts.signal.aborted) {
        passes.killed++;
        (passes.stopMs[replica.kind] ??= []).push(performance.now() - abortedAt);
      }
      return run;
    };
    return t;
  };
  return { factory, passes };
}

async function tamper(name: string, text: string): Promise<void> {
  for (const r of replicas) await writeFile(join(r, name), text);
}

async function assertAllEqual(label: string): Promise<void> {
  for (const r of replicas) await assertTreesEqual(source, r, `${label} → ${r}`);
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}
const p50 = (xs: number[]) => pct(xs, 0.5);

/** Writes `count` files one every `everyMs`, each timed until every replica has it (polled, with a deadline). */
async function stream(tag: string, count: number, everyMs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = `stream-${tag}-${i}.txt`;
    const text = `${tag} ${i}\n`;
    const t0 = performance.now();
    await writeFile(join(source, name), text);
    await waitFor(async () => (await Promise.all(replicas.map((r) => readFile(join(r, name), 'utf8').catch(() => '')))).every((x) => x === text), {
      timeoutMs: 10_000,
      intervalMs: 2,
      what: `${name} on every replica`,
    });
    const ms = performance.now() - t0;
    latencies.push(ms);
    await new Promise((r) => setTimeout(r, Math.max(0, everyMs - ms)));
  }
  return latencies;
}

describe('drift repair with real rsync (local and ssh replicas)', () => {
  before(async () => {
    host = (await startSshdHosts(1))[0]!;
    source = await makeTempDir('fam-drift-src-');
    replicas = [await makeTempDir('fam-drift-local-'), await makeTempDir('fam-drift-ssh-')];
    specs = [replicas[0]!, `ssh://${host!.user}@127.0.0.1:${host!.port}${replicas[1]}`];
    // A tree whose full pass takes a while (6,000 files), so that the stream below finds it running.
    for (let d = 0; d < DIRS; d++) {
      await mkdir(join(source, `d${d}`));
      await Promise.all(Array.from({ length: FILES_PER_DIR }, (_, f) => writeFile(join(source, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`)));
    }
    const seed = new Mirror(options({ initMirror: true, reconcileIntervalSec: 0 }));
    await seed.start();
    await seed.close();
    await assertAllEqual('seeded');
  });

  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('a file edited on the replicas is repaired by the start-up pass, and again by the periodic pass', async () => {
    await tamper('d3/f7.txt', 'edited on the replica\n');
    // Every 3 s: the quiet period is a quarter of it (0.75 s), the spread a tenth (0.3 s).
    const mirror = new Mirror(options({ reconcileIntervalSec: 3 }));
    const repaired: RepairedEvent[] = [];
    mirror.on('repaired', (e) => repaired.push(e));
    try {
      await mirror.start();
      await waitFor(() => repaired.length >= 2, { timeoutMs: 15_000, what: 'the start-up pass of both replicas' });
      for (const e of repaired) {
        assert.equal(e.reason, 'drift-startup');
        assert.deepEqual(e.sample, ['d3/f7.txt'], `${e.replica}: ${JSON.stringify(e)}`);
        assert.equal(e.repaired, 1);
      }
      await assertAllEqual('after the start-up pass');
      await tamper('d5/f9.txt', 'edited again\n');
      await waitFor(() => repaired.filter((e) => e.reason === 'drift-periodic' && e.repaired > 0).length >= 2, { timeoutMs: 15_000, what: 'the periodic pass of both replicas' });
      const periodic = repaired.filter((e) => e.reason === 'drift-periodic' && e.repaired > 0);
      for (const e of periodic) assert.deepEqual(e.sample, ['d5/f9.txt']);
      await assertAllEqual('after the periodic pass');
    } finally {
      await mirror.close();
    }
  });

  it('a steady stream of writes keeps its latency while the pass runs and yields to it', async () => {
    const without = new Mirror(options({ reconcileIntervalSec: 0 }));
    await without.start();
    let base: number[];
    try {
      base = await stream('nopass', 25, 120);
    } finally {
      await without.close();
    }

    await tamper('d7/f1.txt', 'drifted\n');
    const { factory, passes } = countingTransport();
    // A quiet period shorter than the gap between writes: the pass starts between them and is killed by the next.
    const withPass = new Mirror(options({ reconcileIntervalSec: 3600 }), { transport: factory, driftTuning: { quietMs: 40 } });
    const repaired: RepairedEvent[] = [];
    withPass.on('repaired', (e) => repaired.push(e));
    let during: number[];
    try {
      await withPass.start();
      during = await stream('pass', 25, 120);
      const killedDuringStream = passes.killed;
      await waitFor(() => repaired.length >= 2, { timeoutMs: 30_000, what: 'the pass to its end once the stream stopped' });
      // A pass killed by a live change may already have put the file back (rsync writes as it goes), so
      // the pass that ends may find nothing left; either way the replicas end equal to the source.
      for (const e of repaired) assert.ok(e.sample.includes('d7/f1.txt') || e.repaired === 0, JSON.stringify(e));
      await assertAllEqual('after the stream and the pass');
      const b = p50(base);
      const d = p50(during);
      console.log(`# time from a kill to the end of the run: ${JSON.stringify(Object.fromEntries(Object.entries(passes.stopMs).map(([k, v]) => [k, p50(v).toFixed(1)])))} ms (p50)`);
      const tail = (xs: number[]) => `p90 ${pct(xs, 0.9).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}`;
      console.log(
        `# drift pass vs a write stream: p50 ${b.toFixed(1)} ms without (${tail(base)}), ${d.toFixed(1)} ms with (${tail(during)}); ${passes.started} passes started, ${killedDuringStream} killed by a live change`,
      );
      assert.ok(killedDuringStream > 0, 'the pass ran during the stream and yielded to it');
      assert.ok(d < 2 * b + 50, `p50 with the pass ${d.toFixed(1)} ms, without ${b.toFixed(1)} ms`);
    } finally {
      await withPass.close();
    }
  });
});

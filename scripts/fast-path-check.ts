/**
 * The fast path against rsync (README.md, "How it works"): one write of SIZE bytes to N ssh replicas
 * (test sshd daemons on 127.0.0.1), two mirrors side by side, fastPath on and off, their writes
 * interleaved A/B so a noisy machine weighs on both alike. Prints, for each, the p50 and p95 of the
 * time from the write to the last replica's 'synced', and the master's CPU (this process's user+sys
 * plus its reaped children's: the rsyncs and their bridges) per change and per change per replica.
 *
 *   node --import tsx scripts/fast-path-check.ts [--replicas 8] [--writes 40] [--size 64]
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Mirror } from '../src/index.js';
import { startSshdHosts, stopAll } from '../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../test/helpers/tree.js';

const { values } = parseArgs({ options: { replicas: { type: 'string', default: '8' }, writes: { type: 'string', default: '40' }, size: { type: 'string', default: '64' } } });
const n = Number(values.replicas);
const writes = Number(values.writes);
const size = Math.max(8, Number(values.size));
/** USER_HZ: /proc/self/stat counts clock ticks. */
const TICKS_PER_S = 100;

function cpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / TICKS_PER_S;
}

const hosts = await startSshdHosts(n);

async function side(fastPath: boolean) {
  const source = await makeTempDir('fam-fpc-src-');
  await writeFile(join(source, 'f.txt'), 'x');
  const replicas = await Promise.all(hosts.map(() => makeTempDir('fam-fpc-rep-')));
  const mirror = new Mirror({
    source,
    replicas: hosts.map((h, i) => `ssh://${h.user}@127.0.0.1:${h.port}${replicas[i]}`),
    initMirror: true,
    fastPath,
    reconcileIntervalSec: 0,
    identityFiles: [hosts[0]!.identityFile],
    knownHostsFiles: [hosts[0]!.knownHostsFile],
  });
  let count = 0;
  let fast = 0;
  let wake: (() => void) | undefined;
  mirror.on('synced', (e) => {
    count++;
    if (e.fast === true) fast++;
    if (count >= n) wake?.();
  });
  await mirror.start();
  const samples: Array<{ ms: number; cpu: number }> = [];
  return {
    mirror,
    samples,
    fast: () => fast,
    async write(i: number, keep: boolean): Promise<void> {
      count = 0;
      const all = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const cpu0 = cpuMs();
      const t0 = performance.now();
      await writeFile(join(source, 'f.txt'), `${String(i).padStart(8, '0')}${'y'.repeat(size - 8)}`);
      await all;
      const sample = { ms: performance.now() - t0, cpu: cpuMs() - cpu0 };
      await mirror.flush();
      if (keep) samples.push(sample);
    },
  };
}

const on = await side(true);
const off = await side(false);
// Warm-up: connections, the fast path's probe.
for (let i = 0; i < 3; i++) for (const s of [on, off]) await s.write(i, false);
for (let i = 0; i < writes; i++) {
  for (const s of i % 2 === 0 ? [on, off] : [off, on]) await s.write(i, true);
  await delay(50);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
for (const [name, s] of [
  ['fast path', on],
  ['rsync', off],
] as const) {
  const ms = s.samples.map((x) => x.ms);
  const cpu = s.samples.reduce((a, x) => a + x.cpu, 0) / s.samples.length;
  console.log(`${name.padEnd(9)} p50 ${pct(ms, 0.5).toFixed(1)} ms  p95 ${pct(ms, 0.95).toFixed(1)} ms  master CPU ${cpu.toFixed(1)} ms per change, ${(cpu / n).toFixed(2)} ms per change per replica`);
}
console.log(`${n} replicas, ${writes} writes of ${size} bytes each side; batches on the fast path: ${on.fast()}`);
await on.mirror.close();
await off.mirror.close();
await stopAll();
await cleanupTempDirs();

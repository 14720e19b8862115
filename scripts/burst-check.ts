/**
 * Bursts of new files into fresh directories, mirrored to 4 ssh replicas (test sshd daemons on
 * 127.0.0.1): prints how long each burst takes to be complete on every replica. A round far above
 * the others is a burst the watcher did not report in full (docs/internals.md, @parcel/watcher).
 *
 *   node --import tsx scripts/burst-check.ts [--rounds 16] [--files 1000]
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Mirror } from '../src/index.js';
import { startSshdHosts, stopAll } from '../test/helpers/sshd.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '16' }, files: { type: 'string', default: '1000' } } });
const rounds = Number(values.rounds);
const files = Number(values.files);
const DEADLINE_MS = 120_000;

const hosts = await startSshdHosts(4);
const base = mkdtempSync(join(tmpdir(), 'fam-burst-check-'));
const src = join(base, 'src');
const dsts = hosts.map((_, i) => join(base, `r${i}`));
for (let r = 0; r < rounds; r++) mkdirSync(join(src, `b${r}`), { recursive: true });
for (const d of dsts) mkdirSync(d);
const mirror = new Mirror({
  source: src,
  replicas: dsts.map((d, i) => `ssh://${hosts[i]!.user}@127.0.0.1:${hosts[i]!.port}${d}`),
  initMirror: true,
  identityFiles: [hosts[0]!.identityFile],
  knownHostsFiles: [hosts[0]!.knownHostsFile],
});
const count = (dir: string): number => {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.')).length;
  } catch {
    return 0;
  }
};
try {
  await mirror.start();
  const buf = Buffer.alloc(4096, 1);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = Date.now();
    for (let i = 0; i < files; i++) writeFileSync(join(src, `b${r}`, `f${i}`), buf);
    let ms = -1;
    while (Date.now() - started < DEADLINE_MS) {
      if (dsts.every((d) => count(join(d, `b${r}`)) >= files)) {
        ms = Date.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    times.push(ms);
    console.log(`burst ${r}: ${files} files on all ${dsts.length} replicas in ${ms < 0 ? `more than ${DEADLINE_MS}` : ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms`);
} finally {
  await mirror.close();
  await stopAll();
  rmSync(base, { recursive: true, force: true });
}

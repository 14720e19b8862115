/**
 * Bursts end to end (real watcher, real rsync, two sshd hosts through the ssh2 bridge and two local
 * replicas): a burst of new files written back to back, even with the short stall a busy machine
 * gives its writer, reaches every replica in ONE batch (core/burst.ts), and a single write after
 * idle still starts its batch within the configured quiet window (its latency is not raised).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type SyncedEvent } from '../src/index.js';
import { BURST_QUIET_MS } from '../src/core/burst.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from './helpers/tree.js';

const QUIET_MS = 10;
let hosts: SshdHost[];
let source: string;
let replicas: string[];
let specs: string[];
/** The replicas' ids as events name them. */
let ids: string[];
let mirror: Mirror;
/** Each synced event with the wall-clock time its batch started (emit time − durationMs). */
const synced: Array<SyncedEvent & { startedAt: number }> = [];

/**
 * Writes `half` new 4 KiB files, stalls `stallMs` (a busy loop: the writer is starved, as on a loaded
 * machine), then `half` more, in a child process so the watcher sees them as they happen.
 */
function writeBurst(dir: string, prefix: string, half: number, stallMs: number): Promise<void> {
  const script = `
    const fs = require('fs'); const b = Buffer.alloc(4096, 7);
    const [dir, prefix, half, stall] = [process.argv[1], process.argv[2], +process.argv[3], +process.argv[4]];
    for (let i = 0; i < half; i++) fs.writeFileSync(dir + '/' + prefix + i, b);
    const until = Date.now() + stall; while (Date.now() < until);
    for (let i = half; i < 2 * half; i++) fs.writeFileSync(dir + '/' + prefix + i, b);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, dir, prefix, String(half), String(stallMs)], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
  });
}

describe('Bursts: one batch per replica, single writes not delayed', () => {
  before(async () => {
    hosts = await startSshdHosts(2);
    source = await makeTempDir('fam-burst-src-');
    replicas = [await makeTempDir('fam-burst-r1-'), await makeTempDir('fam-burst-r2-'), await makeTempDir('fam-burst-l1-'), await makeTempDir('fam-burst-l2-')];
    await mkdir(join(source, 'd'));
    await writeFile(join(source, 'd', 'seed.txt'), 'seed\n');
    specs = [...hosts.map((h, i) => `ssh://${h.user}@127.0.0.1:${h.port}${replicas[i]}`), replicas[2]!, replicas[3]!];
    mirror = new Mirror({
      source,
      replicas: specs,
      initMirror: true,
      quietMs: QUIET_MS,
      // The bound of the wait, not what is tested: a writer slowed by other tests must not hit it.
      maxWaitMs: 10_000,
      identityFiles: [hosts[0]!.identityFile],
      knownHostsFiles: [hosts[0]!.knownHostsFile],
    });
    mirror.on('synced', (e) => synced.push({ ...e, startedAt: Date.now() - e.durationMs }));
    await mirror.start();
    ids = mirror.status().map((s) => s.replica);
  });

  after(async () => {
    await mirror?.close();
    await stopAll();
    await cleanupTempDirs();
  });

  it('a burst of 300 new files with a 25 ms writer stall reaches each replica in one batch', async () => {
    for (let round = 0; round < 2; round++) {
      // One edit in the directory first, as on a live site: the watcher then follows it closely
      // (watch/hot-dirs.ts), so the writer's stall reaches the lanes as a gap in the stream.
      await writeFile(join(source, 'd', `edit-${round}.txt`), `${round}\n`);
      await mirror.flush();
      synced.length = 0;
      await writeBurst(join(source, 'd'), `r${round}-f`, 150, 25);
      await mirror.flush();
      const perReplica = ids.map((id) => synced.filter((e) => e.replica === id));
      for (const [i, events] of perReplica.entries()) {
        assert.equal(events.length, 1, `round ${round}, ${ids[i]}: ${events.length} batches (${events.map((e) => e.paths).join(', ')} paths)`);
      }
      for (const r of replicas) await assertTreesEqual(source, r, `burst ${round} → ${r}`);
    }
  });

  it('a single write after idle starts its batch within the quiet window, not the burst window', async () => {
    const delays: number[] = [];
    for (let round = 0; round < 5; round++) {
      await mirror.flush();
      synced.length = 0;
      const before = Date.now();
      await writeFile(join(source, `single-${round}.txt`), `v${round}\n`);
      await mirror.flush();
      assert.equal(synced.length, specs.length, `round ${round}: one batch per replica`);
      delays.push(Math.max(...synced.map((e) => e.startedAt - before)));
    }
    // The quickest round shows the policy (the others may show a busy machine): a single change must
    // not wait the burst window.
    const quickest = Math.min(...delays);
    assert.ok(quickest < BURST_QUIET_MS, `write → batch start: ${delays.join(', ')} ms; quiet window ${QUIET_MS} ms, burst window ${BURST_QUIET_MS} ms`);
    for (const r of replicas) await assertTreesEqual(source, r, `single writes → ${r}`);
  });
});

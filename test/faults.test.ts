/**
 * The fault matrix, against real sshd hosts and real rsync: each scenario breaks something, checks
 * that only the broken replica suffers, repairs it, and ends with verify() finding every replica
 * identical to the source. Loops are bounded in count and time; waits poll with deadlines.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Mirror, type MirrorOptions } from '../src/index.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { listRoot, cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

const run = promisify(execFile);

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

interface Rig {
  hosts: SshdHost[];
  src: string;
  dsts: string[];
  mirror: Mirror;
  downs: string[];
  ups: string[];
  problems: string[];
}

async function rig(n: number, extra: Partial<MirrorOptions> = {}, prepare?: (dsts: string[]) => Promise<void>): Promise<Rig> {
  const hosts = await startSshdHosts(n);
  const src = await makeTempDir('fam-fault-src-');
  const dsts: string[] = [];
  for (let i = 0; i < n; i++) dsts.push(await makeTempDir(`fam-fault-r${i}-`));
  await prepare?.(dsts);
  await writeFile(join(src, 'index.html'), 'home\n');
  const mirror = new Mirror({
    source: src,
    replicas: hosts.map((h, i) => `ssh://${h.user}@127.0.0.1:${h.port}${dsts[i]}`),
    identityFiles: [hosts[0]!.identityFile],
    knownHostsFiles: [hosts[0]!.knownHostsFile],
    initMirror: true,
    timeoutSec: 3,
    connectTimeoutMs: 3000,
    retryMinMs: 100,
    retryMaxMs: 1000,
    ...extra,
  });
  const r: Rig = { hosts, src, dsts, mirror, downs: [], ups: [], problems: [] };
  mirror.on('replica-down', (e) => r.downs.push(e.replica));
  mirror.on('replica-up', (e) => r.ups.push(e.replica));
  mirror.on('problem', (p) => r.problems.push(`${p.code}:${p.exitCode ?? ''}${p.path === undefined ? '' : `:${p.path}`}`));
  mirror.on('error', () => {});
  await mirror.start();
  return r;
}

async function assertVerified(m: Mirror, label: string): Promise<void> {
  const results = await m.verify();
  for (const r of results) assert.deepEqual(r.differences, [], `${label}: ${r.replica}`);
}

const idOf = (r: Rig, i: number) => r.mirror.options.replicas[i]!.id;

describe('fault matrix', () => {
  it('a replica whose sshd is killed, then restarted, catches up; the other never waits', async () => {
    const r = await rig(2);
    try {
      await r.hosts[0]!.halt();
      const t0 = Date.now();
      let downAt = 0;
      r.mirror.once('replica-down', () => (downAt = Date.now()));
      for (let i = 0; i < 200; i++) await writeFile(join(r.src, `during-outage-${i}.txt`), `${i}\n`);
      const partial = await r.mirror.flush({ healthyOnly: true });
      assert.deepEqual(partial.behind, [idOf(r, 0)]);
      assert.deepEqual(await readdir(r.dsts[1]!).then((n) => n.filter((x) => x.startsWith('during')).length), 200);
      assert.ok(r.downs.includes(idOf(r, 0)));
      await r.hosts[0]!.restart();
      const t1 = Date.now();
      assert.deepEqual(await r.mirror.flush(), { complete: true, behind: [], problems: [] });
      console.log(`# dead replica declared down ${downAt - t0} ms after the first change; 200 queued changes caught up ${Date.now() - t1} ms after its sshd restarted (backoff 100-1000 ms)`);
      assert.ok(r.ups.includes(idOf(r, 0)));
      await assertVerified(r.mirror, 'after restart');
    } finally {
      await r.mirror.close();
    }
  });

  it('a hung replica (SIGSTOP) is declared down within the timeout budget; the other keeps its latency', async () => {
    const r = await rig(2);
    try {
      r.hosts[0]!.pause();
      const t0 = Date.now();
      await writeFile(join(r.src, 'while-hung.txt'), 'x\n');
      const res = await r.mirror.flush({ healthyOnly: true });
      const detectMs = Date.now() - t0;
      assert.deepEqual(res.behind, [idOf(r, 0)]);
      assert.ok(detectMs < 15_000, `hang detected after ${detectMs} ms`);
      assert.ok(r.downs.includes(idOf(r, 0)));
      const t1 = Date.now();
      await writeFile(join(r.src, 'healthy-latency.txt'), 'y\n');
      await waitFor(async () => (await readdir(r.dsts[1]!)).includes('healthy-latency.txt'), { what: 'the healthy replica', timeoutMs: 5000 });
      assert.ok(Date.now() - t1 < 2000, 'the healthy replica was slowed by the hung one');
      r.hosts[0]!.resume();
      assert.equal((await r.mirror.flush({ timeoutMs: 30_000 })).complete, true);
      await assertVerified(r.mirror, 'after resume');
      console.log(`# hung replica declared down after ${detectMs} ms (timeoutSec 3)`);
    } finally {
      r.hosts[0]!.resume();
      await r.mirror.close();
    }
  });

  it('a burst of 50,000 new files in 100 directories arrives complete', async () => {
    const r = await rig(1);
    try {
      for (let d = 0; d < 100; d++) {
        const dir = join(r.src, `burst${d}`);
        await mkdir(dir);
        await Promise.all(Array.from({ length: 500 }, (_, i) => writeFile(join(dir, `f${i}`), `${d}.${i}`)));
      }
      await r.mirror.flush();
      // A full reconcile pass follows a burst this large; await it too.
      await waitFor(async () => (await r.mirror.verify()).every((v) => v.identical), { what: 'replica equal after the burst', timeoutMs: 120_000, intervalMs: 500 });
    } finally {
      await r.mirror.close();
    }
  });

  it('files vanishing between their event and the rsync run cost nothing', async () => {
    const r = await rig(1);
    try {
      for (let i = 0; i < 300; i++) {
        const f = join(r.src, `blink-${i % 30}`);
        await writeFile(f, `${i}`);
        if (i % 3 !== 0) await rm(f);
      }
      await r.mirror.flush();
      await assertVerified(r.mirror, 'after blinking files');
    } finally {
      await r.mirror.close();
    }
  });

  it('one path refused on one replica is a problem of that path: the rest arrives, the replica stays idle, and it heals once fixed', async () => {
    const r = await rig(2);
    const locked = join(r.dsts[0]!, 'index.html');
    try {
      await run('chattr', ['+i', locked]); // root ignores modes; the immutable flag refuses even root
      await writeFile(join(r.src, 'index.html'), 'home, version 2\n');
      await writeFile(join(r.src, 'news.html'), 'same batch\n');
      const res = await r.mirror.flush({ timeoutMs: 10_000 });
      assert.deepEqual(res.behind, [], 'no replica is held back by one path');
      assert.equal(res.complete, false, 'a replica with a problem path is not complete');
      assert.deepEqual(res.problems, [{ replica: idOf(r, 0), path: 'index.html' }]);
      assert.ok(
        r.problems.some((p) => p.startsWith('ERR_RSYNC_PATH:23:') && p.includes('index.html')),
        r.problems.join(),
      );
      for (const d of r.dsts) assert.equal(await readFile(join(d, 'news.html'), 'utf8'), 'same batch\n');
      assert.equal(r.mirror.status()[0]!.state, 'idle');
      assert.equal(r.mirror.status()[0]!.problems, 1);
      assert.deepEqual(r.downs, []);
      // Later changes keep flowing to that replica meanwhile.
      await writeFile(join(r.src, 'later.html'), 'later\n');
      const later = await r.mirror.flush({ timeoutMs: 10_000 });
      assert.deepEqual(later.behind, []);
      assert.equal(await readFile(join(r.dsts[0]!, 'later.html'), 'utf8'), 'later\n');
      await run('chattr', ['-i', locked]);
      // The problem is retried every retryMaxMs (1 s here) until it passes.
      await waitFor(async () => (await r.mirror.flush()).complete, { timeoutMs: 15_000, intervalMs: 200, what: 'the problem path to heal' });
      assert.equal(r.mirror.status()[0]!.problems, 0);
      await assertVerified(r.mirror, 'after unlocking');
    } finally {
      await run('chattr', ['-i', locked]).catch(() => {});
      await r.mirror.close();
    }
  });

  it('a full file system on one replica is retried and heals once it has room', async () => {
    let mounted: string | undefined;
    const r = await rig(2, {}, async (dsts) => {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dsts[0]!]);
      mounted = dsts[0];
    });
    try {
      await writeFile(join(r.src, 'big.bin'), Buffer.alloc(1024 * 1024, 7));
      const res = await r.mirror.flush({ timeoutMs: 5000 });
      assert.deepEqual(res.behind, [idOf(r, 0)]);
      assert.ok(r.downs.includes(idOf(r, 0)));
      assert.ok(
        r.problems.some((p) => p.startsWith('ERR_RSYNC_PATH:') && p.includes('big.bin')),
        r.problems.join(),
      );
      await run('mount', ['-o', 'remount,size=8m', mounted!]);
      assert.equal((await r.mirror.flush({ timeoutMs: 30_000 })).complete, true);
      await assertVerified(r.mirror, 'after growing the file system');
    } finally {
      await r.mirror.close();
      if (mounted) await run('umount', [mounted]).catch(() => {});
    }
  });

  it('an emptied source root (unmounted disk) wipes no replica until it is back', async () => {
    const r = await rig(2);
    try {
      await mkdir(join(r.src, 'docs'));
      await writeFile(join(r.src, 'docs/a.txt'), 'a\n');
      await r.mirror.flush();
      for (const name of await readdir(r.src)) await rm(join(r.src, name), { recursive: true });
      const res = await r.mirror.flush({ timeoutMs: 3000 });
      assert.equal(res.complete, false);
      for (const d of r.dsts) assert.deepEqual((await listRoot(d)).sort(), ['docs', 'index.html']);
      assert.ok(r.problems.includes('ERR_SOURCE_EMPTY:'), r.problems.join());
      assert.ok(r.mirror.status().every((s) => s.state === 'down' && /empty/.test(s.lastError ?? '')));
      await writeFile(join(r.src, 'index.html'), 'home is back\n');
      assert.equal((await r.mirror.flush({ timeoutMs: 30_000 })).complete, true);
      await assertVerified(r.mirror, 'after the source came back');
    } finally {
      await r.mirror.close();
    }
  });
});

describe('a state directory that fails while running', () => {
  it('a full disk under the state directory never ends the process: changes flow, ERR_STATE once', async () => {
    const stateRoot = await makeTempDir('fam-state-full-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', stateRoot]);
    const src = await makeTempDir('fam-state-full-src-');
    const dst = await makeTempDir('fam-state-full-dst-');
    await writeFile(join(src, 'a.txt'), 'a\n');
    const mirror = new Mirror({ source: src, replicas: [dst], initMirror: true, stateDir: stateRoot });
    const codes: string[] = [];
    mirror.on('problem', (p) => codes.push(p.code));
    mirror.on('error', () => {});
    try {
      await mirror.start();
      // Fill what is left of the file system (dd stops at ENOSPC with a non-zero exit).
      await run('dd', ['if=/dev/zero', `of=${join(stateRoot, 'filler')}`, 'bs=64k']).catch(() => {});
      // Long names: the journal needs pages the disk no longer has (its last page takes a few short
      // records, and a watermark is rewritten in place, needing none), and a write that fits only
      // in part must count as failed.
      for (let i = 0; i < 50; i++) await writeFile(join(src, `during-${i}-${'n'.repeat(200)}.txt`), `${'x'.repeat(200)}${i}\n`);
      const r = await mirror.flush();
      assert.equal(r.complete, true);
      assert.equal((await listRoot(dst)).length, 51);
      assert.equal(codes.filter((c) => c === 'ERR_STATE').length, 1, codes.join());
    } finally {
      await mirror.close();
      await run('umount', [stateRoot]).catch(() => {});
    }
  });
});

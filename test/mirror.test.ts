/**
 * End to end: real @parcel/watcher on a temp tree, real rsync, two real sshd "hosts" on 127.0.0.1
 * reached through the ssh2 bridge, and a local replica. Each scenario ends with `await flush()` and
 * the oracle: every replica's tree equals the source's (content, mode, symlink target, file mtime).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rename, rm, symlink, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Mirror, type MirrorError, type SyncedEvent } from '../src/index.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from './helpers/tree.js';

let hosts: SshdHost[];
let source: string;
let outside: string;
let replicas: string[];
let mirror: Mirror;
const synced: SyncedEvent[] = [];

async function assertAllEqual(label: string): Promise<void> {
  for (const r of replicas) await assertTreesEqual(source, r, `${label} → ${r}`);
}

describe('Mirror over real sshd hosts', () => {
  before(async () => {
    hosts = await startSshdHosts(2);
    source = await makeTempDir('fam-src-');
    outside = await makeTempDir('fam-outside-');
    replicas = [await makeTempDir('fam-r1-'), await makeTempDir('fam-r2-'), await makeTempDir('fam-local-')];
    await writeFile(join(source, 'seeded.txt'), 'already there\n');
    mirror = new Mirror({
      source,
      replicas: [`ssh://${hosts[0]!.user}@127.0.0.1:${hosts[0]!.port}${replicas[0]}`, `ssh://${hosts[1]!.user}@127.0.0.1:${hosts[1]!.port}${replicas[1]}`, replicas[2]!],
      initMirror: true,
      identityFiles: [hosts[0]!.identityFile],
      knownHostsFiles: [hosts[0]!.knownHostsFile],
    });
    mirror.on('synced', (e) => synced.push(e));
    await mirror.start();
  });

  after(async () => {
    await mirror?.close();
    await stopAll();
    await cleanupTempDirs();
  });

  it('seeds the replicas at start', async () => {
    await assertAllEqual('seed');
  });

  it('file create, modify, chmod, delete', async () => {
    const f = join(source, 'page.html');
    await writeFile(f, '<h1>v1</h1>\n');
    await mirror.flush();
    await assertAllEqual('create');
    await writeFile(f, '<h1>v2, longer</h1>\n');
    await mirror.flush();
    await assertAllEqual('modify');
    await chmod(f, 0o600);
    await mirror.flush();
    await assertAllEqual('chmod');
    await utimes(f, new Date('2020-02-02T02:02:02Z'), new Date('2020-02-02T02:02:02Z'));
    await mirror.flush();
    await assertAllEqual('touch');
    await rm(f);
    await mirror.flush();
    await assertAllEqual('delete');
  });

  it('symlinks are copied as links, also one pointing outside the tree', async () => {
    await writeFile(join(source, 'target.txt'), 'target');
    await symlink('target.txt', join(source, 'link-in'));
    await symlink('/etc/hostname', join(source, 'link-out'));
    await symlink('dangling-nowhere', join(source, 'link-dangling'));
    await mirror.flush();
    await assertAllEqual('symlinks');
  });

  it('empty directory, and mkdir -p with files written at once', async () => {
    await mkdir(join(source, 'empty'));
    await mkdir(join(source, 'a/b/c'), { recursive: true });
    await Promise.all([writeFile(join(source, 'a/one'), '1'), writeFile(join(source, 'a/b/two'), '2'), writeFile(join(source, 'a/b/c/three'), '3')]);
    await mirror.flush();
    await assertAllEqual('mkdir -p');
  });

  it('a directory of 500 files moved in from outside, then written below', async () => {
    const dir = join(outside, 'incoming');
    await mkdir(join(dir, 'sub/deeper'), { recursive: true });
    for (let i = 0; i < 500; i++) await writeFile(join(dir, i % 2 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`);
    await rename(dir, join(source, 'incoming'));
    await mirror.flush();
    await assertAllEqual('move in');
    // The watcher only watches the top of a moved-in directory; the mirror resubscribes to see this.
    await writeFile(join(source, 'incoming/sub/deeper/later.txt'), 'written after the move');
    await waitEqual('write below moved-in dir');
  });

  it('a directory renamed inside the tree, then written below its new name', async () => {
    await mkdir(join(source, 'old/inner'), { recursive: true });
    await writeFile(join(source, 'old/inner/x.txt'), 'x');
    await mirror.flush();
    await rename(join(source, 'old'), join(source, 'new'));
    await mirror.flush();
    await assertAllEqual('rename');
    await writeFile(join(source, 'new/inner/y.txt'), 'y after rename');
    await waitEqual('write below renamed dir');
  });

  it('a directory moved out of the tree', async () => {
    await mkdir(join(source, 'leaving/sub'), { recursive: true });
    await writeFile(join(source, 'leaving/sub/z.txt'), 'z');
    await mirror.flush();
    await rename(join(source, 'leaving'), join(outside, 'left'));
    await mirror.flush();
    await assertAllEqual('move out');
  });

  it('rm -rf of a subtree with 1,000 files', async () => {
    for (let d = 0; d < 10; d++) {
      await mkdir(join(source, `big/d${d}`), { recursive: true });
      for (let i = 0; i < 100; i++) await writeFile(join(source, `big/d${d}/f${i}`), `${d}/${i}`);
    }
    await mirror.flush();
    await assertAllEqual('big tree');
    await rm(join(source, 'big'), { recursive: true });
    await mirror.flush();
    await assertAllEqual('rm -rf');
  });

  it('one file rewritten 200 times in one second ends with the last content', async () => {
    const f = join(source, 'hot.txt');
    for (let i = 0; i < 200; i++) {
      await writeFile(f, `version ${i}\n`);
      await delay(5); // pacing the writer over ~1 s, not waiting for the mirror
    }
    await mirror.flush();
    await assertAllEqual('hot file');
  });

  it('hostile file names arrive intact', async () => {
    const names = ['with space', "quote's", 'double"quote', '$(touch pwned)', '`id`', 'back\\slash', 'new\nline', '-rf', '--delete', 'ünïcödé-名前', '*?[x]', ';semi;'];
    for (const n of names) await writeFile(join(source, n), `content of ${JSON.stringify(n)}`);
    await mkdir(join(source, '-dir with $HOME'));
    await writeFile(join(source, '-dir with $HOME', "a'b"), 'inner');
    await mirror.flush();
    await assertAllEqual('hostile names');
    await rm(join(source, names[4]!));
    await rm(join(source, '-dir with $HOME'), { recursive: true });
    await mirror.flush();
    await assertAllEqual('hostile deletes');
  });

  it('verify() finds every replica identical, then names each difference made behind its back', async () => {
    await writeFile(join(source, 'verify-me.txt'), 'present everywhere');
    await mirror.flush();
    const clean = await mirror.verify();
    assert.equal(clean.length, 3);
    for (const r of clean) assert.deepEqual([r.identical, r.differences, r.more], [true, [], 0], r.replica);
    await writeFile(join(replicas[0]!, 'seeded.txt'), 'tampered');
    await writeFile(join(replicas[0]!, 'extra-on-replica'), 'x');
    await rm(join(replicas[1]!, 'verify-me.txt'));
    const [r0, r1, r2] = await mirror.verify();
    assert.equal(r0!.identical, false);
    assert.ok(
      r0!.differences.some((d) => /^[<>]fc.* seeded\.txt$/.test(d)),
      r0!.differences.join('\n'),
    );
    assert.ok(
      r0!.differences.some((d) => /^\*deleting +extra-on-replica$/.test(d)),
      r0!.differences.join('\n'),
    );
    assert.ok(
      r1!.differences.some((d) => / verify-me\.txt$/.test(d)),
      r1!.differences.join('\n'),
    );
    assert.equal(r2!.identical, true);
    // Repair by hand so the remaining scenarios start from equal trees.
    await rm(join(replicas[0]!, 'extra-on-replica'));
    await writeFile(join(source, 'seeded.txt'), 'already there, rewritten\n');
    await writeFile(join(source, 'verify-me.txt'), 'present everywhere, again');
    await mirror.flush();
    await assertAllEqual('after repair');
    assert.ok((await mirror.verify()).every((r) => r.identical));
  });

  it('used one ssh login per host for all of these batches', async () => {
    assert.ok(synced.length >= 20, `expected many batches, saw ${synced.length}`);
    for (const h of hosts) assert.equal(await h.logins(), 1, `sshd on port ${h.port} logged more than one login`);
  });
});

/** After writes the watcher may only report once its fresh subscription is in place: poll with a deadline. */
async function waitEqual(label: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let i = 0; ; i++) {
    await mirror.flush();
    try {
      await assertAllEqual(label);
      return;
    } catch (e) {
      if (Date.now() > deadline || i > 200) throw e;
      await delay(50);
    }
  }
}

describe('INIT_MIRROR', () => {
  let m: Mirror | undefined;
  after(async () => {
    await m?.close();
    await stopAll();
    await cleanupTempDirs();
  });

  it('replicas with missing, stale and extra files end equal, with changes made during the seed', async () => {
    const [h1, h2] = await startSshdHosts(2);
    const src = await makeTempDir('fam-seed-src-');
    const r1 = await makeTempDir('fam-seed-r1-');
    const r2 = await makeTempDir('fam-seed-r2-');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(src, `d${d}`));
      for (let i = 0; i < 50; i++) await writeFile(join(src, `d${d}/f${i}`), `src ${d} ${i}\n`);
    }
    for (const r of [r1, r2]) {
      await mkdir(join(r, 'd0'), { recursive: true });
      await writeFile(join(r, 'd0/f0'), 'stale content\n');
      await writeFile(join(r, 'extra-on-replica'), 'must go');
      await mkdir(join(r, 'extra-dir/sub'), { recursive: true });
    }
    m = new Mirror({
      source: src,
      replicas: [`ssh://${h1!.user}@127.0.0.1:${h1!.port}${r1}`, `ssh://${h2!.user}@127.0.0.1:${h2!.port}${r2}`],
      initMirror: true,
      identityFiles: [h1!.identityFile],
      knownHostsFiles: [h1!.knownHostsFile],
    });
    const progress: number[] = [];
    const perReplica = new Map<string, number>();
    m.on('progress', (e) => {
      progress.push(e.percent);
      perReplica.set(e.replica, (perReplica.get(e.replica) ?? 0) + 1);
    });
    const seedStarted = Date.now();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 400; i++) {
        await writeFile(join(src, `during-${i % 40}.txt`), `write ${i}\n`);
        if (i % 10 === 0) await rm(join(src, `d${i % 20}/f${i % 50}`), { force: true });
        await delay(2);
      }
    })();
    await m.start();
    const seedMs = Date.now() - seedStarted;
    writing = false;
    await writer;
    await m.flush();
    await assertTreesEqual(src, r1, 'seed r1');
    await assertTreesEqual(src, r2, 'seed r2');
    assert.ok(progress.includes(100), `the seed reported progress up to 100 %: ${progress.join()}`);
    // One event per 250 ms and replica, and the final one: rsync's run of 100 % records is not passed on.
    for (const [replica, n] of perReplica) assert.ok(n <= Math.ceil(seedMs / 250) + 2, `${replica}: ${n} progress events in a ${seedMs} ms seed`);
  });
});

describe('host keys', () => {
  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('refuses an unknown host key, naming the host and its SHA256 fingerprint', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-hk-src-');
    const r = await makeTempDir('fam-hk-r-');
    const emptyKnownHosts = join(await makeTempDir('fam-hk-kh-'), 'known_hosts');
    await writeFile(emptyKnownHosts, '');
    await writeFile(join(src, 'secret.txt'), 'must not leave');
    const m = new Mirror({
      source: src,
      replicas: [`ssh://${h!.user}@127.0.0.1:${h!.port}${r}`],
      initMirror: true,
      identityFiles: [h!.identityFile],
      knownHostsFiles: [emptyKnownHosts],
    });
    const errors: MirrorError[] = [];
    m.on('error', (e) => errors.push(e));
    try {
      await assert.rejects(m.start(), (err: MirrorError) => {
        assert.equal(err.code, 'ERR_HOST_KEY_UNKNOWN');
        assert.match(err.message, new RegExp(`\\[127\\.0\\.0\\.1\\]:${h!.port}`));
        assert.ok(err.message.includes(h!.hostKeyFingerprint), err.message);
        return true;
      });
      assert.equal(errors[0]?.code, 'ERR_HOST_KEY_UNKNOWN');
      assert.equal(await h!.logins(), 0);
    } finally {
      await m.close();
    }
  });
});

describe('a replica that cannot work', () => {
  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('rsync missing on the replica: its start-up check fails that lane with a clear code before any rsync runs, the other replica still gets every change', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-bad-src-');
    const good = await makeTempDir('fam-bad-good-');
    const bad = await makeTempDir('fam-bad-bad-');
    const m = new Mirror({
      source: src,
      replicas: [`ssh://${h!.user}@127.0.0.1:${h!.port}${bad}`, good],
      remoteRsyncPath: '/nonexistent/rsync',
      identityFiles: [h!.identityFile],
      knownHostsFiles: [h!.knownHostsFile],
    });
    const problems: string[] = [];
    m.on('problem', (p) => problems.push(`${p.code}:${p.exitCode ?? ''}`));
    m.on('error', () => {});
    await m.start();
    try {
      await writeFile(join(src, 'f.txt'), 'still flows');
      await assert.rejects(m.flush(), (err: MirrorError) => {
        assert.equal(err.code, 'ERR_RSYNC_MISSING');
        assert.equal(err.host, '127.0.0.1');
        assert.match(err.message, /\/nonexistent\/rsync --version[\s\S]*Install rsync there/);
        return true;
      });
      await assertTreesEqual(src, good, 'healthy local replica');
      await assertTreesEqual(await makeTempDir('fam-bad-empty-'), bad, 'nothing half-written on the failed replica');
      assert.ok(problems.includes('ERR_RSYNC_MISSING:'), problems.join());
      assert.equal(m.status().find((s) => s.replica.includes(bad))?.state, 'failed');
    } finally {
      await m.close();
    }
  });
});

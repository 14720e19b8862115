/**
 * The replica guard end to end, against real rsync and a real sshd host (src/core/replica-guard.ts;
 * README.md, "Failover"): the failover story with the real CLI (master killed, standby fenced and
 * written to, master restarted with its backlog), two masters on one target, a replica root emptied
 * while the mirror runs, and a tmpfs mount point unmounted under it. Each for an ssh replica (the
 * guard as a prefix of the bridged remote command) and, where it fits, a local one (fs calls).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Mirror, isMirrorError, type MirrorOptions } from '../src/index.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, snapshotTree, waitFor } from './helpers/tree.js';
import { CLI, startCli } from './helpers/cli.js';

const run = promisify(execFile);

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

const sshSpec = (h: SshdHost, dir: string) => `ssh://${h.user}@127.0.0.1:${h.port}${dir}`;
const sshOptions = (h: SshdHost): Partial<MirrorOptions> => ({
  identityFiles: [h.identityFile],
  knownHostsFiles: [h.knownHostsFile],
  timeoutSec: 5,
  connectTimeoutMs: 3000,
  retryMinMs: 100,
  retryMaxMs: 500,
});

async function fill(dir: string, n: number, prefix = 'f'): Promise<void> {
  for (let i = 0; i < n; i++) await writeFile(join(dir, `${prefix}${i}.txt`), `${prefix} ${i}\n`);
}

describe('failover: a fenced standby is never overwritten', () => {
  it('M mirrors to S (ssh) and R; M is killed; S is fenced and written to; M restarts with a backlog: S untouched, ERR_REPLICA_FENCED, the hook fires, R keeps receiving', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-fo-src-');
    const standby = await makeTempDir('fam-fo-standby-');
    const second = await makeTempDir('fam-fo-r-');
    const state = await makeTempDir('fam-fo-state-');
    const hookOut = join(await makeTempDir('fam-fo-hook-'), 'alerts');
    await fill(src, 20);
    const args = ['--state-dir', state, '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile];
    const replicas = [sshSpec(h!, standby), second];
    const hook = `printf '%s %s\\n' "$FAM_MIRROR_ERROR_CODE" "$FAM_MIRROR_REPLICA" >> '${hookOut}'`;

    const first = startCli(['--init', ...args, src, ...replicas]);
    await waitFor(() => /watching \(ready in/.test(first.out()), { what: 'M to start', timeoutMs: 20_000 });
    await writeFile(join(src, 'live.txt'), 'before the failover\n');
    await waitFor(async () => (await readFile(join(standby, 'live.txt'), 'utf8').catch(() => '')) !== '' && (await readFile(join(second, 'live.txt'), 'utf8').catch(() => '')) !== '', {
      what: 'live.txt on S and R',
      timeoutMs: 10_000,
    });
    first.child.kill('SIGKILL');
    await first.exit;

    // The failover: S is promoted, fenced by the cluster's notify hook, and written to.
    const fenced = await run(process.execPath, [CLI, 'fence', standby, '--reason', 'promoted by keepalived']);
    assert.match(fenced.stdout, /fenced /);
    await writeFile(join(standby, 'written-on-s.txt'), 'a write the promoted standby took\n');
    await writeFile(join(standby, 'f3.txt'), 'edited on S\n');
    await rm(join(standby, 'f4.txt'));
    const before = await snapshotTree(standby);

    // M's backlog: changes made while it was down (and what its unclean stop makes it reconcile).
    await writeFile(join(src, 'backlog.txt'), 'made while M was down\n');
    await rm(join(src, 'f5.txt'));

    const again = startCli([...args, '--on-replica-down', hook, src, ...replicas]);
    try {
      await waitFor(() => /ERR_REPLICA_FENCED/.test(again.out()), { what: 'M to report ERR_REPLICA_FENCED', timeoutMs: 20_000 });
      await waitFor(async () => (await readFile(join(second, 'backlog.txt'), 'utf8').catch(() => '')) !== '', { what: 'R to get the backlog', timeoutMs: 20_000 });
      await writeFile(join(src, 'after-restart.txt'), 'R keeps receiving\n');
      await waitFor(async () => (await readFile(join(second, 'after-restart.txt'), 'utf8').catch(() => '')) !== '', { what: 'R to keep receiving', timeoutMs: 10_000 });
      await assertTreesEqual(src, second, 'R');
      await waitFor(async () => /ERR_REPLICA_FENCED/.test(await readFile(hookOut, 'utf8').catch(() => '')), { what: 'the alert hook', timeoutMs: 10_000 });
      assert.deepEqual(await snapshotTree(standby), before, 'nothing on the fenced standby changed');
      assert.match(await readFile(join(standby, '.fam-mirror-fence'), 'utf8'), /reason: promoted by keepalived/);
    } finally {
      again.child.kill('SIGTERM');
    }
    await again.exit;
    assert.deepEqual(await snapshotTree(standby), before, 'still untouched after M stopped');
  });
});

describe('owner record', () => {
  it('a second master on the same target is refused with ERR_REPLICA_OWNED naming the first; after release it may feed it', async () => {
    const [h] = await startSshdHosts(1);
    const srcA = await makeTempDir('fam-own-a-');
    const srcB = await makeTempDir('fam-own-b-');
    const target = await makeTempDir('fam-own-t-');
    await fill(srcA, 5, 'a');
    await fill(srcB, 5, 'b');
    const a = new Mirror({ source: srcA, replicas: [sshSpec(h!, target)], initMirror: true, ...sshOptions(h!) });
    a.on('error', () => {});
    await a.start();
    assert.equal((await readFile(join(target, '.fam-mirror-owner'), 'utf8')).trim(), `${hostname()}:${srcA}`);
    const b = new Mirror({ source: srcB, replicas: [sshSpec(h!, target)], initMirror: true, ...sshOptions(h!) });
    b.on('error', () => {});
    try {
      await assert.rejects(b.start(), (e) => isMirrorError(e, 'ERR_REPLICA_OWNED') && e.message.includes(`${hostname()}:${srcA}`));
      await writeFile(join(srcA, 'a-later.txt'), 'still fed by A\n');
      await a.flush();
      await assertTreesEqual(srcA, target, 'the target stays equal to the first master');
    } finally {
      await b.close();
      await a.close();
    }
    await run(process.execPath, [CLI, 'release', target]);
    const c = new Mirror({ source: srcB, replicas: [sshSpec(h!, target)], initMirror: true, ...sshOptions(h!) });
    c.on('error', () => {});
    try {
      await c.start();
      await assertTreesEqual(srcB, target, 'released: the second master feeds it');
      assert.equal((await readFile(join(target, '.fam-mirror-owner'), 'utf8')).trim(), `${hostname()}:${srcB}`);
    } finally {
      await c.close();
    }
  });
});

describe('a replica root emptied or unmounted while the mirror runs', () => {
  it('emptied (re-imaged): re-seeded at its next batch, local and ssh', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-empty-src-');
    const local = await makeTempDir('fam-empty-local-');
    const remote = await makeTempDir('fam-empty-remote-');
    await fill(src, 50);
    const mirror = new Mirror({ source: src, replicas: [local, sshSpec(h!, remote)], initMirror: true, ...sshOptions(h!) });
    const problems: string[] = [];
    mirror.on('problem', (p) => problems.push(`${p.code} ${p.replica}`));
    mirror.on('error', () => {});
    try {
      await mirror.start();
      for (const dir of [local, remote]) {
        await rm(dir, { recursive: true });
        await mkdir(dir);
      }
      await writeFile(join(src, 'next.txt'), 'the next change\n');
      await waitFor(async () => (await readdir(remote)).length >= 51 && (await readdir(local)).length >= 51 && (await mirror.flush()).complete, { what: 'both replicas re-seeded', timeoutMs: 20_000 });
      await assertTreesEqual(src, local, 'local');
      await assertTreesEqual(src, remote, 'ssh');
      assert.equal(problems.filter((p) => p.startsWith('ERR_TARGET_EMPTIED')).length, 2, problems.join('\n'));
    } finally {
      await mirror.close();
    }
  });

  it('a tmpfs mount point unmounted: ERR_TARGET_UNMOUNTED, nothing written into the bare directory; mounted again (empty): re-seeded', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-umount-src-');
    const local = await makeTempDir('fam-umount-local-');
    const remote = await makeTempDir('fam-umount-remote-');
    await fill(src, 10);
    const mounts = [local, remote];
    for (const m of mounts) await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', m]);
    let mounted = [...mounts];
    const mirror = new Mirror({ source: src, replicas: [local, sshSpec(h!, remote)], initMirror: true, ...sshOptions(h!) });
    mirror.on('error', () => {});
    try {
      await mirror.start();
      for (const m of mounts) await run('umount', [m]);
      mounted = [];
      await writeFile(join(src, 'while-unmounted.txt'), 'must not land in the bare mount point\n');
      await assert.rejects(mirror.flush({ timeoutMs: 10_000 }), (e) => isMirrorError(e, 'ERR_TARGET_UNMOUNTED'));
      await waitFor(() => mirror.status().every((s) => s.state === 'failed'), { what: 'both replicas failed', timeoutMs: 10_000 });
      for (const m of mounts) assert.deepEqual(await readdir(m), [], `nothing written into the bare ${m}`);
      for (const m of mounts) await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', m]);
      mounted = [...mounts];
      await waitFor(async () => (await mirror.flush({ healthyOnly: true })).complete && mirror.status().every((s) => s.state === 'idle'), { what: 'both replicas back', timeoutMs: 20_000 });
      await assertTreesEqual(src, local, 'local, mounted again');
      await assertTreesEqual(src, remote, 'ssh, mounted again');
    } finally {
      await mirror.close();
      for (const m of mounted) await run('umount', [m]).catch(() => {});
    }
  });

  it('a tmpfs mount point unmounted while the master was stopped: refused after the restart (the state directory remembers), nothing written', async () => {
    const src = await makeTempDir('fam-umount2-src-');
    const local = await makeTempDir('fam-umount2-local-');
    const stateDir = await makeTempDir('fam-umount2-state-');
    await fill(src, 5);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', local]);
    let mounted = true;
    try {
      const first = new Mirror({ source: src, replicas: [local], initMirror: true, stateDir });
      first.on('error', () => {});
      try {
        await first.start();
        await first.flush();
      } finally {
        await first.close();
      }
      await run('umount', [local]);
      mounted = false;
      await writeFile(join(src, 'while-stopped.txt'), 'must not land in the bare mount point\n');
      const again = new Mirror({ source: src, replicas: [local], stateDir });
      again.on('error', () => {});
      try {
        await again.start();
        await writeFile(join(src, 'after-restart.txt'), 'nor this\n');
        await assert.rejects(again.flush({ timeoutMs: 10_000 }), (e) => isMirrorError(e, 'ERR_TARGET_UNMOUNTED') && e.message.includes(join(stateDir)));
        assert.deepEqual(await readdir(local), [], 'nothing written into the bare mount point');
      } finally {
        await again.close();
      }
    } finally {
      if (mounted) await run('umount', [local]).catch(() => {});
    }
  });
});

/**
 * Unclean stops, against the real CLI, real rsync and a real sshd host: a mirror killed with SIGKILL
 * takes its rsync processes with it, and the next start reconciles every replica (itemized: only what
 * differs is sent), journaled so that a kill during that pass changes nothing about the end: the
 * replicas equal the source, with no temporary file of a killed rsync left on them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSshdHosts, stopAll } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from './helpers/tree.js';
import { startCli } from './helpers/cli.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** Live processes (zombies left out: they no longer run), from /proc. */
async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      out.push({ pid: Number(name), ppid: Number(ppid), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function descendantsOf(pid: number, all: Proc[]): Proc[] {
  const out: Proc[] = [];
  let frontier = [pid];
  for (let depth = 0; depth < 10 && frontier.length > 0; depth++) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    out.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return out;
}

/** Those of `pids` still running (not gone, not a zombie); reads only their own /proc entries. */
async function stillRunning(pids: number[]): Promise<number[]> {
  const states = await Promise.all(
    pids.map((pid) =>
      readFile(`/proc/${pid}/stat`, 'utf8').then(
        (s) => s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3),
        () => 'X',
      ),
    ),
  );
  return pids.filter((_, i) => states[i] !== 'Z' && states[i] !== 'X');
}

async function inodes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await readdir(dir)) out.set(name, (await lstat(join(dir, name))).ino);
  return out;
}

describe('restart after an unclean stop', () => {
  it('SIGKILL mid-seed: its rsyncs die with it; restarts without --init, killed again, end exact with no temporary file left', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-kill-src-');
    const local = await makeTempDir('fam-kill-local-');
    const remote = await makeTempDir('fam-kill-remote-');
    const state = await makeTempDir('fam-kill-state-');
    for (let d = 0; d < 40; d++) {
      await mkdir(join(src, `d${d}`));
      await Promise.all(Array.from({ length: 50 }, (_, i) => writeFile(join(src, `d${d}/f${i}`), Buffer.alloc(32 * 1024, (d * 50 + i) % 251))));
    }
    const args = ['--state-dir', state, '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, src, local, `ssh://${h!.user}@127.0.0.1:${h!.port}${remote}`];

    const first = startCli(['--init', ...args]);
    await waitFor(async () => (await readdir(local)).length >= 2 && (await readdir(remote)).length >= 2, { what: 'the seed to be under way', timeoutMs: 20_000, intervalMs: 5 });
    const tree = descendantsOf(first.child.pid!, await processes());
    const rsyncs = tree.filter((p) => p.ppid === first.child.pid && /^rsync /.test(p.cmdline));
    assert.ok(rsyncs.length > 0, `an rsync of the seed runs when the mirror is killed: ${tree.map((p) => p.cmdline).join('\n')}`);
    first.child.kill('SIGKILL');
    await first.exit;
    // The rsyncs the mirror started die with it, not at their next write to a closed pipe.
    await waitFor(async () => (await stillRunning(rsyncs.map((p) => p.pid))).length === 0, { what: "the killed mirror's rsyncs to die with it", timeoutMs: 300, intervalMs: 5 });
    // Their own children (the local receiver, the ssh bridge) and the remote rsync follow at once.
    await waitFor(
      async () => {
        const left = [...(await stillRunning(tree.map((p) => p.pid))), ...(await processes()).filter((p) => p.cmdline.includes(remote)).map((p) => p.pid)];
        return left.length === 0;
      },
      { what: 'every process of the killed mirror to end', timeoutMs: 3000, intervalMs: 10 },
    );

    // What a receiver killed outright leaves: its temporary file next to the real one.
    for (const root of [local, remote]) await writeFile(join(root, 'd0', '.f1.Xq3rTz'), 'partial data of a killed rsync');

    const second = startCli(args);
    await waitFor(() => /watching \(ready in/.test(second.out()), { what: 'the second start', timeoutMs: 20_000 });
    second.child.kill('SIGKILL');
    await second.exit;
    assert.match(second.out(), /did not stop cleanly/);

    const third = startCli(args);
    try {
      const passed = (root: string) =>
        third
          .out()
          .split('\n')
          .some((line) => line.includes('full pass (') && line.includes(root));
      await waitFor(() => passed(local) && passed(remote), { what: 'the full pass of both replicas', timeoutMs: 30_000, intervalMs: 50 });
      await assertTreesEqual(src, local, 'local replica');
      await assertTreesEqual(src, remote, 'ssh replica');
    } finally {
      third.child.kill('SIGTERM');
    }
    assert.equal(await third.exit, 0, third.out());
  });

  it('after SIGKILL, what changed while stopped is reconciled, deletions included, and unchanged files are not sent again', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-unclean-src-');
    const local = await makeTempDir('fam-unclean-local-');
    const remote = await makeTempDir('fam-unclean-remote-');
    const state = await makeTempDir('fam-unclean-state-');
    for (let d = 0; d < 10; d++) {
      await mkdir(join(src, `d${d}`));
      for (let i = 0; i < 10; i++) await writeFile(join(src, `d${d}/f${i}`), `${d}/${i}\n`.repeat(100));
    }
    const args = ['--state-dir', state, '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, src, local, `ssh://${h!.user}@127.0.0.1:${h!.port}${remote}`];
    const inStep = async () => (await diffTrees(src, local)).length === 0 && (await diffTrees(src, remote)).length === 0;

    const first = startCli(['--init', ...args]);
    await waitFor(() => /seeded and watching/.test(first.out()), { what: 'seed', timeoutMs: 30_000 });
    // Created after the start (so after its tree snapshot), mirrored, then deleted while stopped.
    await mkdir(join(src, 'late/sub'), { recursive: true });
    await writeFile(join(src, 'late/a.txt'), 'a\n');
    await writeFile(join(src, 'late/sub/b.txt'), 'b\n');
    await writeFile(join(src, 'late-file.txt'), 'late\n');
    await waitFor(inStep, { what: 'the late files on both replicas' });
    first.child.kill('SIGKILL');
    await first.exit;

    await rm(join(src, 'd0/f0'));
    await rm(join(src, 'late'), { recursive: true });
    await rm(join(src, 'late-file.txt'));
    await rename(join(src, 'd3'), join(src, 'd3-moved'));
    const before = { local: await inodes(join(local, 'd5')), remote: await inodes(join(remote, 'd5')) };

    const second = startCli(args);
    try {
      await waitFor(inStep, { what: 'the deletions made while stopped to reach both replicas', timeoutMs: 20_000, intervalMs: 100 });
      await assertTreesEqual(src, local, 'local replica');
      await assertTreesEqual(src, remote, 'ssh replica');
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exit, 0, second.out());
    assert.match(second.out(), /did not stop cleanly/);
    assert.match(second.out(), /full pass \(unclean stop\) on /);
    // rsync replaces a file it sends (temporary file + rename): the same inode means no data went.
    assert.deepEqual(await inodes(join(local, 'd5')), before.local, 'unchanged files were sent again to the local replica');
    assert.deepEqual(await inodes(join(remote, 'd5')), before.remote, 'unchanged files were sent again to the ssh replica');

    // That stop was clean: the next start trusts journal and snapshot, with no full pass.
    await writeFile(join(src, 'd6/f6'), 'changed while stopped cleanly\n');
    const third = startCli(args);
    try {
      await waitFor(inStep, { what: 'the change made while stopped cleanly', timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      third.child.kill('SIGTERM');
    }
    assert.equal(await third.exit, 0, third.out());
    assert.doesNotMatch(third.out(), /did not stop cleanly|full pass/);
  });
});

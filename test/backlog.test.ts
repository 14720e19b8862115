/**
 * The durable backlog: its record format (pure), its files (temp dir), and the promise it exists
 * for: a mirror killed with SIGKILL mid-batch, with changes made while it was down, restarted
 * without --init, brings the replica level with the source, and without a full pass.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backlog, decodeJournal, encodeRecord, hashName } from '../src/backlog.js';
import { startSshdHosts, stopAll } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from './helpers/tree.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

describe('journal records', () => {
  const hostile = ['a', 'with space', 'new\nline', '', 'ü/名前', '-rf', 'R', '0'];
  it('round-trip any names, several records', () => {
    const records = [
      { seq: 1, paths: hostile },
      { seq: 2, paths: [''] },
      { seq: 10, paths: [] },
    ];
    assert.deepEqual(decodeJournal(Buffer.concat(records.map(encodeRecord))), records);
  });

  it('a torn tail (crash mid-write) is dropped, the records before it kept', () => {
    const whole = Buffer.concat([encodeRecord({ seq: 1, paths: ['x'] }), encodeRecord({ seq: 2, paths: ['y', 'z'] })]);
    for (let cut = whole.length - 1; cut > encodeRecord({ seq: 1, paths: ['x'] }).length; cut--) {
      assert.deepEqual(decodeJournal(whole.subarray(0, cut)), [{ seq: 1, paths: ['x'] }], `cut at ${cut}`);
    }
  });
});

describe('Backlog files', () => {
  it('keep what a replica has not confirmed across a reopen, per replica', async () => {
    const dir = await makeTempDir('fam-backlog-');
    const b = new Backlog(dir, '/srv/www');
    assert.equal(b.known, false);
    b.confirm('r1', 0);
    b.confirm('r2', 0);
    b.append({ seq: 1, paths: ['a'] });
    b.append({ seq: 2, paths: ['b\nc'] });
    b.confirm('r1', 2);
    b.confirm('r2', 1);
    b.close();
    const again = new Backlog(dir, '/srv/www');
    assert.equal(again.known, true);
    assert.equal(again.lastSeq, 2);
    assert.deepEqual(again.unconfirmed('r1'), []);
    assert.deepEqual(again.unconfirmed('r2'), [{ seq: 2, paths: ['b\nc'] }]);
    assert.equal(again.unconfirmed('never-seen'), undefined);
    again.close();
    const st = await stat(join(dir, hashName('/srv/www')));
    assert.equal(st.mode & 0o777, 0o700);
  });
});

function startCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: '' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

describe('restart after SIGKILL', () => {
  it('resends what no replica confirmed and what changed while down, with no full pass', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-restart-src-');
    const dst = await makeTempDir('fam-restart-dst-');
    const state = await makeTempDir('fam-restart-state-');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(src, `d${d}`));
      for (let i = 0; i < 10; i++) await writeFile(join(src, `d${d}/f${i}`), `${d}/${i}\n`.repeat(100));
    }
    const args = ['--state-dir', state, '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, src, `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`];
    const first = startCli(['--init', ...args]);
    await waitFor(() => /seeded and watching/.test(first.out()), { what: 'seed', timeoutMs: 30_000 });
    await assertTreesEqual(src, dst, 'seeded');

    // The replica hangs, so the next batch is stuck in flight when the mirror is killed.
    h!.pause();
    await writeFile(join(src, 'd0/f0'), 'changed while the replica hung\n');
    await rm(join(src, 'd1'), { recursive: true });
    await mkdir(join(src, 'fresh'));
    await writeFile(join(src, 'fresh/new.txt'), 'new\n');
    const journal = join(state, hashName(src), 'journal');
    await waitFor(async () => {
      const paths = decodeJournal(await readFile(journal)).flatMap((r) => r.paths);
      return ['d0/f0', 'd1', 'fresh'].every((p) => paths.includes(p));
    }, { what: 'the changes to be journaled' });
    first.child.kill('SIGKILL');
    await first.exit;
    h!.resume();

    // Changes while no mirror runs.
    await writeFile(join(src, 'd2/f2'), 'changed while the mirror was down\n');
    await rename(join(src, 'd3'), join(src, 'd3-renamed'));
    await rm(join(src, 'd4/f4'));
    assert.ok((await diffTrees(src, dst)).length > 0, 'the replica is behind before the restart');

    const second = startCli(args);
    try {
      await waitFor(() => /watching \(ready in/.test(second.out()), { what: 'restart', timeoutMs: 30_000 });
      await waitFor(async () => (await diffTrees(src, dst)).length === 0, { what: 'the replica to catch up', timeoutMs: 30_000 });
      await assertTreesEqual(src, dst, 'after restart');
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exit, 0, second.out());
    assert.doesNotMatch(second.out(), /synced full pass/, 'a known backlog must not re-seed the tree');
    assert.match(second.out(), /synced \d+ paths/);
    // The fault matrix ends every scenario the same way: rsync's checksum comparison finds nothing.
    const verify = startCli(['verify', ...args]);
    assert.equal(await verify.exit, 0, verify.out());
    assert.match(verify.out(), /: identical\n/);
  });
});

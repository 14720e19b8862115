/**
 * Directory renames: the pairing guess (pure rows), the remote move command (run by a real sh with
 * hostile names), and end to end: a renamed 300-file directory reaches an ssh and a local replica
 * with almost no data sent, and a wrong guess still ends equal.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { pairRenames, type Plan, type Probe } from '../../src/core/plan.js';
import { buildMoveCommand } from '../../src/transport/replica-moves.js';
import { shellQuote } from '../../src/core/shell-quote.js';
import { Mirror, type SyncedEvent } from '../../src/index.js';
import { startSshdHosts, stopAll } from '../helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, snapshotTree } from '../helpers/tree.js';

const run = promisify(execFile);
after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

function rows(entries: Array<[string, Probe]>, paths: string[], deleted: number) {
  const batch = { entries: entries.map(([p]) => [p, 1] as [string, number]), fullSeq: undefined };
  const plan: Plan = { kind: 'paths', paths, deleted };
  return pairRenames(batch, new Map(entries), plan);
}

describe('pairRenames', () => {
  it('pairs the only gone path with the only new directory', () => {
    assert.deepEqual(
      rows(
        [
          ['old', { listAs: 'old', exists: false }],
          ['new', { listAs: 'new', exists: true, isDir: true }],
        ],
        ['new', 'old'],
        1,
      ),
      [{ from: 'old', to: 'new' }],
    );
  });
  it('pairs by name across parents when unique, skips ambiguous ones', () => {
    const r = rows(
      [
        ['a/photos', { listAs: 'a/photos', exists: false }],
        ['b/photos', { listAs: 'b/photos', exists: true, isDir: true }],
        ['a/x', { listAs: 'a/x', exists: false }],
        ['c/y', { listAs: 'c/y', exists: true, isDir: true }],
        ['c/z', { listAs: 'c/z', exists: true, isDir: true }],
      ],
      ['a/photos', 'a/x', 'b/photos', 'c/y', 'c/z'],
      2,
    );
    assert.deepEqual(r, [{ from: 'a/photos', to: 'b/photos' }]);
  });
  it('never pairs without a deletion, with a file, or for a full pass', () => {
    assert.deepEqual(
      rows(
        [
          ['f', { listAs: 'f', exists: true, isDir: false }],
          ['g', { listAs: 'g', exists: false }],
        ],
        ['f', 'g'],
        1,
      ),
      [],
    );
    assert.deepEqual(rows([['d', { listAs: 'd', exists: true, isDir: true }]], ['d'], 0), []);
    assert.deepEqual(pairRenames({ entries: [], fullSeq: 1 }, new Map(), { kind: 'full' }), []);
  });
});

describe('shellQuote and the move command', () => {
  it('any string survives sh exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')),
        async (s) => {
          const { stdout } = await run('sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'buffer' });
          assert.equal(stdout.toString('utf8'), Buffer.from(s, 'utf8').toString('utf8'));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('moves hostile names as data, only when the target is free and the source a directory', async () => {
    const root = await makeTempDir("fam-mv-'root $(x)-");
    const names = ["it's $(touch pwned)", '-rf', 'new\nline', '`id`'];
    for (const n of names) await mkdir(join(root, n));
    await mkdir(join(root, 'taken'));
    await writeFile(join(root, 'a file'), 'f');
    const cmd = buildMoveCommand(root, [...names.map((n) => ({ from: n, to: `${n}.moved` })), { from: '-rf.moved', to: 'taken' }, { from: 'a file', to: 'file-moved' }]);
    await run('sh', ['-c', cmd]);
    const after = (await snapshotTree(root)).map((e) => e.path).sort();
    assert.deepEqual(after, ['a file', 'taken', ...names.map((n) => `${n}.moved`)].sort());
  });
});

describe('a renamed directory end to end', () => {
  it('is moved on the replicas, not sent again', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-ren-src-');
    const ssh = await makeTempDir('fam-ren-ssh-');
    const local = await makeTempDir('fam-ren-local-');
    await mkdir(join(src, 'albums/2025'), { recursive: true });
    for (let i = 0; i < 300; i++) await writeFile(join(src, `albums/2025/p${i}.jpg`), Buffer.alloc(4096, i));
    const m = new Mirror({ source: src, replicas: [`ssh://${h!.user}@127.0.0.1:${h!.port}${ssh}`, local], initMirror: true, identityFiles: [h!.identityFile], knownHostsFiles: [h!.knownHostsFile] });
    const synced: SyncedEvent[] = [];
    try {
      await m.start();
      m.on('synced', (e) => synced.push(e));
      await rename(join(src, 'albums/2025'), join(src, 'albums/2025-summer'));
      await m.flush();
      for (const r of [ssh, local]) await assertTreesEqual(src, r, 'after the rename');
      const bytes = synced.reduce((n, e) => n + e.bytes, 0);
      const files = synced.reduce((n, e) => n + e.files, 0);
      assert.equal(files, 0, 'no file data sent again');
      assert.ok(bytes < 300 * 4096 * 2 * 0.01, `${bytes} bytes reported for 2 × 1.2 MB renamed`);
      // A wrong guess (a deleted directory and an unrelated new one) still ends exactly equal.
      await rm(join(src, 'albums/2025-summer'), { recursive: true });
      await mkdir(join(src, 'other'));
      await writeFile(join(src, 'other/only.txt'), 'unrelated\n');
      await m.flush();
      for (const r of [ssh, local]) await assertTreesEqual(src, r, 'after a wrong guess');
    } finally {
      await m.close();
    }
  });
});

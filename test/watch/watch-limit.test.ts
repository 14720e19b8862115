import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { checkWatchBudget, countDirectories, directoryUpperBound, hasMountBelow, readWatchLimit } from '../../src/watch/watch-limit.js';
import { compileExcludes } from '../../src/core/filter.js';
import { Mirror, type MirrorError } from '../../src/index.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('checkWatchBudget', () => {
  const rows: Array<[number, number, number, boolean]> = [
    [10, 100, 0, true],
    [100, 100, 0, true],
    [101, 100, 0, false],
    [50, 100, 60, false],
    [40, 100, 60, true],
  ];
  for (const [dirs, limit, used, fits] of rows) {
    it(`${dirs} dirs, limit ${limit}, ${used} used → ${fits ? 'fits' : 'ERR_WATCH_LIMIT'}`, () => {
      if (fits) return checkWatchBudget('/srv', dirs, { limit, used });
      assert.throws(
        () => checkWatchBudget('/srv', dirs, { limit, used }),
        (e: MirrorError) => {
          assert.equal(e.code, 'ERR_WATCH_LIMIT');
          assert.match(e.message, new RegExp(`at least ${dirs} directories to watch but only ${limit - used} inotify watches are free`));
          assert.match(e.message, /sysctl -w fs\.inotify\.max_user_watches=\d+/);
          return true;
        },
      );
    });
  }
});

describe('countDirectories', () => {
  it('counts the root and every directory below, not through symlinks, skipping excluded ones, and stops past the cap', async () => {
    const root = await makeTempDir('fam-wl-');
    for (const d of ['a/b/c', 'a/d', 'e', 'cache/x/y']) await mkdir(join(root, d), { recursive: true });
    await symlink(join(root, 'a'), join(root, 'link-to-a'));
    assert.equal(await countDirectories(root, compileExcludes([]), 1000), 9);
    assert.equal(await countDirectories(root, compileExcludes(['/cache']), 1000), 6);
    assert.equal(await countDirectories(root, compileExcludes([]), 3), 4, 'stops at cap + 1');
    assert.equal(await countDirectories(root, compileExcludes([]), 0), 1, 'no watch free: the root alone is too many');
  });

  it('counts the same whether it reads synchronously or, on a cold cache, in parallel', async () => {
    const root = await makeTempDir('fam-wl-big-');
    for (let i = 0; i < 40; i++) await mkdir(join(root, `d${i}`, 'a', 'b'), { recursive: true });
    await mkdir(join(root, 'skip', 'x'), { recursive: true });
    await symlink(join(root, 'd0'), join(root, 'link'));
    const ex = compileExcludes(['/skip']);
    // A zero-length slice reads nothing synchronously, which looks like a cold cache: all in parallel.
    const parallel = { sliceMs: 0, coldSliceDirs: 1 };
    assert.equal(await countDirectories(root, ex, 10_000), 1 + 40 * 3);
    assert.equal(await countDirectories(root, ex, 10_000, parallel), 1 + 40 * 3);
    assert.equal(await countDirectories(root, ex, 10, parallel), 11, 'stops at cap + 1 in parallel too');
    assert.equal(await countDirectories(root, ex, 0, parallel), 1);
  });

  it('bounds the directories by the inodes in use when nothing is mounted below the root', async () => {
    const root = await makeTempDir('fam-wl-bound-');
    for (let i = 0; i < 5; i++) await mkdir(join(root, `d${i}`));
    const bound = await directoryUpperBound(root);
    if (bound !== undefined) assert.ok(bound >= 6, `bound ${bound} covers the 6 directories`);
    assert.equal(await directoryUpperBound('/'), undefined, '/ has /proc and others mounted below it');
  });

  it('reads the kernel limit on Linux', async () => {
    assert.ok(((await readWatchLimit()) ?? 0) > 0);
  });
});

describe('hasMountBelow', () => {
  const info = ['22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw', '30 22 0:26 / /srv/www/up\\040loads rw - tmpfs tmpfs rw', '31 22 0:27 / /srv/wwwold rw - tmpfs tmpfs rw'].join('\n');
  const rows: Array<[string, boolean]> = [
    ['/srv/www', true],
    ['/srv/www/', true],
    ['/srv/www/up loads', false],
    ['/srv/ww', false],
    ['/srv', true],
    ['/var/www', false],
  ];
  for (const [root, below] of rows) {
    it(`${root} → ${below ? 'a mount below' : 'none below'}`, () => assert.equal(hasMountBelow(info, root), below));
  }
});

describe('Mirror preflight', () => {
  it('refuses to start on a tree with more directories than watches, before touching any replica', async () => {
    const src = await makeTempDir('fam-wl-src-');
    const dst = await makeTempDir('fam-wl-dst-');
    for (let i = 0; i < 10; i++) await mkdir(join(src, `d${i}`));
    const m = new Mirror({ source: src, replicas: [dst], initMirror: true, watchLimit: 5 });
    await assert.rejects(m.start(), (e: MirrorError) => e.code === 'ERR_WATCH_LIMIT' && /at least 6 directories to watch but only 5/.test(e.message));
    await m.close();
    const fits = new Mirror({ source: src, replicas: [dst], initMirror: true, watchLimit: 11 });
    await fits.start();
    await fits.close();
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HotDirs } from '../../src/watch/hot-dirs.js';
import { Mirror } from '../../src/index.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

/** Polls (bounded) until `pred` holds. */
async function until(pred: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < 1000 && !pred(); i++) {
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(pred(), `timed out waiting for ${what}`);
}

describe('HotDirs', () => {
  it('reports writes in a hot directory at once, and covers only names it reported on the same directory inode', async () => {
    const root = await makeTempDir('fam-hot-');
    await mkdir(join(root, 'd'));
    await mkdir(join(root, 'cold'));
    const reported: string[] = [];
    const hot = new HotDirs(root, 4, (rel) => {
      reported.push(rel);
      return !rel.endsWith('.refused');
    });
    try {
      hot.touch(['d']);
      await writeFile(join(root, 'd', 'x'), 'x');
      await until(() => reported.includes('d/x'), 'the side watch to report d/x');
      assert.equal(hot.coverage()('d/x'), true);
      assert.equal(hot.coverage()('d/y'), false, 'a name never reported');
      await writeFile(join(root, 'd', 'x.refused'), 'x');
      await until(() => reported.includes('d/x.refused'), 'the side watch to report d/x.refused');
      assert.equal(hot.coverage()('d/x.refused'), false, 'a name the watcher did not pass on is not covered');
      assert.equal(hot.coverage()('cold/x'), false, 'a directory without a side watch');
      assert.equal(hot.coverage()('x'), false, 'the root has no side watch');

      // Renamed away and replaced: the old watch follows the old inode, so it covers nothing at 'd'.
      await rename(join(root, 'd'), join(root, 'd2'));
      await mkdir(join(root, 'd'));
      await writeFile(join(root, 'd', 'x'), 'new');
      assert.equal(hot.coverage()('d/x'), false);

      hot.clear();
      assert.equal(hot.coverage()('d/x'), false, 'nothing is covered once the watches are gone');
    } finally {
      hot.clear();
    }
  });

  it('evicts the least recently touched directory past its bound', async () => {
    const root = await makeTempDir('fam-hot-lru-');
    for (const d of ['a', 'b', 'c']) await mkdir(join(root, d));
    const reported: string[] = [];
    const hot = new HotDirs(root, 2, (rel) => {
      reported.push(rel);
      return true;
    });
    try {
      hot.touch(['a']);
      hot.touch(['b']);
      hot.touch(['a']); // a is now the most recent
      hot.touch(['c']); // evicts b
      for (const d of ['a', 'b', 'c']) await writeFile(join(root, d, 'f'), d);
      await until(() => reported.includes('a/f') && reported.includes('c/f'), 'a/f and c/f');
      assert.equal(hot.coverage()('b/f'), false);
      assert.equal(hot.coverage()('a/f'), true);
    } finally {
      hot.clear();
    }
  });
});

describe('a trickle of writes into one directory (real @parcel/watcher, local replica)', () => {
  it('costs about one batch per write, not two: the watcher repeats what the side watch reported', async () => {
    const src = await makeTempDir('fam-trickle-src-');
    const dst = await makeTempDir('fam-trickle-dst-');
    await mkdir(join(src, 'uploads'));
    const m = new Mirror({ source: src, replicas: [dst], initMirror: true });
    let batches = 0;
    m.on('synced', () => batches++);
    try {
      await m.start();
      await m.flush();
      // The first write makes the directory hot; the rounds after it are the ones counted.
      await writeFile(join(src, 'uploads', 'warm-up'), 'w');
      await m.flush();
      const WRITES = 8;
      const before = batches;
      for (let i = 0; i < WRITES; i++) {
        // The writes are the scenario (a trickle 250 ms apart, inside @parcel/watcher's 500 ms
        // debounce window), not a wait for work: the mirror is awaited with flush() below.
        await new Promise((r) => setTimeout(r, 250));
        await writeFile(join(src, 'uploads', `f${i}`), `content ${i}\n`);
      }
      // flush() first waits for @parcel/watcher to deliver what it saw (a barrier), so its repeats
      // of the writes are in before the count.
      await m.flush();
      const perWrite = (batches - before) / WRITES;
      console.log(`# trickle: ${batches - before} batches for ${WRITES} writes`);
      assert.ok(perWrite <= 1.5, `${batches - before} batches for ${WRITES} writes (two per write without the dedup)`);
      await assertTreesEqual(src, dst);
    } finally {
      await m.close();
    }
  });
});

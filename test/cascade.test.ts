/**
 * A two-tier cascade (master → relay → leaves): the relay's own mirror watches the tree the master's
 * rsync writes into it (temp file + rename), and the leaves end equal to the master, deletions and
 * renames included.
 */
import { after, describe, it } from 'node:test';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror } from '../src/index.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

describe('cascade', () => {
  it('master → relay → 2 leaves', async () => {
    const master = await makeTempDir('fam-cas-master-');
    const relay = await makeTempDir('fam-cas-relay-');
    const leaves = [await makeTempDir('fam-cas-leaf1-'), await makeTempDir('fam-cas-leaf2-')];
    await mkdir(join(master, 'site/img'), { recursive: true });
    await writeFile(join(master, 'site/index.html'), 'v1\n');
    const tier1 = new Mirror({ source: master, replicas: [relay], initMirror: true });
    const tier2 = new Mirror({ source: relay, replicas: leaves, initMirror: true });
    await tier1.start();
    await tier2.start();
    try {
      await writeFile(join(master, 'site/index.html'), 'v2, longer\n');
      for (let i = 0; i < 50; i++) await writeFile(join(master, `site/img/p${i}.png`), `png ${i}`);
      await rename(join(master, 'site/img'), join(master, 'site/images'));
      await rm(join(master, 'site/images/p0.png'));
      await tier1.flush();
      await waitFor(async () => (await Promise.all(leaves.map((l) => diffTrees(master, l)))).every((d) => d.length === 0), { what: 'the leaves to equal the master' });
      for (const leaf of leaves) await assertTreesEqual(master, leaf, 'leaf');
    } finally {
      await tier1.close();
      await tier2.close();
    }
  });
});

/**
 * The probe on a real temp tree: what each dirty path is listed as, the same for replicas probing at
 * once (their lstat calls are shared while under way), and never older than the probe that asked.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probePaths } from '../../src/sync/probe.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('probePaths', () => {
  it('replicas probing the same paths at once all get the same, right answers', async () => {
    const root = await makeTempDir('fam-probe-');
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'd', 'f'), 'x');
    await symlink('d', join(root, 'link'));
    const paths = ['d/f', 'd', 'link/f', 'gone/below/x', 'd/missing'];
    const want = {
      'd/f': { listAs: 'd/f', exists: true, isDir: false, isFile: true, links: 1 },
      d: { listAs: 'd', exists: true, isDir: true },
      'link/f': { listAs: 'link', exists: true, isDir: false },
      'gone/below/x': { listAs: 'gone', exists: false },
      'd/missing': { listAs: 'd/missing', exists: false },
    };
    const answers = await Promise.all([0, 1, 2, 3].map(() => probePaths(root, paths)));
    for (const answer of answers) assert.deepEqual(Object.fromEntries(answer), want);
  });

  it('a probe after another has finished sees the tree as it is now', async () => {
    const root = await makeTempDir('fam-probe-');
    await writeFile(join(root, 'f'), 'x');
    assert.equal((await probePaths(root, ['f'])).get('f')?.exists, true);
    await rm(join(root, 'f'));
    assert.equal((await probePaths(root, ['f'])).get('f')?.exists, false);
    await mkdir(join(root, 'f'));
    assert.equal((await probePaths(root, ['f'])).get('f')?.isDir, true);
  });
});

/**
 * Local replica paths on a real file system: where a path really leads (watch/real-path.ts), and a Mirror
 * refusing a replica that leads back into its source by `..`, `//` or a symlink, before anything runs.
 * The end-to-end cases seed through such a path on purpose: without the check, `rsync --delete`
 * deleted a file of the source.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMirrorError } from '../src/errors.js';
import { Mirror } from '../src/mirror.js';
import { realPathOfExisting } from '../src/watch/real-path.js';
import { cleanupTempDirs, makeTempDir, snapshotTree } from './helpers/tree.js';

let tmp: string;
/** tmp with its own symlinks resolved (os.tmpdir() may be reached through one). */
let real: string;

before(async () => {
  tmp = await makeTempDir('fam-paths-');
  real = await realpath(tmp);
  await mkdir(join(tmp, 'real/dir'), { recursive: true });
  await writeFile(join(tmp, 'real/file'), 'f');
  await symlink(join(tmp, 'real'), join(tmp, 'link'));
  await symlink('real/dir', join(tmp, 'relative-link'));
  await symlink(join(tmp, 'real/not-yet'), join(tmp, 'dangling'));
  await symlink(join(tmp, 'loop-b'), join(tmp, 'loop-a'));
  await symlink(join(tmp, 'loop-a'), join(tmp, 'loop-b'));
});
after(cleanupTempDirs);

describe('realPathOfExisting', () => {
  const rows: Array<[given: string, want: string]> = [
    ['real/dir', 'real/dir'],
    ['link', 'real'],
    ['link/dir', 'real/dir'],
    ['link/missing/deeper', 'real/missing/deeper'],
    ['relative-link', 'real/dir'],
    ['relative-link/x', 'real/dir/x'],
    ['dangling', 'real/not-yet'],
    ['dangling/x/y', 'real/not-yet/x/y'],
    ['real/file/x', 'real/file/x'],
    ['nothing/here', 'nothing/here'],
  ];
  for (const [given, want] of rows) {
    it(`${given} → ${want}`, () => {
      assert.equal(realPathOfExisting(join(tmp, given)), join(real, want));
    });
  }

  it('a symlink loop ends (ELOOP), it does not hang', () => {
    assert.equal(typeof realPathOfExisting(join(tmp, 'loop-a/x')), 'string');
  });
});

describe('Mirror: a local replica that leads back into the source is refused', () => {
  /**
   * The source has a file only in sub/: a seed of the source into sub/ itself deletes it (--delete
   * removes what the source root does not have). Every spec here names src/sub in another way.
   */
  async function fixture(): Promise<{ base: string; src: string }> {
    const base = await makeTempDir('fam-loop-');
    const src = join(base, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await mkdir(join(base, 'elsewhere'));
    await writeFile(join(src, 'top.txt'), 'top\n');
    await writeFile(join(src, 'sub/only-here.txt'), 'precious\n');
    await symlink(join(src, 'sub'), join(base, 'link-to-sub'));
    await symlink(src, join(base, 'link-to-src'));
    await symlink(join(src, 'sub/new'), join(base, 'dangling-into-src'));
    return { base, src };
  }

  const specs: Array<[name: string, spec: (base: string) => string]> = [
    ['.. leading back inside', (b) => `${b}/elsewhere/../src/sub`],
    ['// inside', (b) => `${b}//src//sub`],
    ['/./ inside', (b) => `${b}/./src/./sub`],
    ['a symlink to a directory of the source', (b) => `${b}/link-to-sub`],
    ['a path through a symlink to the source', (b) => `${b}/link-to-src/sub`],
    ['a dangling symlink into the source', (b) => `${b}/dangling-into-src`],
  ];
  for (const [name, spec] of specs) {
    it(`${name}: ERR_REPLICA_LOOP, and the source is untouched`, async () => {
      const { base, src } = await fixture();
      const before = await snapshotTree(src);
      let mirror: Mirror | undefined;
      let error: unknown;
      try {
        mirror = new Mirror({ source: src, replicas: [spec(base)], initMirror: true, quietMs: 5 });
        await mirror.start();
        await mirror.flush({ timeoutMs: 10_000 });
      } catch (e) {
        error = e;
      } finally {
        await mirror?.close();
      }
      assert.deepEqual(await snapshotTree(src), before, 'the source is untouched');
      assert.ok(isMirrorError(error, 'ERR_REPLICA_LOOP'), `expected ERR_REPLICA_LOOP, got ${String(error)}`);
      assert.ok((error as Error).message.includes(spec(base)), (error as Error).message);
    });
  }

  it('a source reached through a symlink: a replica inside its real directory is refused', async () => {
    const { base, src } = await fixture();
    assert.throws(
      () => new Mirror({ source: join(base, 'link-to-src'), replicas: [join(src, 'sub')] }),
      (e: unknown) => isMirrorError(e, 'ERR_REPLICA_LOOP'),
    );
  });

  it('the same directory named twice, once through a symlink: ERR_REPLICA_DUPLICATE', async () => {
    const { base, src } = await fixture();
    await mkdir(join(base, 'out'));
    await symlink(join(base, 'out'), join(base, 'out-link'));
    assert.throws(
      () => new Mirror({ source: src, replicas: [join(base, 'out'), join(base, 'out-link')] }),
      (e: unknown) => isMirrorError(e, 'ERR_REPLICA_DUPLICATE') && e.message.includes('out-link'),
    );
  });
});

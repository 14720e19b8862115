/**
 * End to end, changes that inotify's events or rsync's quick check miss (issue 9, items 12-14): real
 * @parcel/watcher, real rsync, a local replica and one replica behind a real sshd on 127.0.0.1.
 * - a rewrite that keeps size and mtime (`cp -p`, `touch -r`): rsync's quick check would skip it;
 * - a write through one name of a hard-linked file: inotify names only that one;
 * - directory-only excludes (`cache/`): a *file* named cache is sent, an excluded directory that
 *   exists only on a replica is never deleted there, even when the source's twin goes.
 * The oracle: each replica equals the source (content, type, mode, symlink target, mtimes) outside
 * the excluded directory, which keeps its replica-only content.
 * The executor block runs single batches, so the plans that need several rsync calls are certain.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Batch } from '../src/core/coalesce.js';
import { writeExcludeFile, type ExcludeFile } from '../src/rsync/exclude-file.js';
import { HardLinks } from '../src/sync/hard-links.js';
import { compileExcludes } from '../src/core/filter.js';
import { Mirror } from '../src/index.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { cleanupTempDirs, makeTempDir, snapshotTree, type TreeEntry } from './helpers/tree.js';
import { localExecutor } from './helpers/executor.js';

const run = promisify(execFile);

/** Every entry of both trees but the excluded top-level `cache` subtree, which may differ. */
async function assertEqualOutsideCache(source: string, replica: string, label: string): Promise<void> {
  const outside = (entries: TreeEntry[]) => entries.filter((e) => e.path !== 'cache' && !e.path.startsWith('cache/'));
  assert.deepEqual(outside(await snapshotTree(replica)), outside(await snapshotTree(source)), `${label}: ${replica} differs from the source`);
}

/** Rewrites `file` with other bytes of the same length and puts back its exact (ns) mtime, as `cp -p` or unpacking does. */
async function rewriteKeepingSizeAndMtime(file: string, content: string, scratch: string): Promise<void> {
  const before = await readFile(file, 'utf8');
  assert.equal(Buffer.byteLength(content), Buffer.byteLength(before), 'the test needs a same-size rewrite');
  const ref = join(scratch, `ref-${Date.now()}-${Math.random()}`);
  await run('cp', ['-p', file, ref]);
  await writeFile(file, content);
  await run('touch', ['-r', ref, file]);
}

describe('changes events or the quick check miss (end to end)', () => {
  let host: SshdHost;
  let source: string;
  let scratch: string;
  let replicas: string[];
  let mirror: Mirror;

  const assertAllEqual = async (label: string) => {
    for (const r of replicas) await assertEqualOutsideCache(source, r, label);
  };

  before(async () => {
    [host] = (await startSshdHosts(1)) as [SshdHost];
    source = await makeTempDir('fam-missed-src-');
    scratch = await makeTempDir('fam-missed-scratch-');
    replicas = [await makeTempDir('fam-missed-local-'), await makeTempDir('fam-missed-ssh-')];
    await writeFile(join(source, 'page.html'), 'version 1 AAAA\n');
    await mkdir(join(source, 'cache'));
    await writeFile(join(source, 'cache', 'source-only'), 'not sent\n');
    await mkdir(join(source, 'hl'));
    await mkdir(join(source, 'hl2'));
    await writeFile(join(source, 'hl', 'a'), 'linked v1\n');
    await link(join(source, 'hl', 'a'), join(source, 'hl', 'b'));
    await link(join(source, 'hl', 'a'), join(source, 'hl2', 'c'));
    await mkdir(join(source, 'g'));
    await writeFile(join(source, 'g', 'cache'), 'a file named like the excluded directory\n');
    for (const r of replicas) {
      await mkdir(join(r, 'cache'));
      await writeFile(join(r, 'cache', 'replica-only'), 'this replica keeps its own cache\n');
    }
    mirror = new Mirror({
      source,
      replicas: [replicas[0]!, `ssh://${host.user}@127.0.0.1:${host.port}${replicas[1]}`],
      exclude: ['cache/'],
      initMirror: true,
      identityFiles: [host.identityFile],
      knownHostsFiles: [host.knownHostsFile],
    });
    await mirror.start();
    await assertAllEqual('seed');
  });

  after(async () => {
    await mirror?.close();
    await stopAll();
    await cleanupTempDirs();
  });

  it('a rewrite that keeps size and mtime (cp -p, touch -r) reaches every replica', async () => {
    await rewriteKeepingSizeAndMtime(join(source, 'page.html'), 'version 2 BBBB\n', scratch);
    await mirror.flush();
    await assertAllEqual('rewrite with the old mtime');
  });

  it('the same, in one burst with a new directory (the file is compared by content in a call of its own)', async () => {
    await mkdir(join(source, 'fresh'));
    await writeFile(join(source, 'fresh', 'inside.txt'), 'new\n');
    await rewriteKeepingSizeAndMtime(join(source, 'page.html'), 'version 3 CCCC\n', scratch);
    await mirror.flush();
    await assertAllEqual('new directory and rewrite');
  });

  it('a write through one name of a hard-linked file reaches every name on every replica', async () => {
    await appendFile(join(source, 'hl', 'a'), 'appended through a\n');
    await mirror.flush();
    await assertAllEqual('write through hl/a');
    assert.match(await readFile(join(replicas[1]!, 'hl2', 'c'), 'utf8'), /appended through a/);
    await appendFile(join(source, 'hl2', 'c'), 'appended through c\n');
    await mirror.flush();
    await assertAllEqual('write through hl2/c');
  });

  it('a new hard link, then a write through the old name', async () => {
    await link(join(source, 'page.html'), join(source, 'hl', 'page-link'));
    await mirror.flush();
    await rewriteKeepingSizeAndMtime(join(source, 'page.html'), 'version 4 DDDD\n', scratch);
    await mirror.flush();
    await assertAllEqual('write after a new link');
  });

  it("a file named like a directory-only exclude ('cache/') is sent, created and deleted", async () => {
    await mkdir(join(source, 'f'));
    await writeFile(join(source, 'f', 'cache'), 'a file, sent by rsync\n');
    await mirror.flush();
    await assertAllEqual('file f/cache created');
    assert.equal(await readFile(join(replicas[1]!, 'f', 'cache'), 'utf8'), 'a file, sent by rsync\n');
    await rm(join(source, 'g', 'cache'));
    await mirror.flush();
    await assertAllEqual('file g/cache deleted');
  });

  it('an excluded directory that exists only on a replica stays when the source deletes its twin', async () => {
    await rm(join(source, 'cache'), { recursive: true });
    await writeFile(join(source, 'beside.txt'), 'a change beside it\n');
    await mirror.flush();
    await assertAllEqual('cache/ removed from the source');
    for (const r of replicas) {
      assert.equal(await readFile(join(r, 'cache', 'replica-only'), 'utf8'), 'this replica keeps its own cache\n', `${r}: the excluded directory was touched`);
    }
    await mkdir(join(source, 'cache'));
    await writeFile(join(source, 'cache', 'again'), 'not sent\n');
    await mirror.flush();
    await assertAllEqual('cache/ created again');
    for (const r of replicas) await assert.rejects(readFile(join(r, 'cache', 'again')), { code: 'ENOENT' });
  });
});

describe('executor: batches that need more than one rsync call (local replica, real rsync)', () => {
  const ruleFiles: ExcludeFile[] = [];
  after(async () => {
    for (const f of ruleFiles.splice(0)) await f.remove();
    await cleanupTempDirs();
  });

  async function setup(exclude: string[] = []) {
    const source = await makeTempDir('fam-exec-src-');
    const replica = await makeTempDir('fam-exec-replica-');
    const scratch = await makeTempDir('fam-exec-scratch-');
    const rules = await writeExcludeFile(exclude);
    ruleFiles.push(rules);
    const execute = localExecutor(source, replica, { exclude, excludeFile: rules.path });
    const sync = async (paths: string[]) => {
      const outcome = await execute({ entries: paths.map((p, i): [string, number] => [p, i + 1]), fullSeq: undefined });
      assert.equal(outcome.verdict, 'ok', outcome.error?.message);
    };
    const full = async () => {
      const batch: Batch = { entries: [], fullSeq: 1 };
      assert.equal((await execute(batch)).verdict, 'ok');
    };
    return { source, replica, scratch, sync, full };
  }

  it('a new directory and a same-size, same-mtime rewrite in one batch: both arrive', async () => {
    const { source, replica, scratch, sync, full } = await setup();
    await writeFile(join(source, 'f'), 'one\n');
    await full();
    await mkdir(join(source, 'd'));
    await writeFile(join(source, 'd', 'x'), 'x\n');
    await rewriteKeepingSizeAndMtime(join(source, 'f'), 'two\n', scratch);
    await sync(['d', 'f']);
    assert.deepEqual(await snapshotTree(replica), await snapshotTree(source));
  });

  it("a gone name matched only by 'cache/': the replica's directory stays, its file goes", async () => {
    const { source, replica, sync } = await setup(['cache/']);
    await mkdir(join(source, 'sub'));
    await mkdir(join(replica, 'cache'), { recursive: true });
    await writeFile(join(replica, 'cache', 'keep'), 'replica only\n');
    await mkdir(join(replica, 'sub'));
    await writeFile(join(replica, 'sub', 'cache'), 'a file the source deleted\n');
    await sync(['cache', 'sub/cache']);
    assert.equal(await readFile(join(replica, 'cache', 'keep'), 'utf8'), 'replica only\n');
    await assert.rejects(readFile(join(replica, 'sub', 'cache')), { code: 'ENOENT' });
  });
});

describe('HardLinks: the other names of a multi-link inode', () => {
  after(cleanupTempDirs);

  it('walks once, then answers from its index until it cannot vouch for it', async () => {
    const root = await makeTempDir('fam-links-');
    await mkdir(join(root, 'd'));
    await mkdir(join(root, 'skip'));
    await writeFile(join(root, 'a'), 'x');
    await link(join(root, 'a'), join(root, 'd', 'b'));
    await link(join(root, 'a'), join(root, 'skip', 'c'));
    await writeFile(join(root, 'single'), 'y');
    const links = new HardLinks(root, compileExcludes(['/skip']));
    assert.deepEqual(await links.otherNames(['single'], 1), [], 'a single-link file asks nothing');
    assert.equal(links.walks, 0);
    assert.deepEqual(await links.otherNames(['a'], 1), ['d/b'], 'excluded names are not sent');
    assert.equal(links.walks, 1);
    assert.deepEqual(await links.otherNames(['d/b'], 2), ['a']);
    assert.equal(links.walks, 1, 'the index vouches: no walk');
    // A new name changes the link count: walk again.
    await link(join(root, 'a'), join(root, 'e'));
    assert.deepEqual((await links.otherNames(['a'], 3)).sort(), ['d/b', 'e']);
    assert.equal(links.walks, 2);
    // A known name renamed away: it no longer lstats to the inode, walk again.
    await run('mv', [join(root, 'e'), join(root, 'd', 'e2')]);
    assert.deepEqual((await links.otherNames(['a'], 4)).sort(), ['d/b', 'd/e2']);
    assert.equal(links.walks, 3);
    // A directory that appeared after the walk may hold names it never saw (moved in from outside).
    links.directoryChanged(5);
    assert.deepEqual((await links.otherNames(['a'], 5)).sort(), ['d/b', 'd/e2']);
    assert.equal(links.walks, 4);
    links.directoryChanged(5);
    await links.otherNames(['a'], 6);
    assert.equal(links.walks, 4, 'a directory change older than the walk does not make it stale');
  });

  it('lanes asking about the same change at once share one walk', async () => {
    const root = await makeTempDir('fam-links-');
    await writeFile(join(root, 'a'), 'x');
    await link(join(root, 'a'), join(root, 'b'));
    const links = new HardLinks(root, compileExcludes([]));
    const answers = await Promise.all([1, 2, 3].map(() => links.otherNames(['a'], 7)));
    assert.deepEqual(answers, [['b'], ['b'], ['b']]);
    assert.equal(links.walks, 1);
  });

  it('names outside the tree count in nlink but never force a walk each time', async () => {
    const base = await makeTempDir('fam-links-');
    await mkdir(join(base, 'root'));
    await writeFile(join(base, 'root', 'in'), 'x');
    await link(join(base, 'root', 'in'), join(base, 'outside'));
    const links = new HardLinks(join(base, 'root'), compileExcludes([]));
    assert.deepEqual(await links.otherNames(['in'], 1), []);
    assert.deepEqual(await links.otherNames(['in'], 2), []);
    assert.equal(links.walks, 1);
  });
});

/**
 * MirrorGroup end to end: several roots to the same replicas with real @parcel/watcher and real
 * rsync (local replicas, and a real sshd host for the shared connection), each root placed at P/R,
 * per-root excludes and never-replicate paths kept off the replicas, reconfigure and close across all.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMirrorError, MirrorGroup, type Mirror, type MirrorErrorCode, type MirrorGroupOptions } from '../src/index.js';
import { startSshdHosts, stopAll } from './helpers/sshd.js';
import { listRoot, assertTreesEqual, cleanupTempDirs, makeTempDir } from './helpers/tree.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

/** Two roots: www (with a never-replicated db/ and a site/ below it) and uploads (with its own exclude). */
async function twoRoots(): Promise<{ www: string; uploads: string }> {
  const tmp = await makeTempDir('fam-group-');
  const www = join(tmp, 'www');
  const uploads = join(tmp, 'uploads');
  for (const d of [join(www, 'site'), join(www, 'db'), uploads]) await mkdir(d, { recursive: true });
  await writeFile(join(www, 'site/index.html'), 'www\n');
  await writeFile(join(www, 'db/data.bin'), 'master database\n');
  await writeFile(join(uploads, 'photo.jpg'), 'jpg\n');
  await writeFile(join(uploads, 'thumbs.cache'), 'excluded below uploads only\n');
  await writeFile(join(www, 'site/site.cache'), 'www has no such exclude\n');
  return { www, uploads };
}

describe('MirrorGroup with local replicas', () => {
  it('places each root at P/R, keeps never paths and per-root excludes off, follows changes, reconfigures and closes all', async () => {
    const { www, uploads } = await twoRoots();
    const backup = await makeTempDir('fam-group-backup-');
    // What the replica holds below the never-replicated path stays as it is.
    await mkdir(join(backup, www, 'db'), { recursive: true });
    await writeFile(join(backup, www, 'db/data.bin'), 'replica database\n');
    const group = new MirrorGroup({ roots: [www, { source: uploads, exclude: ['*.cache'] }], never: [join(www, 'db')], replicas: [backup], initMirror: true });
    const syncedBy = new Set<string>();
    group.on('synced', (e, mirror: Mirror) => syncedBy.add(`${mirror.options.source} ${e.replica}`));
    try {
      assert.deepEqual(await group.start(), { seeded: [join(backup, www), join(backup, uploads)], unseeded: [], failed: [] });
      await writeFile(join(www, 'site/new.html'), 'new\n');
      await writeFile(join(uploads, 'later.jpg'), 'later\n');
      await writeFile(join(uploads, 'later.cache'), 'never sent\n');
      assert.deepEqual(await group.flush({ timeoutMs: 20_000 }), { complete: true, behind: [], problems: [] });
      await assertTreesEqual(join(www, 'site'), join(backup, www, 'site'), 'www/site');
      assert.equal(await readFile(join(backup, www, 'db/data.bin'), 'utf8'), 'replica database\n', 'never-replicated path untouched');
      assert.deepEqual((await listRoot(join(backup, uploads))).sort(), ['later.jpg', 'photo.jpg'], 'the per-root exclude holds');
      assert.ok(syncedBy.has(`${uploads} ${join(backup, uploads)}`), [...syncedBy].join('; '));
      assert.deepEqual(
        group.status().map((s) => s.replica),
        [join(backup, www), join(backup, uploads)],
      );

      // A replica added by reconfigure is seeded for every root; an exclude change needs a restart.
      const second = await makeTempDir('fam-group-second-');
      await mkdir(join(second, dirname(www)), { recursive: true }); // rsync creates the root's own directory only
      const next: MirrorGroupOptions = { roots: [www, { source: uploads, exclude: ['*.cache', '*.raw'] }], never: [join(www, 'db')], replicas: [backup, second], initMirror: true };
      const result = await group.reconfigure(next);
      assert.deepEqual(result, {
        rootsChanged: false,
        roots: [
          { source: www, added: [join(second, www)], removed: [], restartNeeded: [] },
          { source: uploads, added: [join(second, uploads)], removed: [], restartNeeded: ['exclude'] },
        ],
      });
      assert.equal((await group.flush({ timeoutMs: 20_000 })).complete, true);
      await assertTreesEqual(join(www, 'site'), join(second, www, 'site'), 'www/site on the added replica');
      assert.deepEqual((await listRoot(join(second, uploads))).sort(), ['later.jpg', 'photo.jpg']);

      // Bad options change nothing, on any root.
      await assert.rejects(group.reconfigure({ ...next, replicas: [backup, 'web2:relative'] }), (e: unknown) => isMirrorError(e, 'ERR_REPLICA_SPEC'));
      assert.equal(group.status().length, 4);
      const moved = await group.reconfigure({ ...next, roots: [www] });
      assert.equal(moved.rootsChanged, true, 'a changed root list is named');
      assert.deepEqual(
        moved.roots.map((r) => r.source),
        [www, uploads],
        'the running roots keep running',
      );
    } finally {
      await group.close();
    }
    assert.deepEqual(new Set(group.status().map((s) => s.state)), new Set(['closed']));
  });

  it('a root that cannot start closes the whole group', async () => {
    const { www } = await twoRoots();
    const group = new MirrorGroup({ roots: [www, join(www, '../missing')], replicas: [await makeTempDir('fam-group-r-')] });
    await assert.rejects(group.start(), (e: unknown) => isMirrorError(e, 'ERR_SOURCE_MISSING'));
    for (const mirror of group.mirrors) await assert.rejects(mirror.flush(), (e: unknown) => isMirrorError(e, 'ERR_CLOSED'));
  });

  const bad: Array<{ name: string; options: unknown; code: MirrorErrorCode; mention: string }> = [
    { name: 'no roots', options: { roots: [], replicas: ['/b'] }, code: 'ERR_OPTIONS', mention: '"roots"' },
    { name: 'a root that is no path', options: { roots: [42], replicas: ['/b'] }, code: 'ERR_OPTIONS', mention: '"roots"' },
    { name: 'a source instead of roots', options: { source: '/a', roots: ['/a'], replicas: ['/b'] }, code: 'ERR_OPTIONS', mention: '"source"' },
    { name: 'a relative never path', options: { roots: ['/a'], never: ['db'], replicas: ['/b'] }, code: 'ERR_OPTIONS', mention: '"never"' },
    { name: 'a bad replica', options: { roots: ['/a', '/c'], replicas: ['web2/srv'] }, code: 'ERR_REPLICA_SPEC', mention: 'web2:/srv' },
    { name: 'a replica inside a root', options: { roots: ['/a'], replicas: ['/a/copy'] }, code: 'ERR_REPLICA_LOOP', mention: '/a/copy' },
    { name: 'an unknown option', options: { roots: ['/a'], replicas: ['/b'], quiteMs: 5 }, code: 'ERR_OPTIONS', mention: '"quiteMs"' },
  ];
  for (const row of bad) {
    it(`${row.name} → ${row.code}`, () => {
      assert.throws(
        () => new MirrorGroup(row.options as MirrorGroupOptions),
        (e: unknown) => isMirrorError(e, row.code) && e.message.includes(row.mention),
      );
    });
  }
});

describe('MirrorGroup over a real sshd host', () => {
  it('two roots share one ssh login', async () => {
    const [h] = await startSshdHosts(1);
    const { www, uploads } = await twoRoots();
    const remote = await makeTempDir('fam-group-remote-');
    await mkdir(join(remote, dirname(www)), { recursive: true }); // rsync creates the root's own directory only
    const group = new MirrorGroup({
      roots: [www, uploads],
      replicas: [`ssh://${h!.user}@127.0.0.1:${h!.port}${remote}`],
      initMirror: true,
      identityFiles: [h!.identityFile],
      knownHostsFiles: [h!.knownHostsFile],
    });
    try {
      assert.deepEqual((await group.start()).unseeded, []);
      await writeFile(join(uploads, 'later.jpg'), 'later\n');
      assert.equal((await group.flush({ timeoutMs: 20_000 })).complete, true);
      await assertTreesEqual(uploads, join(remote, uploads), 'uploads');
      await assertTreesEqual(www, join(remote, www), 'www');
    } finally {
      await group.close();
    }
    assert.equal(await h!.logins(), 1, 'two roots, one login');
  });
});

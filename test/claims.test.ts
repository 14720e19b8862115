/**
 * What a mirror claims at start is what happened: with initMirror, start() names the replicas whose
 * seed is confirmed and those still without one (down: seeded when back); a dry run sends nothing,
 * so it counts nothing as sent.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Mirror } from '../src/mirror.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from './helpers/tree.js';

after(cleanupTempDirs);

/** Nothing listens on port 1 of 127.0.0.1: the replica there is down (refused), not misconfigured. */
async function unreachable(dir: string): Promise<{ spec: string; id: string; key: string }> {
  const key = join(dir, 'id_ed25519');
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return { spec: 'ssh://root@127.0.0.1:1/srv/www', id: 'root@127.0.0.1:1:/srv/www', key };
}

describe('Mirror.start() says who was seeded', () => {
  it('one local replica seeded, one ssh replica down: named as not seeded', async () => {
    const tmp = await makeTempDir('fam-claims-');
    const src = await makeTempDir('fam-claims-src-');
    const local = await makeTempDir('fam-claims-local-');
    await writeFile(join(src, 'a.txt'), 'a\n');
    const down = await unreachable(tmp);
    const mirror = new Mirror({ source: src, replicas: [local, down.spec], identityFiles: [down.key], initMirror: true, quietMs: 5, retryMinMs: 200 });
    try {
      const result = await mirror.start();
      assert.deepEqual(result, { seeded: [local], unseeded: [down.id], failed: [] });
      await assertTreesEqual(src, local, 'the seeded replica');
      assert.equal(mirror.status().find((s) => s.replica === down.id)?.state, 'down');
    } finally {
      await mirror.close();
    }
  });

  it('every replica seeded: none left out', async () => {
    const src = await makeTempDir('fam-claims-src-');
    const [one, two] = [await makeTempDir('fam-claims-one-'), await makeTempDir('fam-claims-two-')];
    await writeFile(join(src, 'a.txt'), 'a\n');
    const mirror = new Mirror({ source: src, replicas: [one, two], initMirror: true, quietMs: 5 });
    try {
      assert.deepEqual(await mirror.start(), { seeded: [one, two], unseeded: [], failed: [] });
    } finally {
      await mirror.close();
    }
  });

  it('without initMirror nothing is claimed seeded', async () => {
    const src = await makeTempDir('fam-claims-src-');
    const one = await makeTempDir('fam-claims-one-');
    const mirror = new Mirror({ source: src, replicas: [one], quietMs: 5 });
    try {
      assert.deepEqual(await mirror.start(), { seeded: [], unseeded: [], failed: [] });
    } finally {
      await mirror.close();
    }
  });
});

describe('a dry run', () => {
  it('counts no file and no byte as sent', async () => {
    const src = await makeTempDir('fam-claims-dry-src-');
    const dst = await makeTempDir('fam-claims-dry-dst-');
    await writeFile(join(src, 'a.txt'), 'some bytes\n');
    const mirror = new Mirror({ source: src, replicas: [dst], dryRun: true, initMirror: true, quietMs: 5 });
    let planned = 0;
    mirror.on('planned', () => planned++);
    try {
      await mirror.start();
      assert.ok(planned > 0, 'the seed was planned');
      const [s] = mirror.status();
      assert.deepEqual([s?.filesSent, s?.bytesSent], [0, 0]);
    } finally {
      await mirror.close();
    }
  });
});

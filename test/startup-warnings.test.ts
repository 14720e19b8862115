/**
 * Start-up warnings, each a 'warning' event with a stable code, against real rsync and real
 * directories: a replica target that had to be created without initMirror (a mistyped path gets
 * only the changes from now on), state files others can read (the state is written 0600 in 0700
 * directories), and a source on a network file system (inotify misses its other writers' changes).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror } from '../src/mirror.js';
import type { MirrorOptions } from '../src/options.js';
import type { WarningEvent } from '../src/types.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from './helpers/tree.js';

after(cleanupTempDirs);

/** Runs a mirror from start to close (with one change flushed) and returns the warnings it emitted. */
async function warningsOf(options: MirrorOptions, shared: { mountInfoFile?: string } = {}): Promise<WarningEvent[]> {
  const mirror = new Mirror({ quietMs: 5, reconcileIntervalSec: 0, ...options }, shared);
  const warnings: WarningEvent[] = [];
  mirror.on('warning', (w) => warnings.push(w));
  try {
    await mirror.start();
    await writeFile(join(options.source, `change-${Date.now()}.txt`), 'x\n');
    const flushed = await mirror.flush({ timeoutMs: 20_000 });
    assert.ok(flushed.complete, `flushed: ${JSON.stringify(flushed)}`);
  } finally {
    await mirror.close();
  }
  return warnings;
}

async function tree(): Promise<{ tmp: string; src: string }> {
  const tmp = await realpath(await makeTempDir('fam-warn-'));
  const src = join(tmp, 'src');
  await mkdir(src);
  await writeFile(join(src, 'a.txt'), 'a\n');
  return { tmp, src };
}

/** Every entry under `dir` whose mode lets group or others in (sockets aside), with its mode. */
async function loose(dir: string): Promise<string[]> {
  const out: string[] = [];
  const st = await lstat(dir);
  if ((st.mode & 0o077) !== 0) out.push(`${dir} ${(st.mode & 0o777).toString(8)}`);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const s = await lstat(path);
    if (s.isDirectory()) out.push(...(await loose(path)));
    else if (s.isFile() && (s.mode & 0o077) !== 0) out.push(`${path} ${(s.mode & 0o777).toString(8)}`);
  }
  return out;
}

describe('start-up warnings', () => {
  it('a replica target that did not exist, without initMirror: WARN_TARGET_CREATED ("is this the right path?")', async () => {
    const { tmp, src } = await tree();
    const typo = join(tmp, 'replcia');
    const warnings = await warningsOf({ source: src, replicas: [typo] });
    const created = warnings.filter((w) => w.code === 'WARN_TARGET_CREATED');
    assert.equal(created.length, 1, JSON.stringify(warnings));
    assert.equal(created[0]!.replica, typo);
    assert.equal(created[0]!.path, typo);
    assert.match(created[0]!.message, /did not exist and was created.*is this the right path\?/);
  });

  it('with initMirror a missing target is expected (it is seeded): no warning', async () => {
    const { tmp, src } = await tree();
    const dst = join(tmp, 'new-replica');
    const warnings = await warningsOf({ source: src, replicas: [dst], initMirror: true });
    assert.deepEqual(warnings, []);
    await assertTreesEqual(src, dst);
  });

  it('the state directory is 0700 and every state file 0600 (the tree snapshot was 0644)', async () => {
    const { tmp, src } = await tree();
    const stateDir = join(tmp, 'state');
    const warnings = await warningsOf({ source: src, replicas: [join(tmp, 'dst')], initMirror: true, stateDir });
    assert.deepEqual(warnings, []);
    assert.deepEqual(await loose(stateDir), []);
    assert.ok(
      (await readdir(stateDir, { recursive: true })).some((f) => f.endsWith('snapshot')),
      'a snapshot was written',
    );
  });

  it('state left readable by others: WARN_STATE_READABLE for each such path, and the files are private again', async () => {
    const { tmp, src } = await tree();
    const stateDir = join(tmp, 'state');
    const options = { source: src, replicas: [join(tmp, 'dst')], initMirror: true, stateDir };
    await warningsOf(options);
    const [sourceDir] = await readdir(stateDir);
    const snapshot = join(stateDir, sourceDir!, 'snapshot');
    await chmod(stateDir, 0o755);
    await chmod(snapshot, 0o644);
    const warnings = await warningsOf({ ...options, initMirror: false });
    const readable = warnings.filter((w) => w.code === 'WARN_STATE_READABLE');
    assert.deepEqual(
      readable.map((w) => w.path),
      [stateDir, snapshot],
    );
    assert.match(readable[0]!.message, /state directory .* is readable by others \(mode 0755\).*chmod 700/);
    assert.match(readable[1]!.message, /state file .*snapshot is readable by others \(mode 0644\)/);
    assert.deepEqual(await loose(join(stateDir, sourceDir!)), [], 'the files are written 0600 again');
  });

  it('a source on a network file system: WARN_SOURCE_NETWORK_FS names the type; a local one gets none', async () => {
    const { tmp, src } = await tree();
    const mountinfo = join(tmp, 'mountinfo');
    await writeFile(mountinfo, `27 1 259:2 / / rw,relatime - ext4 /dev/sda1 rw\n40 27 0:45 / ${tmp} rw,relatime - nfs4 files:/export rw,vers=4.2\n`);
    const warnings = await warningsOf({ source: src, replicas: [join(tmp, 'dst')], initMirror: true }, { mountInfoFile: mountinfo });
    const network = warnings.filter((w) => w.code === 'WARN_SOURCE_NETWORK_FS');
    assert.equal(network.length, 1, JSON.stringify(warnings));
    assert.equal(network[0]!.path, src);
    assert.match(network[0]!.message, /on nfs4 \(files:\/export\).*inotify sees only changes made on this machine/);
    const local = await warningsOf({ source: src, replicas: [join(tmp, 'dst2')], initMirror: true });
    assert.deepEqual(local, [], 'the real mountinfo: the temp directory is local');
  });
});

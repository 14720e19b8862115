/**
 * The start-up check end to end, against real sshd daemons on 127.0.0.1 and real rsync: a wrong
 * client key, a missing remote rsync and a missing target directory (its parent missing too) are
 * each reported with their code within 10 s of start, with nothing changed on that replica, while
 * a healthy second replica starts and mirrors normally. A missing target whose parent exists is
 * created and mirrored to.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type MirrorErrorCode, type MirrorOptions } from '../src/index.js';
import type { ReplicaCheckedEvent } from '../src/types.js';
import { startSshd, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, snapshotTree, waitFor } from './helpers/tree.js';

/** Two hosts, each with its own client key: a mirror given only `good`'s key has the wrong one for `other`. */
let good: SshdHost;
let other: SshdHost;

before(async () => {
  [good, other] = await Promise.all([startSshd(), startSshd()]);
});

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

const spec = (h: SshdHost, path: string) => `ssh://${h.user}@127.0.0.1:${h.port}${path}`;

/** The mirror's own view of a replica and the events it had; times from the call of start(). */
async function startWith(replicas: string[], extra: Partial<MirrorOptions> = {}) {
  const source = await makeTempDir('fam-chk-src-');
  await writeFile(join(source, 'index.html'), 'home\n');
  await mkdir(join(source, 'img'));
  await writeFile(join(source, 'img', 'logo.png'), 'png\n');
  const mirror = new Mirror({
    source,
    replicas,
    initMirror: false,
    identityFiles: [good.identityFile],
    knownHostsFiles: [good.knownHostsFile, other.knownHostsFile],
    quietMs: 10,
    maxWaitMs: 100,
    retryMinMs: 100,
    retryMaxMs: 2000,
    ...extra,
  });
  const checked: Array<ReplicaCheckedEvent & { afterMs: number }> = [];
  const started = Date.now();
  mirror.on('replica-checked', (e) => checked.push({ ...e, afterMs: Date.now() - started }));
  mirror.on('error', () => {});
  await mirror.start();
  /** Replica ids by the index of their spec. */
  const ids = mirror.options.replicas.map((r) => r.id);
  const state = (i: number) => mirror.status().find((s) => s.replica === ids[i]);
  return { source, mirror, checked, state, ids };
}

/** A replica that fails its check: reported with `code` within 10 s, untouched; the healthy one mirrors. */
async function expectRefused(opts: { bad: string; badDir: string; healthy: string; healthyDir: string; code: MirrorErrorCode; extra?: Partial<MirrorOptions> }): Promise<void> {
  const before = await snapshotTree(opts.badDir);
  const r = await startWith([opts.healthy, opts.bad], opts.extra);
  const [healthy, bad] = r.ids as [string, string];
  try {
    const failed = await waitFor(() => r.checked.find((e) => e.replica === bad && e.error !== undefined), { timeoutMs: 10_000, what: `the check of ${bad} to fail` });
    assert.equal(failed.error?.code, opts.code, failed.error?.message);
    assert.ok(failed.afterMs < 10_000, `reported ${failed.afterMs} ms after start`);
    assert.equal(r.state(1)?.state, 'failed');
    assert.match(r.state(1)?.lastError ?? '', /\S/);
    await waitFor(() => r.state(0)?.state === 'idle', { timeoutMs: 10_000, what: 'the healthy replica checked' });
    const ready = r.checked.find((e) => e.replica === healthy);
    assert.match(ready?.check?.rsyncVersion ?? '', /^\d+\.\d+/);
    r.mirror.reconcile();
    await writeFile(join(r.source, 'new.html'), 'new\n');
    const flushed = await r.mirror.flush({ healthyOnly: true, timeoutMs: 20_000 });
    assert.deepEqual(flushed.behind, [bad]);
    await assertTreesEqual(r.source, opts.healthyDir, 'the healthy replica');
    assert.deepEqual(await snapshotTree(opts.badDir), before, 'nothing changed on the refused replica');
  } finally {
    await r.mirror.close();
  }
}

describe('every replica is checked at start (real sshd, real rsync)', () => {
  it('a wrong client key: ERR_SSH_AUTH within 10 s, nothing changed there; the healthy replica starts normally', async () => {
    const badDir = await makeTempDir('fam-chk-bad-');
    await writeFile(join(badDir, 'keep.txt'), 'keep\n');
    const healthyDir = await makeTempDir('fam-chk-ok-');
    await expectRefused({ bad: spec(other, badDir), badDir, healthy: spec(good, healthyDir), healthyDir, code: 'ERR_SSH_AUTH' });
  });

  it('a missing remote rsync (remoteRsyncPath): ERR_RSYNC_MISSING within 10 s, nothing changed there; a local replica starts normally', async () => {
    const badDir = await makeTempDir('fam-chk-bad-');
    await writeFile(join(badDir, 'keep.txt'), 'keep\n');
    const healthyDir = await makeTempDir('fam-chk-ok-');
    await expectRefused({ bad: spec(good, badDir), badDir, healthy: healthyDir, healthyDir, code: 'ERR_RSYNC_MISSING', extra: { remoteRsyncPath: '/nonexistent/bin/rsync' } });
  });

  it('a missing target whose parent is missing too: ERR_TARGET_MISSING within 10 s, nothing created; a replica on the same host starts normally', async () => {
    const base = await makeTempDir('fam-chk-base-');
    const healthyDir = await makeTempDir('fam-chk-ok-');
    await expectRefused({ bad: spec(good, join(base, 'no-parent', 'www')), badDir: base, healthy: spec(good, healthyDir), healthyDir, code: 'ERR_TARGET_MISSING' });
    assert.deepEqual(await readdir(base), [], 'neither the parent nor the target was made');
  });

  it('a missing target whose parent exists is created (ssh and local) and mirrored to; its name is data', async () => {
    const base = await makeTempDir('fam-chk-base-');
    const sshDir = join(base, `www ssh 'it's' "$(touch x)" \`y\``);
    const localDir = join(base, 'www-local');
    const r = await startWith([spec(good, sshDir), localDir]);
    try {
      await waitFor(() => r.mirror.status().every((s) => s.state === 'idle'), { timeoutMs: 10_000, what: 'both replicas checked' });
      assert.deepEqual(
        r.checked.map((e) => e.check?.created),
        [true, true],
      );
      for (const dir of [sshDir, localDir]) assert.ok((await stat(dir)).isDirectory());
      r.mirror.reconcile();
      await writeFile(join(r.source, 'new.html'), 'new\n');
      assert.deepEqual(await r.mirror.flush({ timeoutMs: 20_000 }), { complete: true, behind: [], problems: [] });
      await assertTreesEqual(r.source, sshDir, 'ssh replica');
      await assertTreesEqual(r.source, localDir, 'local replica');
      assert.deepEqual((await readdir(base)).sort(), [localDir, sshDir].map((d) => d.slice(base.length + 1)).sort(), 'nothing else made');
    } finally {
      await r.mirror.close();
    }
  });
});

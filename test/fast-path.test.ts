/**
 * The fast path (README.md, "How it works") against real sshd, real rsync and real @parcel/watcher:
 * every kind of change it takes ends identical to the source — content, type, mode, symlink target,
 * owner (root), and every mtime to the NANOSECOND, directories and the root included — and a verify
 * pass afterwards (rsync --checksum -n, --modify-window=-1) finds nothing. A reader never sees part
 * of a file; a replica without SFTP is served by rsync alone; a fenced replica is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile, chmod, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type MirrorError, type SyncedEvent } from '../src/index.js';
import { startSshd, stopAll, type SshdHost } from './helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';
import { FENCE_FILE } from '../src/core/replica-guard.js';

/** Differences of mtime (ns), uid and gid between two trees, the roots included; [] when equal. */
async function statDiff(a: string, b: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const [sa, sb] = await Promise.all([lstat(join(a, rel), { bigint: true }), lstat(join(b, rel), { bigint: true }).catch(() => undefined)]);
    if (sb === undefined) return void out.push(`${rel || '.'}: missing`);
    if (sa.mtimeNs !== sb.mtimeNs) out.push(`${rel || '.'}: mtime ${sa.mtimeNs} vs ${sb.mtimeNs}`);
    if (sa.uid !== sb.uid || sa.gid !== sb.gid) out.push(`${rel || '.'}: owner ${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid}`);
    if (sa.isDirectory()) for (const n of (await readdir(join(a, rel))).sort()) await walk(rel === '' ? n : `${rel}/${n}`);
  };
  await walk('');
  return out;
}

interface Rig {
  host: SshdHost;
  source: string;
  replica: string;
  mirror: Mirror;
  synced: SyncedEvent[];
  errors: MirrorError[];
}

async function rig(extraConfig: string[] = [], seed?: (source: string) => Promise<void>, exclude: string[] = []): Promise<Rig> {
  const host = await startSshd({ extraConfig });
  const source = await makeTempDir('fam-fast-src-');
  const replica = await makeTempDir('fam-fast-rep-');
  await seed?.(source);
  const mirror = new Mirror({
    source,
    replicas: [`ssh://${host.user}@127.0.0.1:${host.port}${replica}`],
    initMirror: true,
    exclude,
    identityFiles: [host.identityFile],
    knownHostsFiles: [host.knownHostsFile],
    reconcileIntervalSec: 0,
  });
  const synced: SyncedEvent[] = [];
  const errors: MirrorError[] = [];
  mirror.on('synced', (e) => synced.push(e));
  mirror.on('error', (e) => errors.push(e));
  await mirror.start();
  return { host, source, replica, mirror, synced, errors };
}

/** Flushes, then: equal trees (ms), equal mtimes and owners (ns), verify finds nothing, and how the batches went. */
async function settle(r: Rig, label: string): Promise<SyncedEvent[]> {
  const from = r.synced.length;
  await r.mirror.flush();
  await assertTreesEqual(r.source, r.replica, label);
  assert.deepEqual(await statDiff(r.source, r.replica), [], `${label}: nanosecond mtimes and owners`);
  for (const v of await r.mirror.verify()) assert.deepEqual(v.differences, [], `${label}: verify after`);
  return r.synced.slice(from);
}

describe('fast path over real sshd', () => {
  let r: Rig;
  before(async () => {
    r = await rig([], async (s) => {
      await mkdir(join(s, 'site/css'), { recursive: true });
      await writeFile(join(s, 'site/index.html'), 'v0\n');
      await mkdir(join(s, 'old/deep'), { recursive: true });
      await writeFile(join(s, 'old/deep/x'), 'x');
      await symlink('index.html', join(s, 'site/link'));
    });
  });
  after(async () => {
    await r?.mirror.close();
    await stopAll();
    await cleanupTempDirs();
  });

  it('every kind of change it takes ends identical to the source, to the nanosecond, on the fast path', async () => {
    const steps: Array<[string, () => Promise<void>]> = [
      ['create a file', () => writeFile(join(r.source, 'site/new.txt'), 'hello\n')],
      ['rewrite a file', () => writeFile(join(r.source, 'site/index.html'), 'v1, longer\n')],
      ['same size, same second', () => writeFile(join(r.source, 'site/index.html'), 'v2, longer\n')],
      ['chmod a file', () => chmod(join(r.source, 'site/new.txt'), 0o640)],
      ['setuid-ish mode', () => chmod(join(r.source, 'site/new.txt'), 0o2755)],
      ['odd names', () => writeFile(join(r.source, "site/-a 'b'\nc $(x).txt"), 'odd\n')],
      ['an old mtime', () => utimes(join(r.source, 'site/new.txt'), 1_000_000_000.123456, 1_000_000_000.123456)],
      ['create an empty directory', () => mkdir(join(r.source, 'site/empty'))],
      ['create a symlink', () => symlink('../site/new.txt', join(r.source, 'site/css/to-new'))],
      [
        'retarget a symlink',
        async () => {
          await rm(join(r.source, 'site/link'));
          await symlink('css', join(r.source, 'site/link'));
        },
      ],
      [
        'a file where a symlink was',
        async () => {
          await rm(join(r.source, 'site/css/to-new'));
          await writeFile(join(r.source, 'site/css/to-new'), 'now a file');
        },
      ],
      ['delete a file', () => rm(join(r.source, 'site/new.txt'))],
      ['delete a symlink', () => rm(join(r.source, 'site/link'))],
      ['delete a directory tree', () => rm(join(r.source, 'old'), { recursive: true })],
      ['delete an empty directory', () => rm(join(r.source, 'site/empty'), { recursive: true })],
      ['rename a file', () => rename(join(r.source, 'site/index.html'), join(r.source, 'site/home.html'))],
      // Small files travel inside the first sh step as printf escapes: every byte value must survive it.
      ['binary content, every byte value twice', () => writeFile(join(r.source, 'site/bytes.bin'), Buffer.from([...Array(256).keys(), ...Array(256).keys()].reverse()))],
      ['an empty file', () => writeFile(join(r.source, 'site/empty.txt'), '')],
      // Past the inline limit: uploaded over SFTP.
      ['a 100 KiB file (SFTP)', () => writeFile(join(r.source, 'site/mid.bin'), Buffer.alloc(100 * 1024, 'm'))],
      [
        'a small and a 100 KiB file in one batch',
        async () => {
          await writeFile(join(r.source, 'site/pair-small.txt'), 'small\n');
          await writeFile(join(r.source, 'site/pair-big.bin'), Buffer.alloc(100 * 1024, 'p'));
        },
      ],
      [
        'a file and an empty directory owned by another user (set, not skipped)',
        async () => {
          await writeFile(join(r.source, 'site/daemon.txt'), 'theirs\n');
          await chown(join(r.source, 'site/daemon.txt'), 1, 1);
          await mkdir(join(r.source, 'site/daemon-dir'));
          await chown(join(r.source, 'site/daemon-dir'), 1, 1);
        },
      ],
      [
        'an empty set-group-ID directory',
        async () => {
          await mkdir(join(r.source, 'site/shared'));
          await chmod(join(r.source, 'site/shared'), 0o2775);
        },
      ],
      // Its mode is set after its owner and mtime, not beside the renames.
      ['a file into a set-group-ID directory', () => writeFile(join(r.source, 'site/shared/in.txt'), 'in\n')],
    ];
    for (const [label, change] of steps) {
      await change();
      const batches = await settle(r, label);
      assert.ok(batches.length > 0 && batches.every((b) => b.fast === true), `${label}: every batch on the fast path: ${JSON.stringify(batches)}`);
    }
    assert.deepEqual(r.errors, []);
  });

  it('leaves the rest to rsync: a directory with content, a big file', async () => {
    await mkdir(join(r.source, 'bulk/a'), { recursive: true });
    await writeFile(join(r.source, 'bulk/a/f'), 'f');
    await writeFile(join(r.source, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 7));
    const batches = await settle(r, 'rsync cases');
    assert.ok(
      batches.some((b) => b.fast !== true),
      'rsync took some',
    );
  });

  for (const [size, how] of [
    [200 * 1024, 'over SFTP'],
    [12 * 1024, 'inside the sh step'],
  ] as const)
    it(`a reader polling a file during its replacement never sees partial content (${size / 1024} KiB, ${how})`, async () => {
      const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(size, 65 + i));
      const whole = new Set(versions.map((v) => v.toString('latin1')));
      const f = join(r.source, `hot-${size}.bin`);
      await writeFile(f, versions[0]!);
      await settle(r, 'hot seed');
      let reading = true;
      let reads = 0;
      const bad: string[] = [];
      const reader = (async () => {
        for (let i = 0; reading && i < 100_000; i++) {
          const got = await readFile(join(r.replica, `hot-${size}.bin`)).catch(() => undefined);
          reads++;
          if (got === undefined) bad.push('missing');
          else if (!whole.has(got.toString('latin1'))) bad.push(`partial ${got.length}`);
        }
      })();
      const from = r.synced.length;
      for (const v of versions.slice(1)) {
        await writeFile(f, v);
        await r.mirror.flush();
      }
      reading = false;
      await reader;
      assert.ok(reads > 0);
      assert.deepEqual(bad.slice(0, 5), []);
      assert.ok(
        r.synced.slice(from).some((b) => b.fast === true),
        'replaced over the fast path',
      );
      await settle(r, 'hot end');
    });

  it('a connection lost under the fast path loses nothing, and the fast path comes back after the reconnect', async () => {
    await writeFile(join(r.source, 'before-restart.txt'), '1');
    await settle(r, 'before restart');
    await r.host.restart();
    await writeFile(join(r.source, 'during-restart.txt'), '2');
    await settle(r, 'after restart');
    await writeFile(join(r.source, 'after-restart.txt'), '3');
    const batches = await settle(r, 'reconnected');
    assert.ok(batches.length > 0 && batches.every((b) => b.fast === true), `fast again: ${JSON.stringify(batches)}`);
  });

  it('a fenced replica is refused on the fast path too: nothing written', async () => {
    await writeFile(join(r.replica, FENCE_FILE), 'standby\n');
    await writeFile(join(r.source, 'after-fence.txt'), 'must not arrive');
    await waitFor(() => r.errors.find((e) => e.code === 'ERR_REPLICA_FENCED'), { what: 'ERR_REPLICA_FENCED', timeoutMs: 20_000 });
    await assert.rejects(lstat(join(r.replica, 'after-fence.txt')));
  });
});

describe('what the fast path leaves to rsync', () => {
  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('a replica out of step (a parent gone behind our back) is made right by rsync', async () => {
    const r = await rig([], async (s) => {
      await mkdir(join(s, 'x'));
      await writeFile(join(s, 'x/old'), 'o');
    });
    try {
      await rm(join(r.replica, 'x'), { recursive: true });
      await writeFile(join(r.source, 'x/f'), 'f');
      const from = r.synced.length;
      await r.mirror.flush();
      const batches = r.synced.slice(from);
      assert.ok(batches.length > 0 && batches.every((b) => b.fast !== true), JSON.stringify(batches));
      // The listed file and its parent as rsync makes them (x/old is drift, for the drift pass).
      assert.equal(await readFile(join(r.replica, 'x/f'), 'utf8'), 'f');
      assert.equal((await lstat(join(r.replica, 'x'), { bigint: true })).mtimeNs, (await lstat(join(r.source, 'x'), { bigint: true })).mtimeNs);
    } finally {
      await r.mirror.close();
    }
  });

  it('with exclude rules, a directory removed on the replica goes to rsync, which keeps the excluded names', async () => {
    const r = await rig(
      [],
      async (s) => {
        await mkdir(join(s, 'd'));
        await writeFile(join(s, 'd/a'), 'a');
        await writeFile(join(s, 'f'), 'f');
      },
      ['*.tmp'],
    );
    try {
      await writeFile(join(r.replica, 'd/keep.tmp'), 'replica-only');
      await rm(join(r.source, 'f'));
      let from = r.synced.length;
      await r.mirror.flush();
      assert.ok(r.synced.length > from && r.synced.slice(from).every((b) => b.fast === true), 'a file delete stays fast');
      await assert.rejects(lstat(join(r.replica, 'f')));
      from = r.synced.length;
      await rm(join(r.source, 'd'), { recursive: true });
      // rsync cannot remove d (the excluded name protects it): a problem path, retried slowly, so no flush here.
      const problems: string[] = [];
      r.mirror.on('problem', (e) => problems.push(e.message));
      await waitFor(() => r.synced.length > from || problems.length > 0 || r.errors.length > 0, { what: 'the batch of d', timeoutMs: 20_000 });
      assert.ok(
        r.synced.slice(from).every((b) => b.fast !== true),
        JSON.stringify(r.synced.slice(from)),
      );
      assert.equal(await readFile(join(r.replica, 'd/keep.tmp'), 'utf8'), 'replica-only');
    } finally {
      await r.mirror.close();
    }
  });
});

describe('a replica without SFTP', () => {
  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('is served by rsync alone', async () => {
    const r = await rig(['Subsystem none /bin/false']);
    try {
      await writeFile(join(r.source, 'a.txt'), 'a\n');
      await r.mirror.flush();
      await mkdir(join(r.source, 'd'));
      await symlink('a.txt', join(r.source, 'l'));
      await r.mirror.flush();
      await rm(join(r.source, 'a.txt'));
      const batches = await settle(r, 'no sftp');
      assert.ok(r.synced.length > 1 && r.synced.every((b) => b.fast !== true), JSON.stringify(batches));
      assert.deepEqual(r.errors, []);
    } finally {
      await r.mirror.close();
    }
  });
});

/**
 * Both real transports behind the one interface: the root inspection (exists, directory, device
 * beside its parent's: a mount point shows as a device change), guarded moves, rsync toward the
 * replica, and the per-mirror set: one login shared by two replicas on one host, a removed replica's
 * transport released, login counts kept after close. Local rsync and a real sshd on 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeOptions, type NormalizedOptions } from '../../src/options.js';
import { buildRsyncCalls } from '../../src/rsync/args.js';
import { ConnectionPool } from '../../src/transport/pool.js';
import { LocalTransport } from '../../src/transport/local.js';
import { SshTransport } from '../../src/transport/ssh-transport.js';
import { defaultTransport, Transports } from '../../src/transport/transports.js';
import type { Transport, TransportContext } from '../../src/transport/transport.js';
import type { SshReplica } from '../../src/types.js';
import { startSshd, stopAll, type SshdHost } from '../helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

let host: SshdHost;
let base: string;
let options: NormalizedOptions;
const pools: ConnectionPool[] = [];

function context(): TransportContext {
  const pool = new ConnectionPool();
  pools.push(pool);
  return { options, pool, onWarning: () => {} };
}

function sshReplica(path: string): SshReplica {
  return { kind: 'ssh', id: `${host.user}@127.0.0.1:${host.port}:${path}`, host: '127.0.0.1', port: host.port, user: host.user, path };
}

const kinds: Array<[string, (path: string) => Transport]> = [
  ['local', (path) => new LocalTransport({ kind: 'local', id: path, path }, 'rsync')],
  ['ssh', (path) => new SshTransport(sshReplica(path), context())],
];

before(async () => {
  host = await startSshd();
  base = await makeTempDir("fam-transport-it's $(x) ");
  await mkdir(join(base, 'src'));
  await writeFile(join(base, 'src', 'a.txt'), 'a\n');
  await writeFile(join(base, 'a file'), 'f');
  options = normalizeOptions(
    { source: join(base, 'src'), replicas: [join(base, 'unused')], identityFiles: [host.identityFile], knownHostsFiles: [host.knownHostsFile] },
    { cwd: '/', homeDir: '/root', userName: host.user },
  );
});

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

for (const [kind, make] of kinds) {
  describe(`${kind} transport`, () => {
    it('inspectRoot: a directory, a file, a missing path, a mount point', async () => {
      const dirs: Transport[] = [];
      try {
        const dir = make(base);
        const file = make(join(base, 'a file'));
        const missing = make(join(base, 'missing', 'deeper'));
        const proc = make('/proc');
        dirs.push(dir, file, missing, proc);
        const st = await stat(base);
        const parent = await stat(join(base, '..'));
        assert.deepEqual(await dir.inspectRoot(), { exists: true, isDirectory: true, device: st.dev, parentDevice: parent.dev });
        const f = await file.inspectRoot();
        assert.deepEqual([f.exists, f.isDirectory, f.device], [true, false, st.dev]);
        assert.deepEqual(await missing.inspectRoot(), { exists: false, isDirectory: false, device: undefined, parentDevice: undefined });
        const p = await proc.inspectRoot();
        assert.equal(p.isDirectory, true);
        assert.notEqual(p.device, p.parentDevice, '/proc is a mount point: its device differs from its parent');
      } finally {
        await Promise.all(dirs.map((t) => t.close()));
      }
    });

    it('rsync toward the replica through its own target, then a guarded move', async () => {
      const dst = await makeTempDir(`fam-transport-${kind}-`);
      const t = make(dst);
      try {
        await t.connect();
        const [call] = buildRsyncCalls({ kind: 'full' }, t.target, { source: options.source, excludeFile: undefined, timeoutSec: 30 });
        const run = await t.rsync(call!.args, call!.stdin, { maxLines: 10 });
        assert.equal(run.exitCode, 0, run.stderr);
        assert.ok(
          run.lines!.some((l) => l.endsWith(' a.txt')),
          `itemized: ${run.lines}`,
        );
        await assertTreesEqual(options.source, dst, kind);
        await mkdir(join(dst, 'old $(x)'));
        await mkdir(join(dst, 'taken'));
        await t.move([
          { from: 'old $(x)', to: 'new' },
          { from: 'a.txt', to: 'b.txt' },
          { from: 'new', to: 'taken' },
        ]);
        assert.equal((await stat(join(dst, 'new'))).isDirectory(), true);
        await assert.rejects(stat(join(dst, 'b.txt')), 'a file is never moved');
        await assert.rejects(stat(join(dst, 'taken', 'new')), 'a taken target is left alone');
      } finally {
        await t.close();
      }
    });
  });
}

describe("Transports (one mirror's set)", () => {
  it('two replicas on one host share one login; a removed one releases its share; counts survive close', async () => {
    const ctx = context();
    const set = new Transports(defaultTransport, () => ctx);
    const one = sshReplica(join(base, 'one'));
    const two = sshReplica(join(base, 'two'));
    const key = `${host.user}@127.0.0.1:${host.port}`;
    assert.equal(set.for(one), set.for(one), 'made once per replica');
    await set.for(one).connect();
    await set.for(two).connect();
    assert.deepEqual(set.loginCounts(), { [key]: 1 });
    await set.keepOnly([two]);
    assert.deepEqual((await set.for(two).inspectRoot()).exists, false, 'the shared connection still serves the other replica');
    assert.deepEqual(set.loginCounts(), { [key]: 1 });
    const local = set.for({ kind: 'local', id: base, path: base });
    assert.equal(local.logins(), undefined);
    await set.closeAll();
    assert.deepEqual(set.loginCounts(), { [key]: 1 });
  });
});

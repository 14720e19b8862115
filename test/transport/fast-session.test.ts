/**
 * SshTransport's fast path against a real sshd: the probe (SFTP with posix-rename, GNU touch to the
 * nanosecond, the login's uid), the replica guard run before anything is written (fence, another
 * owner), a batch the replica is not ready for left to rsync with nothing written, and a host
 * without an sftp subsystem offering no fast path at all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { parseProbe } from '../../src/transport/fast-session.js';
import { decideFastPath, type FastBatch, type SourceEntry } from '../../src/core/fast-path.js';
import { FENCE_FILE, GUARD_EXIT, OWNER_FILE, type GuardSpec } from '../../src/core/replica-guard.js';
import { normalizeOptions, type NormalizedOptions } from '../../src/options.js';
import { ConnectionPool } from '../../src/transport/pool.js';
import { SshTransport } from '../../src/transport/ssh-transport.js';
import type { SshReplica } from '../../src/types.js';
import { startSshd, stopAll, type SshdHost } from '../helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

let host: SshdHost;
let bare: SshdHost;
let options: NormalizedOptions;
const open: SshTransport[] = [];

function transport(h: SshdHost, path: string): SshTransport {
  const replica: SshReplica = { kind: 'ssh', id: `${h.user}@127.0.0.1:${h.port}:${path}`, host: '127.0.0.1', port: h.port, user: h.user, path };
  const t = new SshTransport(replica, { options, pool: new ConnectionPool(), onWarning: () => {} });
  open.push(t);
  return t;
}

const dir = (mtime: string): SourceEntry => ({ type: 'dir', mode: 0o755, mtime, user: 'root', group: 'root', empty: false });

/** One new file `sub/f.txt` in an existing `sub`. */
function oneFile(): FastBatch {
  const entries = new Map<string, SourceEntry>([
    ['', dir('1700000000.000000001')],
    ['sub', dir('1700000000.000000002')],
    ['sub/f.txt', { type: 'file', mode: 0o644, mtime: '1700000000.123456789', user: 'root', group: 'root', links: 1, size: 3, data: Buffer.from('new') }],
  ]);
  const d = decideFastPath({ plan: { kind: 'paths', paths: ['sub/f.txt'], deleted: 0, ignoreTimes: true }, entries, caps: { uid: 0, groups: ['root'] }, excludes: false });
  assert.equal(d.kind, 'fast');
  return d.batch;
}

function guardOf(root: string, over: Partial<GuardSpec> = {}): GuardSpec {
  return { root, owner: 'master:/src', expectMount: false, seeded: false, takeOver: false, write: true, ...over };
}

before(async () => {
  [host, bare] = await Promise.all([startSshd(), startSshd({ extraConfig: ['Subsystem none /bin/false'] })]);
  options = normalizeOptions(
    { source: '/nonexistent', replicas: ['/unused'], identityFiles: [host.identityFile, bare.identityFile], knownHostsFiles: [host.knownHostsFile, bare.knownHostsFile] },
    { cwd: '/', homeDir: '/root', userName: host.user },
  );
});

after(async () => {
  for (const t of open) await t.close();
  await stopAll();
  await cleanupTempDirs();
});

describe('SshTransport fast path', () => {
  it("probes once: SFTP with posix-rename, touch to the nanosecond, the login uid and names, the shell's printf", async () => {
    const caps = await transport(host, await makeTempDir('fam-fs-')).fastCaps();
    assert.ok(caps !== undefined);
    assert.equal(caps.uid, process.getuid?.());
    assert.deepEqual(caps.login, { user: userInfo().username, group: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() });
    assert.equal(caps.inline, true, 'every byte value written by printf read back intact');
  });

  it('a probe whose printf mangles a byte, or that names no login, keeps the fast path without those', () => {
    const ext = { 'posix-rename@openssh.com': '1' };
    const base = 'fam-fast 0 touch-ok root\n';
    assert.deepEqual(parseProbe(`fam-inline 00ff\n${base}`, ext), { uid: 0, groups: ['root'], inline: false });
    assert.deepEqual(parseProbe(`fam-who www web\n${base}`, ext), { uid: 0, groups: ['root'], login: { user: 'www', group: 'web' }, inline: false });
    assert.equal(parseProbe('fam-fast 0 no-touch root\n', ext), undefined);
  });

  it('writes a file with its nanosecond mtime and its parents', async () => {
    const root = await makeTempDir('fam-fs-');
    await mkdir(join(root, 'sub'));
    const result = await transport(host, root).apply(oneFile(), guardOf(root));
    assert.deepEqual(result, { kind: 'done' });
    assert.equal(await readFile(join(root, 'sub/f.txt'), 'utf8'), 'new');
    assert.equal((await lstat(join(root, 'sub/f.txt'), { bigint: true })).mtimeNs, 1700000000123456789n);
    assert.equal((await lstat(join(root, 'sub'), { bigint: true })).mtimeNs, 1700000000000000002n);
    assert.equal((await lstat(root, { bigint: true })).mtimeNs, 1700000000000000001n);
    assert.equal(await readFile(join(root, OWNER_FILE), 'utf8'), 'master:/src\n');
  });

  it('a fenced replica is refused before anything is written', async () => {
    const root = await makeTempDir('fam-fs-');
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, FENCE_FILE), 'standby\n');
    const result = await transport(host, root).apply(oneFile(), guardOf(root));
    assert.equal(result.kind, 'refused');
    assert.equal(result.kind === 'refused' && result.exitCode, GUARD_EXIT.fenced);
    assert.deepEqual(await readdir(join(root, 'sub')), []);
  });

  it("another master's replica is refused, its owner named", async () => {
    const root = await makeTempDir('fam-fs-');
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, OWNER_FILE), 'other:/src\n');
    const result = await transport(host, root).apply(oneFile(), guardOf(root));
    assert.equal(result.kind === 'refused' && result.exitCode, GUARD_EXIT.owned);
    assert.match(result.kind === 'refused' ? result.stderr : '', /fam-mirror owner: other:\/src/);
    assert.deepEqual(await readdir(join(root, 'sub')), []);
  });

  it('a replica not ready for the batch (a parent missing) is left to rsync, nothing written', async () => {
    const root = await makeTempDir('fam-fs-');
    const result = await transport(host, root).apply(oneFile(), undefined);
    assert.equal(result.kind, 'rsync');
    assert.deepEqual(await readdir(root), []);
  });

  it('a host without an sftp subsystem offers no fast path', async () => {
    assert.equal(await transport(bare, await makeTempDir('fam-fs-')).fastCaps(), undefined);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMirrorError, type MirrorErrorCode } from '../src/errors.js';
import { changedOptions, normalizeOptions, type MirrorOptions } from '../src/options.js';

/** A file system with three symlinks, as the real resolver (watch/real-path.ts) would see it. */
const links: Record<string, string> = { '/into-www': '/var/www', '/www-link': '/var/www', '/link': '/mnt/disk' };
function resolvePath(p: string): string {
  for (const [from, to] of Object.entries(links)) if (p === from || p.startsWith(`${from}/`)) return to + p.slice(from.length);
  return p;
}
const env = { cwd: '/work', homeDir: '/home/u', userName: 'u', resolvePath };
const base: MirrorOptions = { source: '/var/www', replicas: ['/backup/www'] };

describe('normalizeOptions: defaults', () => {
  it('fills every default', () => {
    assert.deepEqual(normalizeOptions(base, env), {
      source: '/var/www',
      replicas: [{ kind: 'local', id: '/backup/www', path: '/backup/www' }],
      initMirror: false,
      exclude: [],
      identityFiles: ['/home/u/.ssh/id_ecdsa', '/home/u/.ssh/id_ed25519', '/home/u/.ssh/id_rsa'],
      passphrase: undefined,
      agent: undefined,
      knownHostsFiles: ['/home/u/.ssh/known_hosts', '/etc/ssh/ssh_known_hosts'],
      strictHostKeyChecking: 'yes',
      sshConfigFiles: ['/home/u/.ssh/config', '/etc/ssh/ssh_config'],
      stateDir: undefined,
      journalLimitBytes: 64 * 1024 * 1024,
      dryRun: false,
      watchLimit: undefined,
      allowEmptySource: false,
      fastPath: true,
      takeOver: false,
      reconcileIntervalSec: 21_600,
      concurrency: 8,
      quietMs: 10,
      maxWaitMs: 1000,
      timeoutSec: 30,
      connectTimeoutMs: 15_000,
      retryMinMs: 500,
      retryMaxMs: 30_000,
      rsyncPath: 'rsync',
      remoteRsyncPath: 'rsync',
      userName: 'u',
      ssh: { homeDir: '/home/u', given: [] },
    });
  });

  it('freezes the result and its lists', () => {
    const o = normalizeOptions({ ...base, exclude: ['*.tmp'] }, env);
    for (const value of [o, o.replicas, o.replicas[0], o.exclude, o.identityFiles, o.knownHostsFiles]) {
      assert.equal(Object.isFrozen(value), true);
    }
  });

  it('copies caller arrays instead of freezing them', () => {
    const exclude = ['*.tmp'];
    const o = normalizeOptions({ ...base, exclude }, env);
    exclude.push('*.bak');
    assert.deepEqual(o.exclude, ['*.tmp']);
    assert.equal(Object.isFrozen(exclude), false);
  });
});

describe('normalizeOptions: derived values', () => {
  const rows: Array<{ name: string; raw: Partial<MirrorOptions>; pick: (o: ReturnType<typeof normalizeOptions>) => unknown; want: unknown }> = [
    { name: 'relative source resolved against cwd', raw: { source: 'site' }, pick: (o) => o.source, want: '/work/site' },
    { name: 'dot source is cwd', raw: { source: '.' }, pick: (o) => o.source, want: '/work' },
    { name: 'trailing slash dropped from source', raw: { source: '/var/www/' }, pick: (o) => o.source, want: '/var/www' },
    { name: 'dot-dot source normalized', raw: { source: '/var/x/../www' }, pick: (o) => o.source, want: '/var/www' },
    {
      name: 'bare host gets the source path',
      raw: { replicas: ['web2'] },
      pick: (o) => o.replicas,
      want: [{ kind: 'ssh', id: 'web2:/var/www', host: 'web2', port: 22, user: undefined, path: '/var/www' }],
    },
    {
      name: 'host with path keeps its path',
      raw: { replicas: ['root@web3:/srv/www/'] },
      pick: (o) => o.replicas,
      want: [{ kind: 'ssh', id: 'root@web3:/srv/www', host: 'web3', port: 22, user: 'root', path: '/srv/www' }],
    },
    {
      name: 'ssh URL with port',
      raw: { replicas: ['ssh://h:2222'] },
      pick: (o) => o.replicas.map((r) => r.id),
      want: ['h:2222:/var/www'],
    },
    { name: 'replicas keep their order', raw: { replicas: ['web3', '/b', 'web2'] }, pick: (o) => o.replicas.map((r) => r.id), want: ['web3:/var/www', '/b', 'web2:/var/www'] },
    { name: 'a sibling named like the source is no loop', raw: { replicas: ['/var/www2', '/var/ww'] }, pick: (o) => o.replicas.length, want: 2 },
    { name: 'homeDir option moves the ssh defaults', raw: { homeDir: '/h' }, pick: (o) => [o.identityFiles[0], o.knownHostsFiles[0]], want: ['/h/.ssh/id_ecdsa', '/h/.ssh/known_hosts'] },
    { name: 'userName option wins over the environment', raw: { userName: 'deploy' }, pick: (o) => o.userName, want: 'deploy' },
    { name: 'relative identity files resolved against cwd', raw: { identityFiles: ['keys/id', '/abs/id'] }, pick: (o) => o.identityFiles, want: ['/work/keys/id', '/abs/id'] },
    { name: 'relative known_hosts resolved against cwd', raw: { knownHostsFiles: ['kh'] }, pick: (o) => o.knownHostsFiles, want: ['/work/kh'] },
    { name: 'explicit numbers kept', raw: { concurrency: 1, quietMs: 0, maxWaitMs: 0, timeoutSec: 1 }, pick: (o) => [o.concurrency, o.quietMs, o.maxWaitMs, o.timeoutSec], want: [1, 0, 0, 1] },
    {
      name: 'strings kept',
      raw: { passphrase: 'pw', agent: '/run/agent.sock', rsyncPath: '/opt/rsync', remoteRsyncPath: 'sudo rsync' },
      pick: (o) => [o.passphrase, o.agent, o.rsyncPath, o.remoteRsyncPath],
      want: ['pw', '/run/agent.sock', '/opt/rsync', 'sudo rsync'],
    },
    { name: 'initMirror kept', raw: { initMirror: true }, pick: (o) => o.initMirror, want: true },
    { name: 'excludes rsync can read kept as given', raw: { exclude: ['#notes', 'a\nb', 'x'.repeat(4095)] }, pick: (o) => o.exclude.map((p) => p.length), want: [6, 3, 4095] },
    { name: './ replica resolved against cwd', raw: { replicas: ['./mirror', '../backup/'] }, pick: (o) => o.replicas.map((r) => r.path), want: ['/work/mirror', '/backup'] },
    { name: 'local replica shown normalized', raw: { replicas: ['/backup//www/./x/..'] }, pick: (o) => o.replicas.map((r) => r.id), want: ['/backup/www'] },
    { name: 'remote path with .. shown normalized', raw: { replicas: ['web2:/srv/www/../x'] }, pick: (o) => o.replicas.map((r) => r.id), want: ['web2:/srv/x'] },
    { name: 'a replica reached through a symlink keeps the name it was given', raw: { replicas: ['/link/backup'] }, pick: (o) => o.replicas.map((r) => r.path), want: ['/link/backup'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(row.pick(normalizeOptions({ ...base, ...row.raw } as MirrorOptions, env)), row.want);
    });
  }
});

describe('normalizeOptions: errors', () => {
  // `mention` is a string the message must contain, so the user sees what to fix.
  const rows: Array<{ name: string; raw: Record<string, unknown>; code: MirrorErrorCode; mention: string }> = [
    { name: 'unknown key', raw: { sorce: '/x' }, code: 'ERR_OPTIONS', mention: '"sorce"' },
    { name: 'unknown key near a known one', raw: { replica: ['/y'] }, code: 'ERR_OPTIONS', mention: 'is not a known option (did you mean "replicas"?)' },
    { name: 'not an object', raw: null as unknown as Record<string, unknown>, code: 'ERR_OPTIONS', mention: 'options' },
    { name: 'source missing', raw: { source: undefined }, code: 'ERR_OPTIONS', mention: '"source"' },
    { name: 'source not a string', raw: { source: 42 }, code: 'ERR_OPTIONS', mention: '"source"' },
    { name: 'source empty', raw: { source: '' }, code: 'ERR_OPTIONS', mention: '"source"' },
    { name: 'source with NUL', raw: { source: '/var/\0www' }, code: 'ERR_OPTIONS', mention: '"source"' },
    { name: 'source is /', raw: { source: '/' }, code: 'ERR_SOURCE_IS_ROOT', mention: '"/"' },
    { name: 'source resolves to /', raw: { source: '..' }, code: 'ERR_SOURCE_IS_ROOT', mention: '"/"' },
    { name: 'replicas missing', raw: { replicas: undefined }, code: 'ERR_OPTIONS', mention: '"replicas"' },
    { name: 'no replicas', raw: { replicas: [] }, code: 'ERR_OPTIONS', mention: '"replicas"' },
    { name: 'replicas as a string', raw: { replicas: 'web2' }, code: 'ERR_OPTIONS', mention: '"replicas"' },
    { name: 'replica not a string', raw: { replicas: [2] }, code: 'ERR_OPTIONS', mention: '"replicas"' },
    { name: 'invalid replica spec', raw: { replicas: ['host:relative'] }, code: 'ERR_REPLICA_SPEC', mention: '"host:relative"' },
    { name: 'duplicate host', raw: { replicas: ['web2', 'web2'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"web2"' },
    { name: 'bare host vs host:<source>', raw: { replicas: ['web2', 'web2:/var/www'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"web2:/var/www"' },
    { name: 'bare host vs host:<source>/', raw: { replicas: ['web2:/var/www/', 'web2'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"web2"' },
    { name: 'default user vs explicit same user', raw: { replicas: ['web2:/p', 'u@web2:/p'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"u@web2:/p"' },
    { name: 'ssh URL vs scp form', raw: { replicas: ['ssh://web2:22/p', 'web2:/p'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"web2:/p"' },
    { name: 'local path with and without slash', raw: { replicas: ['/b/www', '/b/www/'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"/b/www/"' },
    { name: 'local replica is the source', raw: { replicas: ['/var/www'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var/www"' },
    { name: 'local replica is the source with slash', raw: { replicas: ['/var/www/'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var/www/"' },
    { name: 'local replica inside the source', raw: { replicas: ['/var/www/mirror'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var/www/mirror"' },
    { name: 'local replica around the source', raw: { replicas: ['/var'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var"' },
    { name: 'local replica is /', raw: { replicas: ['/'] }, code: 'ERR_REPLICA_LOOP', mention: '"/"' },
    { name: 'local replica inside the source, written with //', raw: { replicas: ['/var//www/x'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var//www/x"' },
    { name: 'local replica inside the source, written with ..', raw: { replicas: ['/tmp/../var/www/x'] }, code: 'ERR_REPLICA_LOOP', mention: '"/tmp/../var/www/x"' },
    { name: 'local replica back inside the source from cwd', raw: { replicas: ['../var/www/m'] }, code: 'ERR_REPLICA_LOOP', mention: '"../var/www/m"' },
    { name: 'local replica through a symlink into the source', raw: { replicas: ['/into-www/m'] }, code: 'ERR_REPLICA_LOOP', mention: '/var/www/m' },
    { name: 'local replica is a symlink to the source', raw: { replicas: ['/into-www'] }, code: 'ERR_REPLICA_LOOP', mention: '"/into-www"' },
    { name: 'local replica around a source reached through a symlink', raw: { source: '/www-link', replicas: ['/var'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var"' },
    { name: 'local replica inside a source reached through a symlink', raw: { source: '/www-link', replicas: ['/var/www/m'] }, code: 'ERR_REPLICA_LOOP', mention: '"/var/www/m"' },
    { name: 'local duplicate written with /./', raw: { replicas: ['/srv/a', '/srv/./a'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"/srv/./a"' },
    { name: 'local duplicate written with //', raw: { replicas: ['/srv/a', '/srv//a'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"/srv//a"' },
    { name: 'local duplicate through a symlink', raw: { replicas: ['/mnt/disk/backup', '/link/backup'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"/link/backup"' },
    { name: 'remote duplicate written with ..', raw: { replicas: ['web2:/srv/a', 'web2:/srv/b/../a'] }, code: 'ERR_REPLICA_DUPLICATE', mention: '"web2:/srv/b/../a"' },
    { name: 'remote spec with its colon forgotten', raw: { replicas: ['web2/srv/www'] }, code: 'ERR_REPLICA_SPEC', mention: '"web2:/srv/www"' },
    { name: 'concurrency 0', raw: { concurrency: 0 }, code: 'ERR_OPTIONS', mention: '"concurrency"' },
    { name: 'concurrency fractional', raw: { concurrency: 1.5 }, code: 'ERR_OPTIONS', mention: '"concurrency"' },
    { name: 'concurrency as a string', raw: { concurrency: '8' }, code: 'ERR_OPTIONS', mention: '"concurrency"' },
    { name: 'concurrency NaN', raw: { concurrency: Number.NaN }, code: 'ERR_OPTIONS', mention: '"concurrency"' },
    { name: 'quietMs negative', raw: { quietMs: -1 }, code: 'ERR_OPTIONS', mention: '"quietMs"' },
    { name: 'timeoutSec 0', raw: { timeoutSec: 0 }, code: 'ERR_OPTIONS', mention: '"timeoutSec"' },
    { name: 'connectTimeoutMs too small', raw: { connectTimeoutMs: 99 }, code: 'ERR_OPTIONS', mention: '"connectTimeoutMs"' },
    { name: 'retryMinMs 0', raw: { retryMinMs: 0 }, code: 'ERR_OPTIONS', mention: '"retryMinMs"' },
    { name: 'initMirror as a string', raw: { initMirror: 'yes' }, code: 'ERR_OPTIONS', mention: '"initMirror"' },
    { name: 'exclude as a string', raw: { exclude: '*.tmp' }, code: 'ERR_OPTIONS', mention: '"exclude"' },
    { name: 'exclude with an empty pattern', raw: { exclude: ['*.tmp', ''] }, code: 'ERR_OPTIONS', mention: '"exclude"' },
    { name: 'exclude with a NUL byte', raw: { exclude: ['*.tmp', 'a\0b'] }, code: 'ERR_OPTIONS', mention: 'pattern 2' },
    { name: 'exclude longer than rsync reads', raw: { exclude: ['x'.repeat(4096)] }, code: 'ERR_OPTIONS', mention: 'longer than rsync reads' },
    { name: 'exclude comment-like and too long with its prefix', raw: { exclude: [`#${'x'.repeat(4093)}`] }, code: 'ERR_OPTIONS', mention: 'longer than rsync reads' },
    { name: 'identityFiles with a number', raw: { identityFiles: [1] }, code: 'ERR_OPTIONS', mention: '"identityFiles"' },
    { name: 'passphrase empty', raw: { passphrase: '' }, code: 'ERR_OPTIONS', mention: '"passphrase"' },
    { name: 'rsyncPath not a string', raw: { rsyncPath: ['rsync'] }, code: 'ERR_OPTIONS', mention: '"rsyncPath"' },
    { name: 'homeDir empty', raw: { homeDir: '' }, code: 'ERR_OPTIONS', mention: '"homeDir"' },
    { name: 'journalLimitBytes below 1 KiB', raw: { journalLimitBytes: 10 }, code: 'ERR_OPTIONS', mention: '"journalLimitBytes"' },
  ];
  for (const row of rows) {
    it(`${row.name} → ${row.code}`, () => {
      const raw = row.raw === null ? null : { ...base, ...row.raw };
      assert.throws(
        () => normalizeOptions(raw as unknown as MirrorOptions, env),
        (err: unknown) => {
          assert.ok(isMirrorError(err, row.code), `expected ${row.code}, got ${String(err)}`);
          assert.ok(err.message.includes(row.mention), `message should mention ${row.mention}: ${err.message}`);
          return true;
        },
      );
    });
  }

  // backoffMs promises a wait within [retryMinMs, retryMaxMs]; with min > max no wait can be.
  it('retryMinMs above retryMaxMs → ERR_OPTIONS', () => {
    assert.throws(
      () => normalizeOptions({ ...base, retryMinMs: 5000, retryMaxMs: 100 }, env),
      (err: unknown) => isMirrorError(err, 'ERR_OPTIONS'),
    );
  });
});

describe('changedOptions (what a reload names)', () => {
  const rows: Array<{ name: string; next: Partial<MirrorOptions>; want: string[] }> = [
    { name: 'nothing changed', next: {}, want: [] },
    { name: 'the same values written differently', next: { source: '/var/www/', replicas: ['/backup/www/'], concurrency: 8 }, want: [] },
    { name: 'a replica added', next: { replicas: ['/backup/www', '/backup/two'] }, want: ['replicas'] },
    { name: 'an exclude added', next: { exclude: ['*.tmp'] }, want: ['exclude'] },
    { name: 'several options', next: { quietMs: 50, strictHostKeyChecking: 'accept-new', identityFiles: ['/k'] }, want: ['identityFiles', 'strictHostKeyChecking', 'quietMs'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(changedOptions(normalizeOptions(base, env), normalizeOptions({ ...base, ...row.next }, env)), row.want);
    });
  }
});

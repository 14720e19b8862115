/**
 * The CLI, tested by spawning the built `dist/cli.js` (npm test builds first): usage errors, bad
 * input with stable codes and non-zero exits, and real runs against a local directory and a real
 * sshd host, stopped with SIGTERM / SIGINT.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, readFile, rm, writeFile, mkdir, symlink, chmod } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshdHosts, stopAll } from '../helpers/sshd.js';
import { usage } from '../../src/cli/usage.js';
import { spawnCli } from '../helpers/cli.js';
import { listRoot, assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from '../helpers/tree.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const stateHome = mkdtempSync(join(tmpdir(), 'fam-cli-state-'));
after(() => rmSync(stateHome, { recursive: true, force: true }));

function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  // Each CLI run keeps its durable state in a private XDG_STATE_HOME, never in the real home.
  return spawnCli(args, { cwd: opts.cwd, env: { XDG_STATE_HOME: stateHome, ...opts.env } });
}

async function runToEnd(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = start(args, opts);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 20_000);
  const code = await r.exit;
  clearTimeout(timer);
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

describe('fam-mirror CLI: usage and bad input', () => {
  it('--help prints usage and exits 0', async () => {
    const r = await runToEnd(['--help']);
    assert.equal(r.code, 0);
    // The spawned CLI prints the text built from the tables (compared with README and the man page in test/core/option-table.test.ts).
    assert.equal(r.stdout, `${usage()}\n`);
    for (const flag of ['--watch-list', '--exclude-from', '--never-from', '--passphrase-file', '--json', '--reason', '--config', '--quiet']) assert.ok(r.stdout.includes(flag), flag);
    for (const command of ['verify', 'status', 'fence', 'unfence', 'release']) assert.match(r.stdout, new RegExp(`^  ${command} `, 'm'), command);
    assert.match(r.stdout, /Usage: fam-mirror \[options\] SRC REPLICA/);
    assert.match(r.stdout, /INIT_MIRROR=1/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runToEnd(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  const cases: Array<{ name: string; args: (tmp: string) => string[]; code: number; stderr: RegExp; env?: NodeJS.ProcessEnv; cwd?: (tmp: string) => string }> = [
    { name: 'config file missing', args: (t) => ['--config', join(t, 'nope.json')], code: 1, stderr: /Cannot read the config file .*nope\.json: ENOENT.*\(ERR_CONFIG\)/ },
    { name: 'config file not JSON', args: (t) => ['--config', join(t, 'file')], code: 1, stderr: /not valid JSON.*\(ERR_CONFIG\)/ },
    {
      name: 'config file with an unknown key',
      args: (t) => ['--config', join(t, 'typo.json')],
      code: 1,
      stderr: /The config file .*typo\.json has an unknown key "exlude": did you mean "exclude"\?.*\(ERR_CONFIG\)/,
    },
    { name: 'config file with a wrong type', args: (t) => ['--config', join(t, 'type.json')], code: 1, stderr: /Option "concurrency" must be a whole number.*\(ERR_OPTIONS\)/ },
    { name: 'rsync missing locally', args: (t) => [t, '/tmp/fam-never'], code: 1, stderr: /rsync was not found.*\(ERR_RSYNC_MISSING\)/, env: { PATH: '/nonexistent' } },
    { name: 'unknown flag', args: () => ['--frobnicate', '/tmp', '/tmp/x'], code: 2, stderr: /unknown option --frobnicate \(fam-mirror --help lists them all\)[\s\S]*fam-mirror --help/ },
    { name: 'misspelt flag', args: () => ['--wach-list', 'x', '/tmp/x'], code: 2, stderr: /^fam-mirror: unknown option --wach-list: did you mean --watch-list\?\n/ },
    { name: 'no arguments', args: () => [], code: 2, stderr: /missing SRC, the directory tree to mirror \(or --watch-list FILE\)/ },
    { name: 'no replica', args: (t) => [t], code: 2, stderr: /missing REPLICA/ },
    { name: 'bad --concurrency', args: (t) => ['--concurrency', 'lots', t, '/tmp/x'], code: 2, stderr: /--concurrency takes a whole number/ },
    { name: 'source missing', args: (t) => [join(t, 'nope'), '/tmp/fam-never'], code: 1, stderr: /does not exist.*\(ERR_SOURCE_MISSING\)/ },
    { name: 'source is a file', args: (t) => [join(t, 'file'), '/tmp/fam-never'], code: 1, stderr: /is not a directory.*\(ERR_SOURCE_NOT_DIR\)/ },
    { name: 'source is /', args: () => ['/', '/tmp/fam-never'], code: 1, stderr: /\(ERR_SOURCE_IS_ROOT\)/ },
    { name: 'malformed replica', args: (t) => [t, '-oProxyCommand=touch /tmp/pwned'], code: 2, stderr: /unknown option -oProxyCommand/ },
    {
      name: 'passphrase file readable by others',
      args: (t) => ['--passphrase-file', join(t, 'pw'), join(t, 'src'), '/tmp/fam-never'],
      code: 1,
      stderr: /The passphrase file .*\/pw is readable by others \(mode 0644\): make it private \(chmod 600 .*\/pw\).*\(ERR_CONFIG\)/,
    },
    { name: 'relative remote path', args: (t) => [t, 'web2:www'], code: 1, stderr: /not absolute.*\(ERR_REPLICA_SPEC\)/ },
    { name: 'replica inside the source', args: (t) => [t, join(t, 'inner')], code: 1, stderr: /\(ERR_REPLICA_LOOP\)/ },
    { name: 'duplicate replica', args: (t) => [t, '/tmp/fam-dup', '/tmp/fam-dup/'], code: 1, stderr: /\(ERR_REPLICA_DUPLICATE\)/ },
    { name: 'duplicate replica written with /./', args: (t) => [t, '/tmp/fam-dup', '/tmp/./fam-dup'], code: 1, stderr: /\(ERR_REPLICA_DUPLICATE\)/ },
    { name: 'remote spec with its colon forgotten', args: (t) => [t, 'web2/srv/www'], code: 1, stderr: /must start with "\.\/" or "\.\.\/" \(or did you mean "web2:\/srv\/www".*\(ERR_REPLICA_SPEC\)/ },
    { name: 'relative replica without ./', args: (t) => [t, 'fam-never/www'], code: 1, stderr: /\(ERR_REPLICA_SPEC\)/, cwd: () => '/tmp' },
    { name: 'replica inside the source, written with //', args: (t) => [t, t.replace(/\/([^/]+)$/, '//$1//inner')], code: 1, stderr: /\(ERR_REPLICA_LOOP\)/ },
    { name: 'relative replica leading back inside the source', args: (t) => ['src', `../${t.split('/').pop()}/src/sub`], code: 1, stderr: /\(ERR_REPLICA_LOOP\)/, cwd: (t) => t },
    {
      name: 'state directory is a file',
      args: (t) => ['--state-dir', join(t, 'file'), join(t, 'src'), '/tmp/fam-never'],
      code: 1,
      stderr: /Cannot use the state directory .*\/file: ENOTDIR\. Give a writable directory \(--state-dir DIR\)\. \(ERR_STATE\)/,
    },
    {
      name: 'state directory below a file',
      args: (t) => ['--state-dir', join(t, 'file/state'), join(t, 'src'), '/tmp/fam-never'],
      code: 1,
      stderr: /Cannot use the state directory .*\/file\/state: ENOTDIR.*\(ERR_STATE\)/,
    },
    { name: 'replica through a symlink into the source', args: (t) => [join(t, 'src'), join(t, 'to-sub')], code: 1, stderr: /to-sub" is the source, or lies inside it.*\(ERR_REPLICA_LOOP\)/ },
  ];
  for (const c of cases) {
    it(`${c.name} → exit ${c.code} with a clear message`, async () => {
      const tmp = await makeTempDir('fam-cli-bad-');
      await writeFile(join(tmp, 'file'), 'x');
      await writeFile(join(tmp, 'typo.json'), JSON.stringify({ source: tmp, replicas: ['/tmp/fam-never'], exlude: ['*.tmp'] }));
      await writeFile(join(tmp, 'pw'), 'sekrit\n', { mode: 0o644 });
      await chmod(join(tmp, 'pw'), 0o644);
      await writeFile(join(tmp, 'type.json'), JSON.stringify({ source: tmp, replicas: ['/tmp/fam-never'], concurrency: 'lots' }));
      await mkdir(join(tmp, 'src/sub'), { recursive: true });
      await writeFile(join(tmp, 'src/sub/only-here.txt'), 'precious\n');
      await symlink(join(tmp, 'src/sub'), join(tmp, 'to-sub'));
      const r = await runToEnd(c.args(tmp), { ...(c.env === undefined ? {} : { env: c.env }), ...(c.cwd === undefined ? {} : { cwd: c.cwd(tmp) }) });
      assert.equal(await readFile(join(tmp, 'src/sub/only-here.txt'), 'utf8'), 'precious\n', 'nothing of the source deleted');
      assert.equal(await readdir('/tmp').then((n) => n.includes('fam-never')), false, 'nothing created on any replica');
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.doesNotMatch(`${r.stdout}${r.stderr}`, /watching/, 'no "watching" before the start succeeded');
      assert.doesNotMatch(`${r.stdout}${r.stderr}`, /sekrit/, 'no passphrase in any message');
    });
  }
});

describe('fam-mirror CLI: subcommands are always subcommands', () => {
  /**
   * A cwd holding directories named like the commands (and like their typos), a source and a local
   * replica that differs from it by one extra file: whatever is mistyped, that file must survive.
   */
  async function workdir(): Promise<{ cwd: string; src: string; dst: string }> {
    const cwd = await makeTempDir('fam-cli-sub-');
    const src = join(cwd, 'src');
    const dst = join(cwd, 'dst');
    for (const d of ['verify', 'status', 'verfy', 'Verify', 'stauts', 'src', 'dst']) await mkdir(join(cwd, d));
    await writeFile(join(cwd, 'verify/index.html'), 'a directory named verify\n');
    await writeFile(join(src, 'a.txt'), 'a\n');
    await writeFile(join(dst, 'extra.txt'), 'only on the replica\n');
    await writeFile(join(cwd, 'ok.json'), JSON.stringify({ source: src, replicas: [dst] }));
    return { cwd, src, dst };
  }

  const mistakes: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv; stderr: RegExp }> = [
    { name: 'verify DIR with INIT_MIRROR=1 and a ./verify directory', args: ['verify', './dst'], env: { INIT_MIRROR: '1' }, stderr: /verify: missing REPLICA.*\n?.*\.\/verify/ },
    { name: 'verify alone', args: ['verify'], stderr: /verify: missing SRC/ },
    { name: 'status with a SRC', args: ['status', 'src'], stderr: /status takes no SRC or REPLICA \("src" given\)/ },
    { name: 'status with SRC and REPLICA', args: ['status', 'src', './dst'], env: { INIT_MIRROR: '1' }, stderr: /status takes no SRC or REPLICA/ },
    { name: 'a typo: verfy', args: ['verfy', 'src', './dst'], env: { INIT_MIRROR: '1' }, stderr: /unknown command "verfy": did you mean "verify"\? .*\.\/verfy/ },
    { name: 'a typo: Verify', args: ['Verify', 'src', './dst'], env: { INIT_MIRROR: '1' }, stderr: /unknown command "Verify": did you mean "verify"\?/ },
    { name: 'a typo: verfiy', args: ['verfiy', 'src', './dst'], stderr: /did you mean "verify"\?/ },
    { name: 'a typo: stauts', args: ['stauts'], stderr: /unknown command "stauts": did you mean "status"\?/ },
    { name: 'a typo: stats', args: ['stats', '--json'], stderr: /did you mean "status"\?/ },
    { name: 'the command after SRC', args: ['src', 'verify', './dst'], env: { INIT_MIRROR: '1' }, stderr: /"verify" is a command and goes first/ },
    { name: 'the command last', args: ['--init', 'src', './dst', 'status'], stderr: /"status" is a command and goes first/ },
    { name: 'verify --init', args: ['verify', '--init', 'src', './dst'], stderr: /--init does not apply to verify/ },
    { name: 'verify --dry-run', args: ['verify', '--dry-run', 'src', './dst'], stderr: /--dry-run does not apply to verify/ },
    { name: 'status --init', args: ['status', '--init'], stderr: /--init does not apply to status/ },
    { name: '--json without status', args: ['--json', 'src', './dst'], env: { INIT_MIRROR: '1' }, stderr: /--json applies to status only/ },
  ];
  for (const m of mistakes) {
    it(`${m.name}: exit 2, a clear message, nothing run`, async () => {
      const { cwd, dst } = await workdir();
      const r = await runToEnd(m.args, { cwd, ...(m.env === undefined ? {} : { env: m.env }) });
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, m.stderr);
      assert.match(r.stderr, /fam-mirror --help/);
      assert.equal(r.stdout, '', 'nothing started');
      assert.deepEqual(await readdir(dst), ['extra.txt'], 'nothing sent, nothing deleted');
    });
  }

  it('verify --config FILE verifies (exit 1, the difference listed) and never starts mirroring', async () => {
    const { cwd, dst } = await workdir();
    const r = await runToEnd(['verify', '--config', 'ok.json'], { cwd, env: { INIT_MIRROR: '1' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`${dst}: \\d+ differences?\n[\\s\\S]*\\*deleting +extra\\.txt`));
    assert.doesNotMatch(r.stdout, /watching/);
    assert.deepEqual(await readdir(dst), ['extra.txt'], 'verify changes nothing');
  });

  it('a directory named like a command is mirrored when written ./verify', async () => {
    const { cwd, dst } = await workdir();
    await rm(join(dst, 'extra.txt'));
    const r = start(['--init', './verify', './dst'], { cwd });
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'the seed of ./verify' });
      await assertTreesEqual(join(cwd, 'verify'), dst, 'seed of ./verify');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });
});

describe('fam-mirror CLI: real runs', () => {
  it('a replica target that does not exist, without --init: a coded warning in the log, and the mirror runs', async () => {
    const cwd = await makeTempDir('fam-cli-warn-');
    await mkdir(join(cwd, 'src'));
    const r = start(['./src', './dts', '--state-dir', join(cwd, 'state')], { cwd });
    try {
      // Warnings go to stderr (README, Logs).
      await waitFor(() => /watching \(ready in/.test(r.stdout()) && /WARN_TARGET_CREATED/.test(r.stderr()), { what: 'the warning' });
      assert.match(
        r.stderr(),
        /WARNING: Replica .*\/dts: the target directory .*\/dts did not exist and was created; without --init \(initMirror\) it gets only the changes from now on: is this the right path\? \(WARN_TARGET_CREATED\)/,
      );
      assert.doesNotMatch(r.stdout() + r.stderr(), /WARN_STATE_READABLE/, 'the state the CLI creates is private');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('takes source and replicas from --config, and an unreachable host does not stop the others', async () => {
    const tmp = await makeTempDir('fam-cli-config-');
    const src = join(tmp, 'src');
    const dst = join(tmp, 'dst');
    await mkdir(src);
    await mkdir(dst);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const closedPort = 1; // nothing listens there on 127.0.0.1
    const key = join(tmp, 'id_ed25519');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    await writeFile(
      join(tmp, 'fam.json'),
      JSON.stringify({ source: src, replicas: [dst, `ssh://root@127.0.0.1:${closedPort}/srv`], identityFiles: [key], initMirror: false, quietMs: 5, retryMinMs: 200 }),
    );
    const r = start(['--config', join(tmp, 'fam.json')]);
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready' });
      await writeFile(join(src, 'b.txt'), 'b\n');
      await waitFor(async () => (await readFile(join(dst, 'b.txt'), 'utf8').catch(() => '')) === 'b\n', { what: 'b.txt on the local replica' });
      // Said once, by its start-up check, on stderr (an error); its retries add no line.
      await waitFor(() => /root@127\.0\.0\.1:1:\/srv: down, retrying: ERR_SSH_CONNECT Could not connect to 127\.0\.0\.1:1: .*ECONNREFUSED/.test(r.stderr()), {
        what: 'the unreachable replica reported down',
      });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('--init with one of three replicas down: "2 of 3 seeded", the down one named, never "seeded and watching"', async () => {
    const tmp = await makeTempDir('fam-cli-seed-claim-');
    const [src, one, two] = [join(tmp, 'src'), join(tmp, 'one'), join(tmp, 'two')];
    for (const d of [src, one, two]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const key = join(tmp, 'id_ed25519');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const r = start(['--init', '--identity', key, '--state-dir', join(tmp, 'state'), src, one, two, 'ssh://root@127.0.0.1:1/srv/www']);
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready' });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.match(r.stdout(), /2 of 3 seeded; root@127\.0\.0\.1:1:\/srv\/www is down and will be seeded when back; watching \(ready in \d+ ms\)/);
    assert.doesNotMatch(r.stdout(), /seeded and watching/);
    await assertTreesEqual(src, one, 'one seeded');
    await assertTreesEqual(src, two, 'two seeded');
  });

  it('a relative replica from the config file (./backup) works with a watch list too', async () => {
    const cwd = await makeTempDir('fam-cli-relcfg-');
    const [root, other] = [join(cwd, 'www'), join(cwd, 'img')];
    for (const d of [root, other, join(cwd, 'backup')]) await mkdir(d);
    await writeFile(join(root, 'index.html'), 'i\n');
    await writeFile(join(other, 'logo.png'), 'png\n');
    await writeFile(join(cwd, 'roots.txt'), `${root}\n${other}\n`);
    // rsync creates only the last directory of a target: P/R's parents exist, as in the test above.
    for (const r of [root, other]) await mkdir(join(cwd, 'backup', r), { recursive: true });
    await writeFile(join(cwd, 'fam.json'), JSON.stringify({ replicas: ['./backup'] }));
    const r = start(['--init', '--config', 'fam.json', '--watch-list', 'roots.txt', '--state-dir', join(cwd, 'state')], { cwd });
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready' });
      assert.match(r.stdout(), /seeded and watching/, r.stderr());
      await assertTreesEqual(root, join(cwd, 'backup', root), 'a root below the relative replica');
      await assertTreesEqual(other, join(cwd, 'backup', other), 'the other root below it');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('a config with 200,000 excludes seeds for real before it says so', async () => {
    const tmp = await makeTempDir('fam-cli-200k-');
    const [src, dst] = [join(tmp, 'src'), join(tmp, 'dst')];
    for (const d of [src, dst]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    await writeFile(join(src, 'b.tmp'), 'excluded\n');
    const exclude = [...Array.from({ length: 200_000 }, (_, i) => `/generated/file-${i}.bin`), '*.tmp'];
    await writeFile(join(tmp, 'fam.json'), JSON.stringify({ source: src, replicas: [dst], exclude, initMirror: true }));
    const r = start(['--config', join(tmp, 'fam.json'), '--state-dir', join(tmp, 'state')]);
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready', timeoutMs: 60_000 });
      assert.match(r.stdout(), /seeded and watching/);
      assert.deepEqual(await listRoot(dst), ['a.txt']);
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.doesNotMatch(r.stdout() + r.stderr(), /E2BIG|is down|failed ERR_/);
  });

  it('mirrors to a relative local directory with INIT_MIRROR=1 and exits 0 on SIGTERM', async () => {
    const cwd = await makeTempDir('fam-cli-local-');
    const src = join(cwd, 'site');
    await mkdir(join(src, 'css'), { recursive: true });
    await writeFile(join(src, 'index.html'), '<h1>hi</h1>\n');
    await writeFile(join(src, 'css/site.css'), 'body{}\n');
    await mkdir(join(cwd, 'replica'));
    await writeFile(join(cwd, 'replica/stale.html'), 'old');
    const r = start(['site', './replica'], { cwd, env: { INIT_MIRROR: '1' } });
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'the CLI to be ready', timeoutMs: 20_000 });
      await assertTreesEqual(src, join(cwd, 'replica'), 'after seed');
      await writeFile(join(src, 'new.html'), 'fresh\n');
      await waitFor(async () => (await readFile(join(cwd, 'replica/new.html'), 'utf8').catch(() => '')) === 'fresh\n', { what: 'new.html on the replica' });
      await assertTreesEqual(src, join(cwd, 'replica'), 'after change');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.match(r.stdout(), /synced 1 path to .*replica in \d+ ms/);
    assert.match(r.stdout(), /SIGTERM: finishing batches in flight/);
  });

  it('mirrors to a real sshd host with --init, --identity and --known-hosts, and exits 0 on SIGINT', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-cli-ssh-src-');
    const dst = await makeTempDir('fam-cli-ssh-dst-');
    await writeFile(join(src, 'a.txt'), 'a\n');
    const r = start(['--init', '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, '--concurrency', '2', src, `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`], {
      env: { INIT_MIRROR: '' },
    });
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'the CLI to seed', timeoutMs: 20_000 });
      await assertTreesEqual(src, dst, 'seed over ssh');
      await writeFile(join(src, 'b.txt'), 'b\n');
      await waitFor(async () => (await readFile(join(dst, 'b.txt'), 'utf8').catch(() => '')) === 'b\n', { what: 'b.txt over ssh' });
    } finally {
      r.child.kill('SIGINT');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(await h!.logins(), 1);
  });

  it('verify exits 0 when identical and 1 listing each difference when not', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-cli-v-src-');
    const dst = await makeTempDir('fam-cli-v-dst-');
    const local = await makeTempDir('fam-cli-v-local-');
    await writeFile(join(src, 'same.txt'), 'same\n');
    const ssh = `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`;
    const auth = ['--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile];
    const seed = start(['--init', ...auth, src, ssh, local]);
    await waitFor(() => /seeded and watching/.test(seed.stdout()), { what: 'seed' });
    seed.child.kill('SIGTERM');
    assert.equal(await seed.exit, 0);
    const ok = await runToEnd(['verify', ...auth, src, ssh, local]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`${dst}: identical`));
    await writeFile(join(dst, 'only-on-replica'), 'x');
    const bad = await runToEnd(['verify', ...auth, src, ssh, local]);
    assert.equal(bad.code, 1, bad.stderr);
    // The extra file also moved the replica root's mtime: rsync reports both.
    assert.match(bad.stdout, /2 differences\n {2}\.d\.\.t\.+ \.\/\n {2}\*deleting +only-on-replica\n/);
    assert.match(bad.stdout, new RegExp(`${local}: identical`));
  });

  it('status (table and --json), --metrics and --on-replica-down/up with two replicas, one of them stopped', async () => {
    const [h] = await startSshdHosts(1);
    const tmp = await makeTempDir('fam-cli-status-');
    const src = join(tmp, 'src');
    const local = join(tmp, 'local');
    const dst = join(tmp, 'remote');
    const state = join(tmp, 'state');
    for (const d of [src, local, dst]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const alerts = join(tmp, 'alerts.log');
    // The alert command is the operator's; the replica's data arrives only through the environment.
    const alertCmd = `printf '%s|%s|%s|%s\\n' "$FAM_MIRROR_EVENT" "$FAM_MIRROR_REPLICA" "$FAM_MIRROR_STATE" "$FAM_MIRROR_ERROR_CODE" >> '${alerts}'`;
    const ssh = `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`;
    const port = 20000 + (process.pid % 20000);
    const r = start([
      '--init',
      '--state-dir',
      state,
      '--identity',
      h!.identityFile,
      '--known-hosts',
      h!.knownHostsFile,
      '--metrics',
      `127.0.0.1:${port}`,
      '--on-replica-down',
      alertCmd,
      '--on-replica-up',
      alertCmd,
      src,
      local,
      ssh,
    ]);
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'seed' });
      await h!.halt();
      await writeFile(join(src, 'b.txt'), 'b\n');
      await waitFor(async () => (await readFile(alerts, 'utf8').catch(() => '')).includes('replica-down|'), { what: 'the down alert' });
      const table = await runToEnd(['status', '--state-dir', state]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, new RegExp(`${src} \\(pid \\d+, up \\d+s\\)`));
      assert.match(table.stdout, /REPLICA +STATE +LAG +BACKLOG +LAST SUCCESS +FILES +BYTES +LAST FULL PASS +LAST ERROR/);
      // Both were seeded by a full pass (--init): the table says so, and --json has the sample.
      assert.match(table.stdout, new RegExp(`${local} +idle +.* \\d\\d:\\d\\d:\\d\\d seed: 2 sent `));
      assert.match(table.stdout, new RegExp(`${local} +idle +0\\.0s +0 `));
      assert.match(table.stdout, /down +\d+\.\ds +\d+ .*Could not connect/);
      const json = JSON.parse((await runToEnd(['status', '--json', '--state-dir', state])).stdout) as Array<{
        replicas: Array<{ replica: string; state: string; filesSent: number; lastFullPass?: { reason: string; repaired: number; sample: string[] } }>;
      }>;
      assert.deepEqual(json[0]!.replicas[0]!.lastFullPass && { ...json[0]!.replicas[0]!.lastFullPass, at: undefined }, { reason: 'seed', at: undefined, repaired: 2, sample: ['./', 'a.txt'] });
      assert.deepEqual(
        json[0]!.replicas.map((x) => x.state),
        ['idle', 'down'],
      );
      assert.ok(json[0]!.replicas[0]!.filesSent >= 2);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, new RegExp(`fam_mirror_replica_up\\{replica="${local}"\\} 1`));
      assert.match(metrics, /fam_mirror_replica_up\{replica="[^"]*remote"\} 0/);
      assert.match(metrics, /# TYPE fam_mirror_replica_bytes_sent_total counter/);
      await h!.restart();
      await waitFor(async () => (await readFile(alerts, 'utf8').catch(() => '')).includes('replica-up|'), { what: 'the up alert', timeoutMs: 40_000 });
      const lines = (await readFile(alerts, 'utf8')).trim().split('\n');
      assert.match(lines[0]!, /^replica-down\|.*remote\|down\|ERR_SSH_CONNECT$/);
      assert.match(lines.at(-1)!, /^replica-up\|.*remote\|(idle|syncing|catching-up)\|$/);
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const after = await runToEnd(['status', '--state-dir', state]);
    assert.equal(after.code, 1, 'no mirror runs any more');
  });

  it('--dry-run shows the planned rsync and its changes, and sends nothing', async () => {
    const tmp = await makeTempDir('fam-cli-dry-');
    const src = join(tmp, 'src');
    const dst = join(tmp, 'dst');
    await mkdir(src);
    await mkdir(dst);
    await writeFile(join(src, 'new.txt'), 'n\n');
    await writeFile(join(dst, 'extra.txt'), 'would be deleted\n');
    const r = start(['--dry-run', '--init', '--state-dir', join(tmp, 'state'), src, dst]);
    try {
      await waitFor(() => /dry run: every replica would be seeded \(nothing sent\); watching \(ready in/.test(r.stdout()), { what: 'dry seed' });
      await writeFile(join(src, 'later.txt'), 'l\n');
      await waitFor(() => /, 1 listed path: would send 1 file/.test(r.stdout()), { what: 'the planned batch' });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.match(r.stdout(), /dry run: .*dst, a full pass: would send 1 file, would delete 1 entry/);
    assert.match(r.stdout(), /would delete "extra\.txt"/);
    assert.match(r.stdout(), /by hand: rsync .*--delete/);
    assert.match(r.stdout(), /path "later\.txt"/);
    // Nothing was sent, so nothing is said to be: no "synced" line, no "seeded".
    assert.doesNotMatch(r.stdout(), /Z synced |seeded and|seeding first/);
    assert.match(r.stdout(), /starting .* \(dry run: would seed first\)/);
    assert.deepEqual(await readdir(dst), ['extra.txt'], 'nothing sent, nothing deleted');
    assert.deepEqual(await readdir(tmp).then((n) => n.includes('state')), false, 'no state written');
  });

  it('SIGHUP re-reads the config: an added replica is seeded and follows, a removed one is left alone', async () => {
    const tmp = await makeTempDir('fam-cli-hup-');
    const src = join(tmp, 'src');
    const [one, two, three] = [join(tmp, 'one'), join(tmp, 'two'), join(tmp, 'three')];
    for (const d of [src, one, two, three]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const config = join(tmp, 'fam.json');
    await writeFile(config, JSON.stringify({ source: src, replicas: [one, two], initMirror: true }));
    const r = start(['--config', config, '--state-dir', join(tmp, 'state')]);
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'seed' });
      await writeFile(config, JSON.stringify({ source: src, replicas: [one, three], initMirror: true }));
      r.child.kill('SIGHUP');
      await waitFor(() => /SIGHUP: config reloaded for .*src; added \(seeding\) .*three; removed .*two/.test(r.stdout()), { what: 'the reload' });
      await waitFor(async () => (await diffTrees(src, three)).length === 0, { what: 'the added replica seeded' });
      await writeFile(join(src, 'b.txt'), 'b\n');
      await waitFor(async () => (await diffTrees(src, three)).length === 0 && (await diffTrees(src, one)).length === 0, { what: 'b.txt on one and three' });
      assert.deepEqual(await listRoot(two), ['a.txt'], 'the removed replica gets nothing more');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('SIGHUP validates the config as start-up does: a bad file keeps the running setup and names the key; an option that needs a restart is named', async () => {
    const tmp = await makeTempDir('fam-cli-hup-check-');
    const src = join(tmp, 'src');
    const [one, two] = [join(tmp, 'one'), join(tmp, 'two')];
    for (const d of [src, one, two]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const config = join(tmp, 'fam.json');
    await writeFile(config, JSON.stringify({ source: src, replicas: [one, two] }));
    const r = start(['--init', '--config', config, '--state-dir', join(tmp, 'state')]);
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'seed' });
      // A typo in a key, and two dropped: refused as a whole, so two keeps being mirrored.
      await writeFile(config, JSON.stringify({ source: src, replicas: [one], exlude: ['*.tmp'] }));
      r.child.kill('SIGHUP');
      await waitFor(() => /SIGHUP: reload failed, keeping the running setup: The config file .*fam\.json has an unknown key "exlude".*\(ERR_CONFIG\)/.test(r.stderr()), {
        what: 'the bad config refused',
      });
      await writeFile(join(src, 'after-bad-reload.txt'), 'b\n');
      await waitFor(async () => (await diffTrees(src, two)).length === 0, { what: 'two still mirrored after the refused reload' });
      // exclude cannot change live (the watcher filters events with it): named, and the old value kept.
      await writeFile(config, JSON.stringify({ source: src, replicas: [one, two], exclude: ['*.tmp'] }));
      r.child.kill('SIGHUP');
      await waitFor(() => /SIGHUP: changed for .*src, but needs a restart \(the running mirror keeps the old value\): exclude\n/.test(r.stdout()), { what: 'exclude named as needing a restart' });
      assert.match(r.stdout(), /SIGHUP: config reloaded for .*src; no replica added; none removed/);
      await writeFile(join(src, 'still-sent.tmp'), 'old excludes still apply\n');
      await waitFor(async () => (await diffTrees(src, one)).length === 0, { what: 'the running excludes kept' });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('a replica added by SIGHUP is journaled: never seeded before a restart, it is seeded after it, and only it gets a full pass', async () => {
    const tmp = await makeTempDir('fam-cli-hup-restart-');
    const src = join(tmp, 'src');
    const one = join(tmp, 'one');
    // two's parent does not exist yet, so its start-up check fails (ERR_TARGET_MISSING) until it is created.
    const two = join(tmp, 'later', 'two');
    for (const d of [src, one]) await mkdir(d);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const config = join(tmp, 'fam.json');
    const state = join(tmp, 'state');
    await writeFile(config, JSON.stringify({ source: src, replicas: [one] }));
    const first = start(['--init', '--config', config, '--state-dir', state]);
    try {
      await waitFor(() => /seeded and watching/.test(first.stdout()), { what: 'seed' });
      await writeFile(config, JSON.stringify({ source: src, replicas: [one, two] }));
      first.child.kill('SIGHUP');
      await waitFor(() => /SIGHUP: config reloaded for .*src; added \(seeding\) .*two; none removed/.test(first.stdout()), { what: 'the reload' });
      await waitFor(() => /two: failed ERR_TARGET_MISSING|replica .*two is down/.test(first.stderr()), { what: 'the seed of two to fail' });
    } finally {
      first.child.kill('SIGTERM');
    }
    assert.equal(await first.exit, 0, first.stderr());

    await mkdir(join(tmp, 'later'));
    const second = start(['--config', config, '--state-dir', state]);
    try {
      await waitFor(async () => (await diffTrees(src, two).catch(() => ['missing'])).length === 0, { what: 'two seeded after the restart' });
      await writeFile(join(src, 'b.txt'), 'b\n');
      await waitFor(async () => (await diffTrees(src, two)).length === 0 && (await diffTrees(src, one)).length === 0, { what: 'b.txt on one and two' });
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exit, 0, second.stderr());
    assert.match(second.stdout(), /full pass \(resumed after a restart\) on \S*two\b/);
    assert.doesNotMatch(second.stdout(), /full pass \(.*\) on \S*one\b/, 'the replica in step got a full pass');
  });

  it('--watch-list mirrors several roots over one login per host; --exclude-from and --never-from are never sent nor deleted', async () => {
    const [h] = await startSshdHosts(1);
    const tmp = await makeTempDir('fam-cli-roots-');
    const [a, b] = [join(tmp, 'www'), join(tmp, 'uploads')];
    const remote = await makeTempDir('fam-cli-roots-remote-');
    const local = join(tmp, 'backup');
    for (const d of [a, join(a, 'db'), b, local]) await mkdir(d, { recursive: true });
    await writeFile(join(a, 'index.html'), 'www\n');
    await writeFile(join(a, 'draft.tmp'), 'never sent\n');
    await writeFile(join(a, 'db/data.bin'), 'master database\n');
    await writeFile(join(b, 'photo.jpg'), 'jpg\n');
    // What each replica already holds below the never-replicated path and as an excluded file stays.
    for (const base of [join(remote, a), join(local, a)]) {
      await mkdir(join(base, 'db'), { recursive: true });
      await writeFile(join(base, 'db/data.bin'), 'replica database\n');
      await writeFile(join(base, 'keep.tmp'), 'excluded, so never deleted\n');
    }
    await writeFile(join(b, 'thumbs.cache'), 'only excluded below uploads\n');
    await writeFile(join(a, 'site.cache'), 'www has no such exclude\n');
    await writeFile(join(tmp, 'roots.txt'), `# web roots\n${a}\n\n${b}\n- *.cache\n`);
    await writeFile(join(tmp, 'excludes.txt'), '; editor droppings\n*.tmp\n');
    await writeFile(join(tmp, 'never.txt'), `${join(a, 'db')}\n`);
    const r = start([
      '--init',
      '--watch-list',
      join(tmp, 'roots.txt'),
      '--exclude-from',
      join(tmp, 'excludes.txt'),
      '--never-from',
      join(tmp, 'never.txt'),
      '--state-dir',
      join(tmp, 'state'),
      '--identity',
      h!.identityFile,
      '--known-hosts',
      h!.knownHostsFile,
      `ssh://${h!.user}@127.0.0.1:${h!.port}${remote}`,
      local,
    ]);
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'seed of both roots' });
      await writeFile(join(a, 'db/data.bin'), 'master database, changed\n');
      await writeFile(join(a, 'more.tmp'), 'x');
      await writeFile(join(b, 'later.jpg'), 'later\n');
      await waitFor(
        async () => (await readFile(join(remote, b, 'later.jpg'), 'utf8').catch(() => '')) === 'later\n' && (await readFile(join(local, b, 'later.jpg'), 'utf8').catch(() => '')) === 'later\n',
        { what: 'later.jpg on both replicas' },
      );
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    for (const base of [remote, local]) {
      assert.equal(await readFile(join(base, a, 'index.html'), 'utf8'), 'www\n');
      assert.equal(await readFile(join(base, b, 'photo.jpg'), 'utf8'), 'jpg\n');
      assert.equal(await readFile(join(base, a, 'db/data.bin'), 'utf8'), 'replica database\n', 'never-replicated path untouched');
      assert.equal(await readFile(join(base, a, 'keep.tmp'), 'utf8'), 'excluded, so never deleted\n');
      assert.deepEqual(
        (await readdir(join(base, a))).filter((n) => n.endsWith('.tmp')),
        ['keep.tmp'],
        'no .tmp sent',
      );
    }
    for (const base of [remote, local]) {
      assert.equal(await readFile(join(base, a, 'site.cache'), 'utf8'), 'www has no such exclude\n');
      assert.deepEqual(
        (await readdir(join(base, b))).filter((n) => n.endsWith('.cache')),
        [],
        'the per-root exclude holds',
      );
    }
    assert.equal(await h!.logins(), 1, 'two roots, one login');
  });

  it('shows a progress bar per replica on a terminal while seeding', async () => {
    const tmp = await makeTempDir('fam-cli-tty-');
    const src = join(tmp, 'src');
    const [one, two] = [join(tmp, 'one'), join(tmp, 'two')];
    for (const d of [src, one, two]) await mkdir(d);
    await Promise.all(Array.from({ length: 200 }, (_, i) => writeFile(join(src, `f${i}`), Buffer.alloc(50_000, i))));
    // script(1) gives the CLI a pseudo-terminal; its command line is sh, so every word is quoted.
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, CLI, '--init', '--state-dir', join(tmp, 'state'), src, one, two].map(quote).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, XDG_STATE_HOME: stateHome } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor(() => /seeded and watching/.test(out), { what: 'seed on a tty' });
    } finally {
      child.kill('SIGTERM');
      spawn('pkill', ['-TERM', '-f', `${CLI} --init --state-dir ${join(tmp, 'state')}`]);
    }
    await exit;
    // The pty has no size (80 columns): a long replica name loses its start, never the line its shape.
    assert.match(out, /\/one \[[#-]+\] \d+%/, 'a bar for the first replica');
    assert.match(out, /\/two \[[#-]+\] \d+%/, 'a bar for the second replica');
    for (const bar of out.split(/\r?\n|\x1b\[\d+F\x1b\[0J/).filter((l) => / \[[#.-]+\] /.test(l))) assert.ok([...bar].length <= 79, `one line on 80 columns: ${bar}`);
    assert.ok(out.includes('\x1b[') && out.includes('F\x1b[0J'), 'bars are redrawn in place');
  });

  it('an unknown host key is refused: exit 1, the fingerprint in the message, nothing copied', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-cli-hk-src-');
    const dst = await makeTempDir('fam-cli-hk-dst-');
    const kh = join(await makeTempDir('fam-cli-hk-'), 'known_hosts');
    await writeFile(kh, '');
    await writeFile(join(src, 'secret'), 's');
    const r = await runToEnd(['--init', '--identity', h!.identityFile, '--known-hosts', kh, src, `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(h!.hostKeyFingerprint), r.stderr);
    assert.match(r.stderr, /\(ERR_HOST_KEY_UNKNOWN\)/);
    await assertTreesEqual(await makeTempDir('fam-cli-empty-'), dst, 'nothing copied');
  });
});

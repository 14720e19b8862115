/**
 * Proves the end-to-end helpers against the real tools: OpenSSH's client logs in to the throwaway
 * sshd hosts with strict host key checking, rsync -a over ssh copies a tree that the oracle accepts, and
 * the oracle notices each kind of difference.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSshd, startSshdHosts, stopAll, type SshdHost } from './sshd.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, snapshotTree, waitFor } from './tree.js';

const run = promisify(execFile);

/** -F none: the machine's ssh_config turns on GSSAPI and HashKnownHosts; the tests must not depend on it. */
function sshOptions(h: SshdHost, knownHosts = h.knownHostsFile): string[] {
  return [
    '-F',
    'none',
    '-i',
    h.identityFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(h.port),
  ];
}

async function sshEcho(h: SshdHost, knownHosts?: string): Promise<string> {
  const { stdout } = await run('ssh', [...sshOptions(h, knownHosts), `${h.user}@127.0.0.1`, 'echo ok'], { timeout: 10_000 });
  return stdout;
}

/** True when the port answers with an SSH banner within `ms`. */
function banner(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    s.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
    s.once('error', () => done(false));
  });
}

function procState(pid: number): Promise<string | undefined> {
  return readFile(`/proc/${pid}/stat`, 'latin1').then(
    (s) => s.slice(s.lastIndexOf(')') + 2).split(' ')[0],
    () => undefined,
  );
}

/** Names that break anything that treats paths as shell words or lines. */
const WEIRD = ['with\nnewline', `quo"te's`, '-leading-dash', 'ünïcødé ✓', 'sp ace', '$HOME*?[x]'];

async function makeSampleTree(root: string): Promise<void> {
  await mkdir(join(root, 'sub/deeper'), { recursive: true });
  await writeFile(join(root, 'plain.txt'), 'hello\n');
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await chmod(join(root, 'script.sh'), 0o755);
  await writeFile(join(root, 'sub/private'), 'secret', { mode: 0o600 });
  await chmod(join(root, 'sub/private'), 0o640);
  await writeFile(join(root, 'sub/deeper/blob.bin'), Buffer.alloc(70_000, 7));
  for (const name of WEIRD) await writeFile(join(root, 'sub', name), `content of ${name}`);
  await symlink('sub/private', join(root, 'link'));
  await symlink('/nonexistent/dangling', join(root, 'sub/dangling'));
  // Sub-millisecond part on purpose: rsync must carry it and the oracle must see it.
  await utimes(join(root, 'plain.txt'), 1_600_000_000.1234, 1_600_000_000.9876);
}

describe('test helpers', () => {
  let hosts: SshdHost[];

  before(async () => {
    hosts = await startSshdHosts(2);
  });

  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('starts hosts with their own ports and host keys, one client key and one combined known_hosts', async () => {
    const [a, b] = hosts as [SshdHost, SshdHost];
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.hostKeyFingerprint, b.hostKeyFingerprint);
    assert.match(a.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(a.identityFile, b.identityFile);
    assert.equal(a.knownHostsFile, b.knownHostsFile);
    const kh = await readFile(a.knownHostsFile, 'utf8');
    for (const h of hosts) {
      assert.ok(kh.includes(`${h.knownHostsLine}\n`));
      assert.match(h.knownHostsLine, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${h.port} ssh-ed25519 \\S+$`));
      const found = await run('ssh-keygen', ['-F', `[127.0.0.1]:${h.port}`, '-l', '-f', h.knownHostsFile]);
      assert.ok(found.stdout.includes(h.hostKeyFingerprint), found.stdout);
      assert.equal(h.host, '127.0.0.1');
      assert.ok((await stat(h.logFile)).isFile());
    }
  });

  it('lets the OpenSSH client log in to every host with strict host key checking', async () => {
    for (const h of hosts) {
      const before = await h.logins();
      assert.equal(await sshEcho(h), 'ok\n');
      // sshd logs the login before it starts the session, so no waiting is needed.
      assert.equal(await h.logins(), before + 1);
    }
  });

  it('refuses a client whose known_hosts lacks the host', async () => {
    const h = hosts[0]!;
    const dir = await makeTempDir('fam-kh-');
    const other = join(dir, 'known_hosts');
    await writeFile(other, `${hosts[1]!.knownHostsLine}\n`);
    await assert.rejects(sshEcho(h, other), /Host key verification failed/);
  });

  it('rsync -a over ssh copies a tree that the oracle accepts', async () => {
    const src = await makeTempDir('fam-h-src-');
    await makeSampleTree(src);
    for (const h of hosts) {
      const dest = await makeTempDir('fam-h-dst-');
      const rsh = ['ssh', ...sshOptions(h)].join(' ');
      // --modify-window=-1 as the mirror uses it: without it rsync compares (and so sets) symlink times
      // to the whole second only.
      await run('rsync', ['-a', '--modify-window=-1', '-e', rsh, `${src}/`, `${h.user}@127.0.0.1:${dest}/`], { timeout: 20_000 });
      await assertTreesEqual(src, dest, `rsync to port ${h.port}`);
      await assertTreesEqual(src, dest, `rsync to port ${h.port}, symlink mtimes`, { symlinkMtime: true });
      const snap = await snapshotTree(dest);
      for (const name of WEIRD)
        assert.ok(
          snap.some((e) => e.path === `sub/${name}` && e.type === 'file'),
          name,
        );
      const plain = snap.find((e) => e.path === 'plain.txt');
      assert.equal(plain?.mtimeMs, 1_600_000_000_987);
      assert.equal(snap.find((e) => e.path === 'link')?.target, 'sub/private');
      assert.equal(snap.find((e) => e.path === 'sub/private')?.mode, 0o640);
      assert.equal(snap.find((e) => e.path === 'script.sh')?.mode, 0o755);
    }
  });

  it('diffTrees reports content, mode, missing, extra, type, target and mtime differences', async () => {
    const a = await makeTempDir('fam-h-a-');
    const b = await makeTempDir('fam-h-b-');
    await makeSampleTree(a);
    await run('rsync', ['-a', '--modify-window=-1', `${a}/`, `${b}/`]);
    assert.deepEqual(await diffTrees(a, b), []);

    // Same size, mtime restored: only the hash can tell.
    const plain = join(b, 'plain.txt');
    const st = await stat(plain);
    await writeFile(plain, 'HELLO\n');
    await utimes(plain, st.atime, st.mtime);
    await chmod(join(b, 'script.sh'), 0o644);
    await unlink(join(b, 'empty'));
    const diffs = await diffTrees(a, b);
    assert.deepEqual(diffs, ['missing: "empty" (file)', 'content: "plain.txt": 6 bytes sha1 f572d396fa vs 6 bytes sha1 a8eec30a5b', 'mode: "script.sh": 0755 vs 0644']);

    await rm(join(b, 'sub/deeper'), { recursive: true });
    await writeFile(join(b, 'sub/deeper'), 'now a file');
    await mkdir(join(b, 'new/dir'), { recursive: true });
    await rm(join(b, 'link'));
    await symlink('elsewhere', join(b, 'link'));
    await utimes(join(b, 'sub', WEIRD[0]!), 1_000_000_000, 1_000_000_000);
    const more = await diffTrees(a, b);
    assert.ok(more.includes('type: "sub/deeper": dir vs file (and 1 entry below it)'), more.join('\n'));
    assert.ok(more.includes('extra: "new" (dir) (and 1 entry below it)'), more.join('\n'));
    assert.ok(more.includes('target: "link": "sub/private" vs "elsewhere"'), more.join('\n'));
    assert.ok(
      more.some((d) => d.startsWith('mtime: "sub/with\\nnewline": ')),
      more.join('\n'),
    );

    await assert.rejects(assertTreesEqual(a, b, 'label-x'), (err: Error) => {
      assert.equal(err.name, 'AssertionError');
      assert.match(err.message, /^label-x: tree .* \(\d+ differences\):\n {2}- /);
      return true;
    });
  });

  it('assertTreesEqual lists at most 20 differences', async () => {
    const a = await makeTempDir('fam-h-many-');
    const b = await makeTempDir('fam-h-many-');
    for (let i = 0; i < 30; i++) await writeFile(join(a, `f${String(i).padStart(2, '0')}`), '');
    await assert.rejects(assertTreesEqual(a, b), (err: Error) => {
      assert.equal(err.message.split('\n').filter((l) => l.startsWith('  - ')).length, 20);
      assert.match(err.message, /… and 10 more$/);
      return true;
    });
  });

  it('waitFor returns the first real value, and names what it waited for on timeout', async () => {
    let n = 0;
    assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
    let calls = 0;
    const v = await waitFor(
      () => {
        if (++calls < 2) throw new Error('not yet');
        return 'done';
      },
      { intervalMs: 1 },
    );
    assert.equal(v, 'done');
    const t0 = Date.now();
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 100, intervalMs: 10, what: 'the moon' }),
      /the moon/,
    );
    assert.ok(Date.now() - t0 < 1_000);
    await assert.rejects(
      waitFor(() => new Promise<never>(() => {}), { timeoutMs: 50, what: 'a hung call' }),
      /a hung call \(the last call never settled\)/,
    );
  });

  it('pause() freezes a host and resume() brings it back', async () => {
    const h = hosts[0]!;
    h.pause();
    try {
      assert.equal(await procState(h.pid), 'T');
      // The kernel still completes the TCP handshake; only the banner never comes.
      assert.equal(await banner(h.port, 300), false);
    } finally {
      h.resume();
    }
    assert.equal(await banner(h.port, 2_000), true);
    assert.equal(await sshEcho(h), 'ok\n');
  });

  it('restart() keeps the port and host key, so known_hosts stays valid', async () => {
    const h = hosts[1]!;
    const { port, pid, hostKeyFingerprint } = h;
    const before = await h.logins();
    await h.restart();
    assert.equal(h.port, port);
    assert.notEqual(h.pid, pid);
    assert.equal(h.hostKeyFingerprint, hostKeyFingerprint);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(await sshEcho(h), 'ok\n');
    assert.equal(await h.logins(), before + 1);
  });

  it('startSshd() accepts an existing client key', async () => {
    const h = await startSshd({ clientKey: { identityFile: hosts[0]!.identityFile } });
    try {
      assert.equal(h.identityFile, hosts[0]!.identityFile);
      assert.equal(await sshEcho(h), 'ok\n');
    } finally {
      await h.stop();
    }
  });

  it('stop() kills the daemon and its sessions, removes its dir, and is idempotent', async () => {
    const h = hosts[1]!;
    // A live session must not outlive stop(): a stopped host has to look down to connected clients.
    const session = execFile('ssh', [...sshOptions(h), `${h.user}@127.0.0.1`, 'echo started; exec sleep 30']);
    const sessionEnded = new Promise<void>((resolve) => session.once('exit', () => resolve()));
    await new Promise<void>((resolve) => session.stdout!.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    const logins = await h.logins();
    const pid = h.pid;
    const t0 = Date.now();
    await h.stop();
    assert.ok(Date.now() - t0 < 2_000, `stop() took ${Date.now() - t0} ms`);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    await waitFor(() => session.exitCode !== null || session.signalCode !== null, { timeoutMs: 5_000, what: 'the ssh session to end' });
    await sessionEnded;
    await assert.rejects(stat(h.dir), { code: 'ENOENT' });
    await h.stop();
    assert.equal(await h.logins(), logins);
    await assert.rejects(h.restart(), /after stop/);
    // The other host shares the client key and known_hosts: they must survive.
    assert.equal(await sshEcho(hosts[0]!), 'ok\n');
  });
});

/**
 * SshConnection against real sshd hosts: host-key policy (plain, hashed, changed, revoked), auth by
 * identity file and by a real ssh-agent, refused auth, and one login reused by many exec channels.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SshConnection, type SshSettings } from '../../src/transport/ssh.js';
import { isMirrorError } from '../../src/errors.js';
import { startSshdHosts, stopAll, type SshdHost } from '../helpers/sshd.js';
import { cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';

const run = promisify(execFile);
let a: SshdHost;
let b: SshdHost;
let dir: string;

function settings(host: SshdHost, over: Partial<SshSettings> = {}): SshSettings {
  return {
    host: '127.0.0.1',
    port: host.port,
    user: host.user,
    identityFiles: [host.identityFile],
    passphrase: undefined,
    agent: undefined,
    knownHostsFiles: [host.knownHostsFile],
    hostKeyPolicy: 'yes',
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 1000,
    keepaliveCountMax: 3,
    ...over,
  };
}

async function execText(conn: SshConnection, command: string): Promise<string> {
  const ch = await conn.exec(command);
  let out = '';
  ch.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => ch.on('close', resolve));
  return out;
}

async function refusal(s: SshSettings): Promise<{ code: string; message: string }> {
  const conn = new SshConnection(s);
  try {
    await conn.connect();
  } catch (e) {
    assert.ok(isMirrorError(e), String(e));
    return { code: e.code, message: e.message };
  } finally {
    await conn.close();
  }
  assert.fail('the connection was accepted');
}

describe('SshConnection against real sshd', () => {
  before(async () => {
    [a, b] = (await startSshdHosts(2)) as [SshdHost, SshdHost];
    dir = await makeTempDir('fam-ssh-test-');
  });
  after(async () => {
    await stopAll();
    await cleanupTempDirs();
  });

  it('reuses one login for many exec channels, also in parallel', async () => {
    const conn = new SshConnection(settings(a));
    try {
      const before = await a.logins();
      const outs = await Promise.all([1, 2, 3, 4, 5].map((i) => execText(conn, `echo ${i}`)));
      assert.deepEqual(
        outs.map((o) => o.trim()),
        ['1', '2', '3', '4', '5'],
      );
      assert.equal(await execText(conn, 'echo again'), 'again\n');
      assert.equal(conn.logins, 1);
      assert.equal((await a.logins()) - before, 1);
    } finally {
      await conn.close();
    }
  });

  it('accepts a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const hashed = join(dir, 'hashed_known_hosts');
    await copyFile(a.knownHostsFile, hashed);
    await run('ssh-keygen', ['-H', '-f', hashed]);
    assert.match(await readFile(hashed, 'utf8'), /^\|1\|/m);
    const conn = new SshConnection(settings(a, { knownHostsFiles: [hashed] }));
    try {
      assert.equal(await execText(conn, 'echo hashed'), 'hashed\n');
    } finally {
      await conn.close();
    }
  });

  it('refuses a changed host key, naming both fingerprints', async () => {
    const lines = (await readFile(a.knownHostsFile, 'utf8')).split('\n');
    const bKey = lines
      .find((l) => l.startsWith(`[127.0.0.1]:${b.port} `))!
      .split(' ')
      .slice(1)
      .join(' ');
    const wrong = join(dir, 'wrong_known_hosts');
    await writeFile(wrong, `[127.0.0.1]:${a.port} ${bKey}\n`);
    const r = await refusal(settings(a, { knownHostsFiles: [wrong] }));
    assert.equal(r.code, 'ERR_HOST_KEY_CHANGED');
    assert.ok(r.message.includes(a.hostKeyFingerprint), r.message);
    assert.ok(r.message.includes(b.hostKeyFingerprint), r.message);
    assert.match(r.message, /ssh-keygen -R/);
  });

  it('refuses a key marked @revoked', async () => {
    const aKey = (await readFile(a.knownHostsFile, 'utf8'))
      .split('\n')
      .find((l) => l.startsWith(`[127.0.0.1]:${a.port} `))!
      .split(' ')
      .slice(1)
      .join(' ');
    const revoked = join(dir, 'revoked_known_hosts');
    await writeFile(revoked, `@revoked * ${aKey}\n[127.0.0.1]:${a.port} ${aKey}\n`);
    assert.equal((await refusal(settings(a, { knownHostsFiles: [revoked] }))).code, 'ERR_HOST_KEY_REVOKED');
  });

  it('refuses auth with a key the host does not know', async () => {
    const stranger = join(dir, 'stranger');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const r = await refusal(settings(a, { identityFiles: [stranger] }));
    assert.equal(r.code, 'ERR_SSH_AUTH');
    assert.ok(r.message.includes(stranger), r.message);
  });

  it('says so when no identity is available at all', async () => {
    const r = await refusal(settings(a, { identityFiles: [join(dir, 'does-not-exist')] }));
    assert.equal(r.code, 'ERR_SSH_NO_IDENTITY');
  });

  it('accept-new trusts a first-seen host, records its key, and later refuses a changed one', async () => {
    const fresh = join(dir, 'tofu', 'known_hosts');
    const warnings: string[] = [];
    const conn = new SshConnection(settings(a, { knownHostsFiles: [fresh], hostKeyPolicy: 'accept-new', onWarning: (m) => warnings.push(m) }));
    try {
      assert.equal(await execText(conn, 'echo tofu'), 'tofu\n');
    } finally {
      await conn.close();
    }
    assert.match(await readFile(fresh, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${a.port} ssh-ed25519 `));
    assert.ok(warnings[0]?.includes(a.hostKeyFingerprint), warnings.join());
    // Now recorded: plain 'yes' accepts it, and host b posing on a's name is refused as changed.
    const again = new SshConnection(settings(a, { knownHostsFiles: [fresh] }));
    try {
      await again.connect();
    } finally {
      await again.close();
    }
    const posing = join(dir, 'posing_known_hosts');
    const bLine = (await readFile(b.knownHostsFile, 'utf8')).split('\n').find((l) => l.startsWith(`[127.0.0.1]:${b.port} `))!;
    await writeFile(posing, `${bLine.replace(`[127.0.0.1]:${b.port}`, `[127.0.0.1]:${a.port}`)}\n`);
    assert.equal((await refusal(settings(a, { knownHostsFiles: [posing], hostKeyPolicy: 'accept-new' }))).code, 'ERR_HOST_KEY_CHANGED');
  });

  it('strictHostKeyChecking no accepts an unknown key, with a warning naming it', async () => {
    const empty = join(dir, 'empty_known_hosts');
    await writeFile(empty, '');
    const warnings: string[] = [];
    const conn = new SshConnection(settings(a, { knownHostsFiles: [empty], hostKeyPolicy: 'no', onWarning: (m) => warnings.push(m) }));
    try {
      assert.equal(await execText(conn, 'echo insecure'), 'insecure\n');
    } finally {
      await conn.close();
    }
    assert.match(warnings[0] ?? '', /NOT verified/);
    assert.equal(await readFile(empty, 'utf8'), '', 'policy no records nothing');
  });

  // The key was accepted (first seen under accept-new, unchecked under no): what failed is the login,
  // and the advice must be about keys in authorized_keys, not about known_hosts.
  for (const policy of ['accept-new', 'no'] as const) {
    it(`under ${policy}, a refused login is ERR_SSH_AUTH, not a host-key error`, async () => {
      const stranger = join(dir, `stranger-${policy}`);
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
      const kh = join(dir, `auth-${policy}`, 'known_hosts');
      const r = await refusal(settings(a, { identityFiles: [stranger], knownHostsFiles: [kh], hostKeyPolicy: policy, onWarning: () => {} }));
      assert.equal(r.code, 'ERR_SSH_AUTH', r.message);
      assert.ok(r.message.includes(stranger), r.message);
      assert.doesNotMatch(r.message, /known_hosts|ssh-keyscan|host key/i);
    });
  }

  it('authenticates through a real ssh-agent', async () => {
    const sock = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await waitFor(
        async () =>
          await run('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).then(
            () => true,
            (e: { code?: number }) => e.code === 1,
          ),
        { what: 'ssh-agent to listen', timeoutMs: 10_000 },
      );
      await run('ssh-add', [a.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      const conn = new SshConnection(settings(a, { identityFiles: [], agent: sock }));
      try {
        assert.equal(await execText(conn, 'echo via-agent'), 'via-agent\n');
      } finally {
        await conn.close();
      }
    } finally {
      agent.kill('SIGTERM');
    }
  });
});

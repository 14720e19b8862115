/**
 * The OpenSSH client configuration against real sshd hosts on 127.0.0.1: a replica named by a `Host`
 * alias whose HostName, Port, User, IdentityFile and UserKnownHostsFile come from a config file; two
 * replicas behind a ProxyJump bastion (the bastion's own log shows the forwards, and it is logged in
 * to once for both); a bastion whose host key is unknown, refused by name; a config file that does
 * not parse, named by file and line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror } from '../../src/mirror.js';
import { isMirrorError } from '../../src/errors.js';
import { normalizeOptions } from '../../src/options.js';
import { ConnectionPool } from '../../src/transport/pool.js';
import { SshTransport } from '../../src/transport/ssh-transport.js';
import type { SshReplica } from '../../src/types.js';
import { startSshd, stopAll, type SshdHost } from '../helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

let target: SshdHost;
let bastion: SshdHost;
let dir: string;
/** known_hosts trusting both hosts. */
let bothKnown: string;

before(async () => {
  // The bastion logs at DEBUG1, where sshd names each direct-tcpip forward it opens.
  bastion = await startSshd({ extraConfig: ['LogLevel DEBUG1'] });
  target = await startSshd({ clientKey: { identityFile: bastion.identityFile } });
  dir = await makeTempDir('fam-sshcfg-e2e-');
  bothKnown = join(dir, 'known_hosts');
  await writeFile(bothKnown, `${bastion.knownHostsLine}\n${target.knownHostsLine}\n`);
});

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

async function tree(name: string): Promise<{ src: string; replica: string }> {
  const src = await makeTempDir(`fam-sshcfg-${name}-src-`);
  await writeFile(join(src, 'a.txt'), 'a\n');
  await writeFile(join(src, 'b file'), 'b\n');
  return { src, replica: await makeTempDir(`fam-sshcfg-${name}-dst-`) };
}

async function config(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** A transport for `alias` (port 22, no user: as `fam-mirror SRC alias:/path` gives it). */
function transport(alias: string, sshConfigFiles: string[]): SshTransport {
  const options = normalizeOptions({ source: '/srv/x', replicas: [`${alias}:/srv/x`], sshConfigFiles }, { cwd: '/', homeDir: dir, userName: 'nobody-here' });
  const replica: SshReplica = { kind: 'ssh', id: `${alias}:/srv/x`, host: alias, port: 22, user: undefined, path: '/srv/x' };
  return new SshTransport(replica, { options, pool: new ConnectionPool(), onWarning: () => {} });
}

async function refusal(t: SshTransport): Promise<{ code: string; message: string }> {
  try {
    await t.connect();
  } catch (e) {
    assert.ok(isMirrorError(e), String(e));
    return { code: e.code, message: e.message };
  } finally {
    await t.close();
  }
  assert.fail('the connection was accepted');
}

describe('ssh config against real sshd', () => {
  it('a Host alias gets HostName, Port, User, IdentityFile and UserKnownHostsFile from the config file', async () => {
    const file = await config(
      'alias.conf',
      `# the replica is named web2 only\nHost web2\n  HostName 127.0.0.1\n  Port ${target.port}\n  User ${target.user}\n  IdentityFile ${target.identityFile}\n  UserKnownHostsFile ${target.knownHostsFile}\n  SendEnv LANG\n`,
    );
    const { src, replica } = await tree('alias');
    const m = new Mirror({ source: src, replicas: [`web2:${replica}`], initMirror: true, sshConfigFiles: [file], homeDir: dir, reconcileIntervalSec: 0 });
    try {
      await m.start();
      await writeFile(join(src, 'later.txt'), 'later\n');
      await m.flush();
      await assertTreesEqual(src, replica);
    } finally {
      await m.close();
    }
  });

  it('ProxyJump: two replicas behind one bastion, reached through it with one bastion login', async () => {
    const file = await config(
      'jump.conf',
      [
        'Host web3 web4',
        '  HostName 127.0.0.1',
        `  Port ${target.port}`,
        '  ProxyJump jump',
        'Host jump',
        '  HostName 127.0.0.1',
        `  Port ${bastion.port}`,
        'Host *',
        `  User ${target.user}`,
        `  IdentityFile ${bastion.identityFile}`,
        `  UserKnownHostsFile ${bothKnown}`,
        '',
      ].join('\n'),
    );
    const a = await tree('jump-a');
    const b = await tree('jump-b');
    const bastionBefore = await bastion.logins();
    const forwardsBefore = (await forwards()).length;
    const m = new Mirror({ source: a.src, replicas: [`web3:${a.replica}`, `web4:${b.replica}`], initMirror: true, sshConfigFiles: [file], homeDir: dir, reconcileIntervalSec: 0 });
    try {
      await m.start();
      await writeFile(join(a.src, 'later.txt'), 'later\n');
      await m.flush();
      await assertTreesEqual(a.src, a.replica);
      await assertTreesEqual(a.src, b.replica);
    } finally {
      await m.close();
    }
    assert.equal((await bastion.logins()) - bastionBefore, 1, 'one login on the bastion for both replicas');
    const opened = (await forwards()).slice(forwardsBefore);
    assert.ok(opened.length >= 2, `the bastion forwarded both connections to the target: ${opened.join(' | ')}`);
    for (const line of opened) assert.match(line, new RegExp(`target 127\\.0\\.0\\.1 port ${target.port}\\b`));
  });

  it('a bastion whose host key is unknown is refused, and the error names the hop', async () => {
    const onlyTarget = join(dir, 'known_target');
    await writeFile(onlyTarget, `${target.knownHostsLine}\n`);
    const file = await config(
      'jump-unknown.conf',
      `Host web5\n  HostName 127.0.0.1\n  Port ${target.port}\n  ProxyJump ${target.user}@127.0.0.1:${bastion.port}\nHost *\n  User ${target.user}\n  IdentityFile ${bastion.identityFile}\n  UserKnownHostsFile ${onlyTarget}\n`,
    );
    const before = await target.logins();
    const { code, message } = await refusal(transport('web5', [file]));
    assert.equal(code, 'ERR_HOST_KEY_UNKNOWN');
    assert.match(
      message,
      new RegExp(`^ProxyJump hop 127\\.0\\.0\\.1 \\(${target.user}@127\\.0\\.0\\.1:${bastion.port}\\) on the way to web5: Host key of \\[127\\.0\\.0\\.1\\]:${bastion.port} is not known`),
    );
    assert.ok(message.includes(onlyTarget), 'names the known_hosts file in use');
    assert.equal(await target.logins(), before, 'the target was never reached');
  });

  it('a config file that does not parse is ERR_SSH_CONFIG naming the file and line', async () => {
    const file = await config('broken.conf', 'Host web6\n  HostName 127.0.0.1\n  IdentityFile "~/.ssh/unterminated\n');
    const { code, message } = await refusal(transport('web6', [file]));
    assert.equal(code, 'ERR_SSH_CONFIG');
    assert.ok(message.startsWith(`${file}:3:`), message);
  });
});

/** The bastion's log lines for direct-tcpip forwards. */
async function forwards(): Promise<string[]> {
  return (await readFile(bastion.logFile, 'utf8')).split('\n').filter((l) => /direct.tcpip/i.test(l) && /target/.test(l));
}

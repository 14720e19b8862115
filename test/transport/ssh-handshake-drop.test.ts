/**
 * A peer that drops the connection during the handshake: ssh2 then emits 'close' without an 'error'
 * (measured: a server that sends its banner and closes), so a connect that waited only for 'ready' or
 * 'error' never settled, and the replica's check and the mirror's close() hung with it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SshConnection } from '../../src/transport/ssh.js';
import { isMirrorError } from '../../src/errors.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

const servers: net.Server[] = [];
after(async () => {
  for (const s of servers) s.close();
  await cleanupTempDirs();
});

async function dropAfterBanner(): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.write('SSH-2.0-OpenSSH_9.9\r\n');
    setTimeout(() => s.end(), 50);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('a handshake the peer drops', () => {
  it('rejects with ERR_SSH_CONNECT at once, not after the connect timeout and not never', { timeout: 30_000 }, async () => {
    const port = await dropAfterBanner();
    const key = join(await makeTempDir('fam-drop-'), 'id_ed25519');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const conn = new SshConnection({
      host: '127.0.0.1',
      port,
      user: 'nobody',
      identityFiles: [key],
      passphrase: undefined,
      agent: undefined,
      knownHostsFiles: [],
      hostKeyPolicy: 'yes',
      connectTimeoutMs: 20_000,
      keepaliveIntervalMs: 5000,
      keepaliveCountMax: 3,
    });
    const started = Date.now();
    try {
      await assert.rejects(conn.connect(), (e) => isMirrorError(e, 'ERR_SSH_CONNECT') && /closed/.test(e.message));
      assert.ok(Date.now() - started < 10_000, `settled in ${Date.now() - started} ms`);
    } finally {
      await conn.close();
    }
  });
});

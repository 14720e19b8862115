/**
 * A remote command's exit status is never lost, however the server's messages arrive. Under load the
 * client reads sshd's channel-open success, the command's exit status and the channel close in one
 * chunk; ssh2 then emits the channel's 'exit' before a listener attached after the exec callback's
 * promise settles could hear it. Measured before the fix: the replica guard's refusal (exit 82 from the
 * remote command) then came through as rsync's "connection unexpectedly closed" (exit 255), a down
 * replica with ERR_RSYNC instead of a fenced one. Here a real sshd sits behind a link that delivers
 * its bytes in bursts, which makes that arrival order certain.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, isMirrorError } from '../../src/index.js';
import { SshConnection } from '../../src/transport/ssh.js';
import { FENCE_FILE } from '../../src/core/replica-guard.js';
import { startSshdHosts, stopAll, type SshdHost } from '../helpers/sshd.js';
import { cleanupTempDirs, makeTempDir, snapshotTree } from '../helpers/tree.js';

const servers: net.Server[] = [];
after(async () => {
  for (const s of servers) s.close();
  await stopAll();
  await cleanupTempDirs();
});

/** A TCP link to `port` that holds the server's bytes and hands them on every `everyMs`, in one write. */
async function burstyLink(port: number, everyMs: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    let held: Buffer[] = [];
    const timer = setInterval(() => {
      if (held.length === 0) return;
      client.write(Buffer.concat(held));
      held = [];
    }, everyMs);
    client.pipe(upstream);
    upstream.on('data', (d: Buffer) => held.push(d));
    const done = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('close', done);
    client.on('close', done);
    upstream.on('error', () => {});
    client.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

async function knownHostsFor(h: SshdHost, port: number): Promise<string> {
  const file = join(await makeTempDir('fam-bursty-kh-'), 'known_hosts');
  await writeFile(file, `${h.knownHostsLine.replace(/^\[127\.0\.0\.1\]:\d+/, `[127.0.0.1]:${port}`)}\n`);
  return file;
}

describe('exit statuses over a link that delivers in bursts', () => {
  it('every exit status of a short command arrives (SshConnection.exec)', { timeout: 60_000 }, async () => {
    const [h] = await startSshdHosts(1);
    const port = await burstyLink(h!.port, 150);
    const conn = new SshConnection({
      host: '127.0.0.1',
      port,
      user: h!.user,
      identityFiles: [h!.identityFile],
      passphrase: undefined,
      agent: undefined,
      knownHostsFiles: [await knownHostsFor(h!, port)],
      hostKeyPolicy: 'yes',
      connectTimeoutMs: 20_000,
      keepaliveIntervalMs: 5000,
      keepaliveCountMax: 3,
    });
    try {
      for (const code of [82, 0, 7]) {
        const ch = await conn.exec(`exit ${code}`);
        ch.resume();
        ch.stderr.resume();
        await new Promise((resolve) => ch.on('close', resolve));
        assert.equal(ch.exitStatus.code, code, `exit ${code}`);
      }
    } finally {
      await conn.close();
    }
  });

  it('a fenced replica behind it is refused as fenced (ERR_REPLICA_FENCED) at its first batch, never as an rsync failure', { timeout: 90_000 }, async () => {
    const [h] = await startSshdHosts(1);
    const port = await burstyLink(h!.port, 150);
    const src = await makeTempDir('fam-bursty-src-');
    const target = await makeTempDir('fam-bursty-t-');
    await writeFile(join(src, 'page.html'), 'from the master\n');
    await writeFile(join(target, FENCE_FILE), 'fenced by the test\n');
    const before = await snapshotTree(target);
    const codes: string[] = [];
    const mirror = new Mirror({
      source: src,
      replicas: [`ssh://${h!.user}@127.0.0.1:${port}${target}`],
      identityFiles: [h!.identityFile],
      knownHostsFiles: [await knownHostsFor(h!, port)],
      connectTimeoutMs: 20_000,
      retryMinMs: 100,
      retryMaxMs: 500,
    });
    mirror.on('error', () => {});
    mirror.on('replica-down', (e) => codes.push(e.error?.code ?? 'none'));
    try {
      await mirror.start();
      await writeFile(join(src, 'later.html'), 'a change\n');
      await assert.rejects(mirror.flush({ timeoutMs: 30_000 }), (e) => isMirrorError(e, 'ERR_REPLICA_FENCED'), `alerts: ${codes.join(', ')}`);
      assert.deepEqual(codes, ['ERR_REPLICA_FENCED'], 'the first and only alert is the fence');
      assert.deepEqual(await snapshotTree(target), before, 'nothing on the fenced replica changed');
    } finally {
      await mirror.close();
    }
  });
});

/**
 * examples/ are part of the product: the sample config is valid for the library's option checks,
 * and the local example runs as a user would run it (type-checking all of them is CI's typecheck).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOptions, type MirrorOptions } from '../src/options.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

const root = fileURLToPath(new URL('..', import.meta.url));
after(cleanupTempDirs);

describe('examples', () => {
  it('fam-mirror.json passes the option checks', async () => {
    const raw = JSON.parse(await readFile(join(root, 'examples/fam-mirror.json'), 'utf8')) as MirrorOptions;
    const o = normalizeOptions(raw, { cwd: '/', homeDir: '/root', userName: 'root' });
    assert.deepEqual(
      o.replicas.map((r) => r.id),
      ['web2:/var/www', 'web3:/var/www', 'deploy@standby:/srv/www'],
    );
  });

  it('fam-mirror.service runs the CLI with the config, reloads with SIGHUP and keeps state in /var/lib', async () => {
    const unit = await readFile(join(root, 'examples/fam-mirror.service'), 'utf8');
    for (const line of [
      'ExecStart=/usr/bin/fam-mirror --config /etc/fam-mirror.json',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'Restart=on-failure',
      'StateDirectory=fam-mirror',
      'Environment=XDG_STATE_HOME=/var/lib',
      'NoNewPrivileges=yes',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
  });

  it('local-mirror.ts mirrors a directory and stops on SIGINT', async () => {
    const tmp = await makeTempDir('fam-example-');
    const src = join(tmp, 'site');
    const dst = join(tmp, 'replica');
    await mkdir(src);
    await writeFile(join(src, 'index.html'), '<h1>example</h1>\n');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/local-mirror.ts'), src, dst], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor(() => /mirroring .* Ctrl-C to stop/.test(out), { what: 'the example to start', timeoutMs: 20_000 });
      await assertTreesEqual(src, dst, 'seeded by the example');
      await writeFile(join(src, 'news.html'), 'news\n');
      await waitFor(async () => (await readFile(join(dst, 'news.html'), 'utf8').catch(() => '')) === 'news\n', { what: 'news.html' });
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exit, 0, out);
  });
});

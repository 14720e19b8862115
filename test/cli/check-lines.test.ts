/**
 * The command's side of the start-up check, with the built CLI and two local replicas: one line per
 * replica as its check ends (ready with rsync's version, or failed with its code), the failed one
 * shown as such with its reason by `fam-mirror status`, and the healthy one mirroring meanwhile.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';

after(cleanupTempDirs);

function run(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))).finally(() => clearTimeout(timer));
  return { child, out: () => out, exit };
}

describe('fam-mirror: a line per replica as its start-up check ends', () => {
  it('ready (rsync version, path) or failed with its code; status shows failed with the reason; the healthy replica mirrors', async () => {
    const tmp = await makeTempDir('fam-cli-check-');
    const env = { XDG_STATE_HOME: join(tmp, 'xdg') };
    const src = join(tmp, 'src');
    const good = join(tmp, 'good');
    const bad = join(tmp, 'missing', 'bad');
    const state = join(tmp, 'state');
    await mkdir(src);
    await writeFile(join(src, 'a.txt'), 'a\n');
    const r = run(['--state-dir', state, src, good, bad], env);
    try {
      await waitFor(() => /: failed ERR_TARGET_MISSING /.test(r.out()) && /: ready \(rsync /.test(r.out()) && /watching/.test(r.out()), { timeoutMs: 10_000, what: 'both check lines, and watching' });
      assert.match(r.out(), new RegExp(`${good}: ready \\(rsync \\d+\\.\\d+[^,]*, ${good}, created\\)`));
      assert.match(r.out(), new RegExp(`${bad}: failed ERR_TARGET_MISSING Replica ${bad}: the target directory ${bad} does not exist`));
      await writeFile(join(src, 'b.txt'), 'b\n');
      // Without --init only the changes are sent: b.txt reaches the healthy replica.
      await waitFor(() => existsSync(join(good, 'b.txt')), { timeoutMs: 10_000, what: 'b.txt on the healthy replica' });
      const status = run(['status', '--state-dir', state], env);
      assert.equal(await status.exit, 0, status.out());
      assert.match(status.out(), new RegExp(`${bad} +failed +.*the target directory ${bad} does not exis`));
      assert.match(status.out(), new RegExp(`${good} +idle `));
      assert.deepEqual(await readdir(tmp).then((names) => names.includes('missing')), false, 'nothing made for the failed replica');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.out());
  });
});

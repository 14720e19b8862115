/**
 * runRsync with real rsync: it runs under `setpriv --pdeathsig` where that exists (so rsync dies with
 * the mirror: test/restart.test.ts kills a mirror mid-seed), and the wrapper changes nothing rsync
 * reports: its exit code, its output, and a missing rsync binary are what they are without it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMirrorError } from '../../src/errors.js';
import { dieWithParentPrefix, runRsync } from '../../src/transport/run-rsync.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('runRsync under setpriv --pdeathsig', () => {
  it('wraps rsync where setpriv exists (Linux with util-linux)', async () => {
    const prefix = await dieWithParentPrefix();
    if (process.platform === 'linux' && ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p))) {
      assert.deepEqual(prefix, ['setpriv', '--pdeathsig', 'KILL', '--']);
    } else assert.deepEqual(prefix, []);
  });

  it('a transfer, its itemized lines and its exit code come through unchanged', async () => {
    const src = await makeTempDir('fam-runrsync-src-');
    const dst = await makeTempDir('fam-runrsync-dst-');
    await writeFile(join(src, 'a.txt'), 'a\n');
    const ok = await runRsync('rsync', ['-a', '--out-format=%i %n', `${src}/`, `${dst}/`], undefined, undefined, { maxLines: 10 });
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.deepEqual(ok.lines, ['>f+++++++++ a.txt']);
    await assertTreesEqual(src, dst);
    const usage = await runRsync('rsync', ['--no-such-option'], undefined);
    assert.equal(usage.exitCode, 1);
    assert.match(usage.stderr, /no-such-option/);
  });

  it('a missing rsync binary is ERR_RSYNC_MISSING, wrapped or not', async () => {
    await assert.rejects(runRsync('/nonexistent/rsync', ['--version'], undefined), (err: unknown) => isMirrorError(err, 'ERR_RSYNC_MISSING') && /\/nonexistent\/rsync/.test(err.message));
  });
});

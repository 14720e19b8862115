/**
 * A replica that is down is said once: its retries failing the same way emit nothing more, and one
 * failing another way is news (a `problem` with the new code, once per change). Fake replicas
 * (test/helpers/fake-transport.ts); the CLI logs these problems as one line each.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type ProblemEvent } from '../src/index.js';
import { FakeReplicas } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

describe('a replica down: one problem per error, not per retry', () => {
  it('retries failing the same way add nothing; a new code is one problem; back up, the next failure is news again', async () => {
    const source = await makeTempDir('fam-still-src-');
    const base = await makeTempDir('fam-still-replicas-');
    await writeFile(join(source, 'a.txt'), 'a\n');
    const spec = join(base, 'r0');
    const fakes = new FakeReplicas();
    const mirror = new Mirror({ source, replicas: [spec], quietMs: 5, maxWaitMs: 50, retryMinMs: 10, retryMaxMs: 20, reconcileIntervalSec: 0 }, { transport: fakes.factory });
    const problems: ProblemEvent[] = [];
    mirror.on('problem', (p) => problems.push(p));
    mirror.on('error', () => {});
    try {
      await mirror.start();
      const fake = fakes.get(spec);
      fake.refuseConnect('ERR_SSH_CONNECT');
      await writeFile(join(source, 'b.txt'), 'b\n');
      await waitFor(() => fake.connects >= 5, { what: 'five refused connects', timeoutMs: 5000 });
      assert.deepEqual(
        problems.map((p) => p.code),
        ['ERR_SSH_CONNECT'],
      );
      fake.refuseConnect('ERR_CLOSED');
      const before = fake.connects;
      await waitFor(() => fake.connects >= before + 5, { what: 'five more, failing another way', timeoutMs: 5000 });
      assert.deepEqual(
        problems.map((p) => p.code),
        ['ERR_SSH_CONNECT', 'ERR_CLOSED'],
      );
    } finally {
      fakes.releaseAll();
      await mirror.close();
    }
  });
});

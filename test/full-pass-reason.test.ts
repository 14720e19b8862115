/**
 * Full passes say why they ran and what they did, on fake replicas (test/helpers/fake-transport.ts):
 * the `synced` event of a full pass carries its reason (seed, manual, replica-added, …), the entries
 * it changed and a sample, and status() keeps the last one per replica as `lastFullPass`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type SyncedEvent } from '../src/index.js';
import { FakeReplicas } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

describe('full passes say why they ran', () => {
  it('seed, then a manual reconcile, then a replica added: each synced event and lastFullPass names its reason', async () => {
    const source = await makeTempDir('fam-why-src-');
    const base = await makeTempDir('fam-why-replicas-');
    await writeFile(join(source, 'seed.txt'), 'seed\n');
    const specs = [join(base, 'r0'), join(base, 'r1')];
    const fakes = new FakeReplicas();
    const mirror = new Mirror({ source, replicas: [specs[0]!], initMirror: true, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200, reconcileIntervalSec: 0 }, { transport: fakes.factory });
    const full: SyncedEvent[] = [];
    mirror.on('synced', (e) => {
      if (e.full) full.push(e);
    });
    try {
      const before = Date.now();
      await mirror.start();
      assert.deepEqual(
        full.map((e) => [e.replica, e.reason]),
        [[specs[0], 'seed']],
      );
      assert.ok((full[0]!.changed ?? 0) >= 1, 'the seed changed the empty replica');
      const last = mirror.status()[0]!.lastFullPass;
      assert.equal(last?.reason, 'seed');
      assert.ok(last!.at >= before && last!.at <= Date.now());
      assert.ok(last!.sample.includes('seed.txt'), JSON.stringify(last));

      mirror.reconcile();
      await mirror.flush();
      await waitFor(() => full.length === 2, { what: 'the manual pass', timeoutMs: 5000 });
      assert.equal(full[1]!.reason, 'manual');
      assert.deepEqual(mirror.status()[0]!.lastFullPass?.repaired, 0, 'an in-step replica: nothing to repair');
      assert.deepEqual(mirror.status()[0]!.lastFullPass?.sample, []);

      await mirror.setReplicas(specs);
      await mirror.flush();
      await waitFor(() => full.length === 3, { what: 'the added replica seeded', timeoutMs: 5000 });
      assert.deepEqual([full[2]!.replica, full[2]!.reason], [specs[1], 'replica-added']);
      assert.equal(mirror.status()[0]!.lastFullPass?.reason, 'manual', 'the replica in step got no pass');
      assert.equal(mirror.status()[1]!.lastFullPass?.reason, 'replica-added');
    } finally {
      fakes.releaseAll();
      await mirror.close();
    }
  });
});

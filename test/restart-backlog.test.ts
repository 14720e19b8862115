/**
 * The master's own restart is honest, Mirror-level on fake replicas: a replica down at the stop is
 * listed after the restart with what it lacks (the count of journaled changes and the seq of the
 * oldest), in status() and as a 'restart-backlog' event, for as long as it lacks it; once it has
 * caught up the listing clears. A replica in step is not listed.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type MirrorOptions } from '../src/index.js';
import type { RestartBacklogEvent } from '../src/types.js';
import { FakeReplicas } from './helpers/fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

after(cleanupTempDirs);

describe('restart: the replicas behind are listed with what they lack until they have it', () => {
  it('a replica down at stop is listed (count, oldest seq) after the restart, while still down, and clears once caught up', async () => {
    const source = await makeTempDir('fam-rb-src-');
    const base = await makeTempDir('fam-rb-replicas-');
    const stateDir = await makeTempDir('fam-rb-state-');
    await writeFile(join(source, 'seed.txt'), 'seed\n');
    const specs = [join(base, 'r0'), join(base, 'r1')];
    const fakes = new FakeReplicas();
    const options: MirrorOptions = { source, replicas: specs, stateDir, initMirror: true, quietMs: 5, maxWaitMs: 50, retryMinMs: 20, retryMaxMs: 200 };
    const first = new Mirror(options, { transport: fakes.factory });
    first.on('error', () => {});
    let second: Mirror | undefined;
    try {
      await first.start();
      const startedAt = Date.now();
      fakes.get(specs[1]!).exitWith(255);
      await writeFile(join(source, 'a.html'), 'a\n');
      await first.flush({ healthyOnly: true });
      await writeFile(join(source, 'b.html'), 'b\n');
      await writeFile(join(source, 'c.html'), 'c\n');
      await first.flush({ healthyOnly: true });
      await first.close();
      assert.equal(fakes.get(specs[1]!).tree.has('a.html'), false, 'replica 1 stopped without the changes');

      // Restarted with replica 1 still away: it is listed, with what it lacks, while it is down.
      fakes.get(specs[1]!).refuseConnect('ERR_SSH_CONNECT');
      second = new Mirror({ ...options, initMirror: false }, { transport: fakes.factory });
      const events: RestartBacklogEvent[] = [];
      second.on('restart-backlog', (e) => events.push(e));
      second.on('error', () => {});
      await second.start();
      const listed = events.filter((e) => !e.cleared);
      assert.deepEqual(
        listed.map((e) => e.replica),
        [specs[1]],
        'only the replica behind is listed',
      );
      const owed = listed[0]!;
      assert.ok(owed.changes >= 3, `the three changes it lacks are counted (${owed.changes})`);
      assert.ok(owed.oldestSeq > 1 && owed.oldestSeq <= owed.upToSeq, JSON.stringify(owed));
      assert.ok(owed.oldestAt !== undefined && owed.oldestAt >= startedAt && owed.oldestAt <= Date.now(), `the oldest change's time is journaled (${owed.oldestAt})`);
      await waitFor(() => second!.status()[1]!.state === 'down', { timeoutMs: 5000, what: 'replica 1 down' });
      assert.deepEqual(second.status()[1]!.restartBacklog, { changes: owed.changes, oldestSeq: owed.oldestSeq, upToSeq: owed.upToSeq, oldestAt: owed.oldestAt }, 'status lists it while it is down');
      assert.equal(second.status()[0]!.restartBacklog, undefined, 'the replica in step is not listed');

      fakes.get(specs[1]!).heal();
      assert.equal((await second.flush()).complete, true);
      for (const p of ['a.html', 'b.html', 'c.html']) assert.ok(fakes.get(specs[1]!).tree.has(p), `${p} caught up`);
      assert.equal(second.status()[1]!.restartBacklog, undefined, 'cleared once it has what it lacked');
      assert.deepEqual(
        events.filter((e) => e.cleared).map((e) => [e.replica, e.changes]),
        [[specs[1], owed.changes]],
      );
    } finally {
      fakes.releaseAll();
      await first.close();
      await second?.close();
    }
  });
});

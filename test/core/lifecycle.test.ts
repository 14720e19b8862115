/**
 * Every public method of Mirror has a defined answer in every phase: the table, cell by cell, and
 * the same answers observed on a real Mirror (local replica) driven into each phase, including a
 * close() that lands while start() is still under way.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, isMirrorError } from '../../src/index.js';
import { answerFor, LIFECYCLE, type Phase, type PublicMethod } from '../../src/core/lifecycle.js';
import { listRoot, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

const EXPECTED: Record<PublicMethod, Record<Phase, string>> = {
  start: { new: 'run', starting: 'ERR_STARTED', running: 'ERR_STARTED', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  flush: { new: 'ERR_NOT_STARTED', starting: 'wait', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  setReplicas: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  reconfigure: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  reconcile: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  verify: { new: 'run', starting: 'run', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  status: { new: 'run', starting: 'run', running: 'run', closing: 'run', closed: 'run' },
  close: { new: 'run', starting: 'run', running: 'run', closing: 'wait', closed: 'noop' },
};

describe('lifecycle table', () => {
  for (const [method, row] of Object.entries(EXPECTED) as Array<[PublicMethod, Record<Phase, string>]>) {
    for (const [phase, want] of Object.entries(row) as Array<[Phase, string]>) {
      it(`${method} in ${phase} → ${want}`, () => {
        assert.equal(LIFECYCLE[method][phase], want);
        if (want.startsWith('ERR_')) {
          assert.throws(
            () => answerFor(method, phase),
            (e: unknown) => isMirrorError(e) && e.code === want && e.message.includes(`${method}()`),
          );
        } else assert.equal(answerFor(method, phase), want);
      });
    }
  }
});

async function rig(files = 3) {
  const src = await makeTempDir('fam-life-src-');
  const dst = await makeTempDir('fam-life-dst-');
  for (let i = 0; i < files; i++) await writeFile(join(src, `f${i}`), `${i}\n`);
  return { src, dst, mirror: new Mirror({ source: src, replicas: [dst], initMirror: true }) };
}

const code = (e: unknown) => (isMirrorError(e) ? e.code : String(e));

describe('a real Mirror in each phase', () => {
  it('new: flush, reconcile and setReplicas say ERR_NOT_STARTED; status is empty; close works', async () => {
    const { mirror, dst } = await rig();
    await assert.rejects(mirror.flush(), (e) => code(e) === 'ERR_NOT_STARTED');
    assert.throws(
      () => mirror.reconcile(),
      (e) => code(e) === 'ERR_NOT_STARTED',
    );
    await assert.rejects(mirror.setReplicas([]), (e) => code(e) === 'ERR_NOT_STARTED');
    await assert.rejects(mirror.reconfigure({ source: '/nonexistent', replicas: [] }), (e) => code(e) === 'ERR_NOT_STARTED');
    assert.deepEqual(mirror.status(), []);
    await mirror.close();
    await assert.rejects(mirror.start(), (e) => code(e) === 'ERR_CLOSED');
    assert.deepEqual(await readdir(dst), []);
  });

  it('close() during start(): start rejects ERR_CLOSED, nothing is watched or sent, status says closed', async () => {
    // Every await of start() is a place a close() can land: try each of the first few ticks.
    for (let ticks = 0; ticks < 25; ticks++) {
      const { mirror, src, dst } = await rig();
      const started = mirror.start();
      for (let i = 0; i < ticks; i++) await new Promise((r) => setImmediate(r));
      const closed = mirror.close();
      const outcome = await started.then(
        () => 'started',
        (e: unknown) => code(e),
      );
      await closed;
      // A start that finished before the close is a normal start then close; otherwise ERR_CLOSED.
      assert.ok(outcome === 'started' || outcome === 'ERR_CLOSED', `tick ${ticks}: ${outcome}`);
      for (const s of mirror.status()) assert.equal(s.state, 'closed', `tick ${ticks}`);
      await assert.rejects(mirror.flush(), (e) => code(e) === 'ERR_CLOSED');
      // Nothing is sent after the close: a new file does not reach the replica in the time a
      // running mirror takes to send one (tens of ms).
      const before = await readdir(dst);
      await writeFile(join(src, 'after-close'), 'x\n');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await readdir(dst), before, `tick ${ticks}: nothing after close`);
    }
  });

  it('flush() during start() waits for the start, then answers for every change', async () => {
    const { mirror, src, dst } = await rig(20);
    const started = mirror.start();
    const flushed = mirror.flush();
    await started;
    const r = await flushed;
    assert.equal(r.complete, true);
    assert.equal((await listRoot(dst)).length, (await readdir(src)).length);
    await assert.rejects(mirror.start(), (e) => code(e) === 'ERR_STARTED');
    await Promise.all([mirror.close(), mirror.close()]);
    await mirror.close();
    await assert.rejects(mirror.verify(), (e) => code(e) === 'ERR_CLOSED');
  });
});

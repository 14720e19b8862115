/**
 * The fake transport itself: it applies what the batch runner's argv asks for against the real
 * source and prints rsync's itemized lines, and each scripted failure does what the real one does.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMirrorError } from '../../src/errors.js';
import { buildRsyncCalls } from '../../src/rsync/args.js';
import { emptyTally, problemPaths, tallyItem } from '../../src/rsync/output.js';
import type { Plan } from '../../src/core/plan.js';
import { FakeReplicas, type FakeTransport } from './fake-transport.js';
import { cleanupTempDirs, makeTempDir, waitFor } from './tree.js';

after(cleanupTempDirs);

async function send(fake: FakeTransport, source: string, plan: Exclude<Plan, { kind: 'none' }>) {
  const tally = emptyTally();
  let last: Awaited<ReturnType<FakeTransport['rsync']>> | undefined;
  for (const call of buildRsyncCalls(plan, fake.target, { source, excludeFile: undefined, timeoutSec: 30 })) {
    last = await fake.rsync(call.args, call.stdin, { maxLines: 100, onLine: (l) => tallyItem(tally, l) });
  }
  return { run: last!, tally };
}

async function rig() {
  const source = await makeTempDir('fam-fake-src-');
  await mkdir(join(source, 'd', 'e'), { recursive: true });
  await writeFile(join(source, 'd', 'e', 'f'), 'f\n');
  await writeFile(join(source, 'a'), 'aaa\n');
  const fakes = new FakeReplicas();
  return { source, fakes, fake: fakes.get('/fake/r1') };
}

describe('FakeTransport', () => {
  it('a full pass brings the whole tree, itemized; a second one finds nothing to do', async () => {
    const { source, fake } = await rig();
    const { run, tally } = await send(fake, source, { kind: 'full' });
    assert.equal(run.exitCode, 0);
    assert.deepEqual([...fake.tree.keys()].sort(), ['a', 'd', 'd/e', 'd/e/f']);
    assert.deepEqual([tally.files, tally.bytes], [2, 6]);
    assert.ok(run.lines!.includes('cd+++++++++ 0 d/'), String(run.lines));
    assert.equal(fake.fullPasses().length, 1);
    const again = await send(fake, source, { kind: 'full' });
    assert.deepEqual(again.run.lines, []);
  });

  it('listed paths: new, changed and gone; a gone directory takes its subtree', async () => {
    const { source, fake } = await rig();
    await send(fake, source, { kind: 'full' });
    await writeFile(join(source, 'new\nline'), 'n\n');
    await writeFile(join(source, 'a'), 'longer now\n');
    await rm(join(source, 'd'), { recursive: true });
    const { run, tally } = await send(fake, source, { kind: 'paths', paths: ['a', 'd', 'new\nline'], deleted: 1 });
    assert.equal(run.exitCode, 0);
    assert.deepEqual([...fake.tree.keys()].sort(), ['a', 'new\nline']);
    assert.deepEqual([tally.files, tally.deleted], [2, 3]);
    assert.ok(run.lines!.includes('>f+++++++++ 2 new\\#012line'), String(run.lines));
    assert.deepEqual(fake.calls.at(-1)!.paths, ['a', 'd', 'new\nline']);
    assert.ok(fake.received.has('d') && fake.received.has('new\nline'));
  });

  it('scripted: exit codes, named problem paths, a refused connect, a hold until released', async () => {
    const { source, fake } = await rig();
    fake.exitWith(255);
    assert.equal((await send(fake, source, { kind: 'full' })).run.exitCode, 255);
    assert.equal(fake.tree.size, 0, 'nothing applied');
    fake.heal().exitWith(23, ['d/e/f']);
    const partial = await send(fake, source, { kind: 'paths', paths: ['a', 'd'], deleted: 0 });
    assert.equal(partial.run.exitCode, 23);
    assert.deepEqual(problemPaths(partial.run.stderr, source, fake.replica.path), ['d/e/f']);
    assert.deepEqual([...fake.tree.keys()].sort(), ['a', 'd', 'd/e'], 'the rest is applied');
    assert.equal((await send(fake, source, { kind: 'paths', paths: ['a'], deleted: 0 })).run.exitCode, 0, 'a call not touching the problem succeeds');
    fake.heal().refuseConnect('ERR_HOST_KEY_CHANGED');
    await assert.rejects(fake.connect(), (e: unknown) => isMirrorError(e, 'ERR_HOST_KEY_CHANGED'));
    fake.heal().hold();
    let done = false;
    const held = send(fake, source, { kind: 'full' }).then((r) => {
      done = true;
      return r;
    });
    await waitFor(() => fake.waiting === 1, { timeoutMs: 2000, what: 'the call to be held' });
    assert.equal(done, false);
    fake.release();
    assert.equal((await held).run.exitCode, 0);
    assert.ok(fake.tree.has('d/e/f'));
  });

  it('a dry run reports and changes nothing; moves follow the guard', async () => {
    const { source, fake } = await rig();
    const [call] = buildRsyncCalls({ kind: 'full' }, fake.target, { source, excludeFile: undefined, timeoutSec: 30 });
    const dry = await fake.rsync(['--dry-run', ...call!.args], undefined, { maxLines: 10 });
    assert.equal(dry.lines!.length, 4);
    assert.equal(fake.tree.size, 0);
    await send(fake, source, { kind: 'full' });
    await fake.move([
      { from: 'd', to: 'moved' },
      { from: 'a', to: 'b' },
    ]);
    assert.deepEqual([...fake.tree.keys()].sort(), ['a', 'moved', 'moved/e', 'moved/e/f']);
  });
});

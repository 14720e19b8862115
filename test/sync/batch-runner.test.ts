/**
 * The batch runner against real rsync on a local replica, with the tree changed between the plan and
 * the rsync run (through the `limit` hook, which runs right before each rsync): a path that changes
 * type under rsync's feet is named by it (exit 23, "Not a directory"), yet it is no problem of the
 * replica: a second look settles it in the same batch.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createdItem } from '../../src/rsync/output.js';
import { localExecutor } from '../helpers/executor.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('batch runner: partial exits', () => {
  it('a path that changes type while rsync runs is settled by a second look, not kept as a problem', async () => {
    const source = await makeTempDir('fam-exec2-src-');
    const replica = await makeTempDir('fam-exec2-dst-');
    await mkdir(join(source, 'a'));
    await writeFile(join(source, 'a', 'b'), 'b\n');
    await writeFile(join(source, 'c'), 'c\n');
    let calls = 0;
    const problems: string[] = [];
    const execute = localExecutor(source, replica, {
      limit: async (fn) => {
        // Between the plan (a is a directory) and the first rsync: a becomes a file.
        if (calls++ === 0) {
          await rm(join(source, 'a'), { recursive: true });
          await writeFile(join(source, 'a'), 'now a file\n');
        }
        return await fn();
      },
      onProblem: (p) => problems.push(p.path ?? ''),
    });
    const outcome = await execute({
      entries: [
        ['a/b', 1],
        ['c', 1],
      ],
      fullSeq: undefined,
    });
    assert.equal(outcome.verdict, 'ok', `${outcome.error?.message} problems ${outcome.problems}`);
    assert.ok(calls >= 2, 'rsync ran again');
    await assertTreesEqual(source, replica, 'after the second look');
  });
});

describe('createdItem (itemized lines of entries rsync created)', () => {
  const rows: Array<[string, string | undefined]> = [
    ['>f+++++++++ 12 a/b', 'a/b'],
    ['cd+++++++++ 0 a/dir/', 'a/dir'],
    ['>f+++++++++ 3 new\\#012line', 'new\nline'],
    ['>f+++++++++ 3 ünï/x y', 'ünï/x y'],
    ['>f.st...... 12 a/b', undefined],
    ['*deleting   0 a/b', undefined],
    ['cL+++++++++ 0 l -> t', undefined],
    ['cd+++++++++ 0 ./', undefined],
  ];
  for (const [line, want] of rows) it(JSON.stringify(line), () => assert.equal(createdItem(line), want));
});

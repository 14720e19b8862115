/**
 * The guard memory's file format (sync/guard-memory.ts): what it decodes, and that anything damaged,
 * or written for another replica, is ignored rather than trusted.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeGuardMemo, encodeGuardMemo, guardMemoryFile } from '../../src/sync/guard-memory.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('guard memory format', () => {
  const id = 'web2:/var/www';
  const good = encodeGuardMemo({ seeded: true, mount: false }, id);
  const rows: Array<{ name: string; text: string; replica: string; want: ReturnType<typeof decodeGuardMemo> }> = [
    { name: 'seeded, not a mount', text: good, replica: id, want: { seeded: true, mount: false } },
    { name: 'mount only', text: encodeGuardMemo({ seeded: false, mount: true }, id), replica: id, want: { seeded: false, mount: true } },
    { name: 'another replica’s file', text: good, replica: 'web3:/var/www', want: undefined },
    { name: 'a flipped bit', text: good.replace('mount 0', 'mount 1'), replica: id, want: undefined },
    { name: 'cut short', text: good.slice(0, -5), replica: id, want: undefined },
    { name: 'empty', text: '', replica: id, want: undefined },
    { name: 'a name with a newline does not fit the format', text: encodeGuardMemo({ seeded: true, mount: true }, 'a\nb'), replica: 'a\nb', want: undefined },
  ];
  for (const r of rows) it(r.name, () => assert.deepEqual(decodeGuardMemo(r.text, r.replica), r.want));
});

describe('guard memory file', () => {
  it('remembers across instances, writes 0600 under guard/, and recalls nothing from a damaged file', async () => {
    const dir = await makeTempDir('fam-guard-mem-');
    const a = guardMemoryFile(dir, 'r1');
    assert.equal(a.recall(), undefined);
    a.remember({ seeded: true, mount: true });
    assert.deepEqual(guardMemoryFile(dir, 'r1').recall(), { seeded: true, mount: true });
    assert.equal(guardMemoryFile(dir, 'r2').recall(), undefined, 'per replica');
    assert.deepEqual(await readdir(join(dir, 'guard')), [a.file.split('/').pop()]);
    assert.equal((await stat(a.file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'guard'))).mode & 0o777, 0o700);
    await writeFile(a.file, 'garbage\n');
    assert.equal(a.recall(), undefined);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rebaseSnapshot } from '../../src/watch/snapshot-file.js';

const entry = (p: string, mtime: number, dir: 0 | 1) => `${Buffer.byteLength(p)}${p}${mtime} ${dir}\n`;

describe('rebaseSnapshot', () => {
  const rows: Array<[string, string[], string, string, string[]]> = [
    ['the root and entries below it', ['/srv/www', '/srv/www/a', '/srv/www/a/b c'], '/srv/www', '/tmp/x/a1/www', ['/tmp/x/a1/www', '/tmp/x/a1/www/a', '/tmp/x/a1/www/a/b c']],
    ['a sibling that shares the prefix is not moved', ['/srv/www2/x'], '/srv/www', '/a/www', ['/srv/www2/x']],
    ['names with newlines, digits and non-ASCII', ['/r/1\n2', '/r/ünï/9'], '/r', '/longer/root', ['/longer/root/1\n2', '/longer/root/ünï/9']],
    ['a trailing slash on either side', ['/r/x'], '/r/', '/s/', ['/s/x']],
    ['an empty snapshot', [], '/r', '/s', []],
  ];
  for (const [name, paths, from, to, want] of rows) {
    it(name, () => {
      const input = Buffer.from(`${paths.length}\n${paths.map((p, i) => entry(p, 1000 + i, (i % 2) as 0 | 1)).join('')}`);
      const out = rebaseSnapshot(input, from, to).toString();
      assert.equal(out, `${want.length}\n${want.map((p, i) => entry(p, 1000 + i, (i % 2) as 0 | 1)).join('')}`);
    });
  }
  it('refuses a cut or foreign file', () => {
    assert.throws(() => rebaseSnapshot(Buffer.from('2\n4/r/a1 0\n'), '/r', '/s'), /cut|no end/);
    assert.throws(() => rebaseSnapshot(Buffer.from('garbage'), '/r', '/s'), /not a snapshot/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../../src/core/coalesce.js';
import { compileExcludes } from '../../src/core/filter.js';
import { compareAsTree, coverOf, planBatch, type Plan, type Probe } from '../../src/core/plan.js';
import { prng } from '../helpers/prng.js';

/** Probe rows: `present` exists; `[path, topmostGone]` is gone and listed as its topmost gone ancestor. */
function probes(present: string[], gone: Array<[string, string]> = []): Map<string, Probe> {
  const map = new Map<string, Probe>();
  for (const p of present) map.set(p, { listAs: p, exists: true });
  for (const [p, listAs] of gone) map.set(p, { listAs, exists: false });
  return map;
}

function batchOf(paths: string[], fullSeq?: number): Batch {
  return { entries: paths.map((p, i) => [p, i + 1]), fullSeq };
}

describe('planBatch', () => {
  const rows: Array<{ name: string; batch: Batch; probes: Map<string, Probe>; want: Plan }> = [
    { name: 'empty batch', batch: batchOf([]), probes: probes([]), want: { kind: 'none' } },
    { name: 'present paths are listed sorted', batch: batchOf(['b', 'a/x']), probes: probes(['b', 'a/x']), want: { kind: 'paths', paths: ['a/x', 'b'], deleted: 0 } },
    { name: 'a gone path is listed as a deletion', batch: batchOf(['a', 'b']), probes: probes(['a'], [['b', 'b']]), want: { kind: 'paths', paths: ['a', 'b'], deleted: 1 } },
    { name: 'a gone path becomes its topmost gone ancestor', batch: batchOf(['a/b/c']), probes: probes([], [['a/b/c', 'a']]), want: { kind: 'paths', paths: ['a'], deleted: 1 } },
    {
      name: 'gone paths sharing an ancestor are listed once',
      batch: batchOf(['a/b/c', 'a/d', 'a']),
      probes: probes(
        [],
        [
          ['a/b/c', 'a'],
          ['a/d', 'a'],
          ['a', 'a'],
        ],
      ),
      want: { kind: 'paths', paths: ['a'], deleted: 1 },
    },
    {
      name: 'descendants of a listed directory are dropped',
      batch: batchOf(['d/x', 'd', 'd/y/z', 'e']),
      probes: probes(['d/x', 'd', 'd/y/z', 'e']),
      want: { kind: 'paths', paths: ['d', 'e'], deleted: 0 },
    },
    { name: 'a gone path below a present listed directory is dropped', batch: batchOf(['d', 'd/old']), probes: probes(['d'], [['d/old', 'd/old']]), want: { kind: 'paths', paths: ['d'], deleted: 0 } },
    { name: 'all entries covered: the topmost is still listed', batch: batchOf(['a/b/c', 'a/b', 'a']), probes: probes(['a/b/c', 'a/b', 'a']), want: { kind: 'paths', paths: ['a'], deleted: 0 } },
    {
      name: 'a sibling named like a prefix is not a descendant',
      batch: batchOf(['a', 'ab', 'a-b', 'a.b/c']),
      probes: probes(['a', 'ab', 'a-b', 'a.b/c']),
      want: { kind: 'paths', paths: ['a', 'a-b', 'a.b/c', 'ab'], deleted: 0 },
    },
    { name: 'a path without a probe is treated as gone', batch: batchOf(['x']), probes: probes([]), want: { kind: 'paths', paths: ['x'], deleted: 1 } },
    { name: 'a present and a gone entry listed as one path: present wins', batch: batchOf(['a', 'a/b']), probes: probes(['a'], [['a/b', 'a']]), want: { kind: 'paths', paths: ['a'], deleted: 0 } },
    { name: "a gone path listed as '' (the root) becomes a full pass", batch: batchOf(['a/b', 'c']), probes: probes(['c'], [['a/b', '']]), want: { kind: 'full' } },
    { name: 'a full request wins over paths', batch: batchOf(['a', 'b'], 1), probes: probes(['a', 'b']), want: { kind: 'full' } },
    { name: 'a full request alone', batch: batchOf([], 3), probes: probes([]), want: { kind: 'full' } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(planBatch(row.batch, row.probes), row.want);
    });
  }
});

/** Typed probe rows, as the real probe gives them: `file:`, `dir:`, `link:` (a symlink), `gone:`. */
function typed(...specs: string[]): Map<string, Probe> {
  const map = new Map<string, Probe>();
  for (const spec of specs) {
    const [kind, p] = spec.split(':') as [string, string];
    if (kind === 'file') map.set(p, { listAs: p, exists: true, isDir: false, isFile: true, links: 1 });
    else if (kind === 'dir') map.set(p, { listAs: p, exists: true, isDir: true });
    else if (kind === 'link') map.set(p, { listAs: p, exists: true, isDir: false });
    else map.set(p, { listAs: p, exists: false });
  }
  return map;
}

describe('planBatch: content checks and type-dependent excludes', () => {
  const rows: Array<{ name: string; batch: Batch; probes: Map<string, Probe>; exclude?: string[]; want: Plan }> = [
    // Item 13: a file named by an event is compared by content (--ignore-times)...
    { name: 'a named file alone: its one call compares by content', batch: batchOf(['f']), probes: typed('file:f'), want: { kind: 'paths', paths: ['f'], deleted: 0, ignoreTimes: true } },
    {
      name: 'files and a deletion, no directory: one call with -I',
      batch: batchOf(['g', 'f', 'old']),
      probes: typed('file:f', 'file:g', 'gone:old'),
      want: { kind: 'paths', paths: ['f', 'g', 'old'], deleted: 1, ignoreTimes: true },
    },
    { name: 'a symlink is not compared by content (rsync always compares its target)', batch: batchOf(['l']), probes: typed('link:l'), want: { kind: 'paths', paths: ['l'], deleted: 0 } },
    {
      name: 'a phantom below a file lists the file, which no event named',
      batch: batchOf(['f/x']),
      probes: new Map([['f/x', { listAs: 'f', exists: true, isDir: false }]]),
      want: { kind: 'paths', paths: ['f'], deleted: 0 },
    },
    // ...but -I must never reach a listed directory's subtree: the files get a call of their own.
    {
      name: 'a directory and a file: the file is rechecked in its own call',
      batch: batchOf(['d', 'f']),
      probes: typed('dir:d', 'file:f'),
      want: { kind: 'paths', paths: ['d'], deleted: 0, recheck: ['f'] },
    },
    {
      name: 'a named file below a listed directory is rechecked too',
      batch: batchOf(['d/f', 'd']),
      probes: typed('dir:d', 'file:d/f'),
      want: { kind: 'paths', paths: ['d'], deleted: 0, recheck: ['d/f'] },
    },
    {
      name: 'a present path of unknown type counts as a directory',
      batch: batchOf(['u', 'f']),
      probes: new Map([...probes(['u']), ...typed('file:f')]),
      want: { kind: 'paths', paths: ['u'], deleted: 0, recheck: ['f'] },
    },
    {
      name: 'a directory, a deletion and files',
      batch: batchOf(['d', 'x', 'f', 'd/g']),
      probes: typed('dir:d', 'gone:x', 'file:f', 'file:d/g'),
      want: { kind: 'paths', paths: ['d', 'x'], deleted: 1, recheck: ['d/g', 'f'] },
    },
    // Item 14: excludes once the type is known.
    { name: "a directory matched by 'cache/' is dropped", batch: batchOf(['cache']), probes: typed('dir:cache'), exclude: ['cache/'], want: { kind: 'none' } },
    { name: "a file named 'cache' is sent", batch: batchOf(['cache']), probes: typed('file:cache'), exclude: ['cache/'], want: { kind: 'paths', paths: ['cache'], deleted: 0, ignoreTimes: true } },
    {
      name: "a gone 'a/cache': never listed, its parent synced one level deep",
      batch: batchOf(['a/cache']),
      probes: typed('gone:a/cache'),
      exclude: ['cache/'],
      want: { kind: 'paths', paths: [], deleted: 1, shallow: ['a'] },
    },
    {
      name: "a gone 'cache' at the root: the root one level deep",
      batch: batchOf(['cache', 'f']),
      probes: typed('gone:cache', 'file:f'),
      exclude: ['cache/'],
      want: { kind: 'paths', paths: ['f'], deleted: 1, ignoreTimes: true, shallow: [''] },
    },
    {
      name: 'no shallow sync where a listed directory covers the parent',
      batch: batchOf(['a', 'a/b/cache']),
      probes: typed('dir:a', 'gone:a/b/cache'),
      exclude: ['cache/'],
      want: { kind: 'paths', paths: ['a'], deleted: 0 },
    },
    {
      name: 'one shallow sync per parent',
      batch: batchOf(['a/cache', 'b/cache', 'a/x']),
      probes: new Map([...typed('gone:a/cache', 'gone:b/cache'), ['a/x', { listAs: 'a/x', exists: false }]]),
      exclude: ['cache/', 'x/'],
      want: { kind: 'paths', paths: [], deleted: 3, shallow: ['a', 'b'] },
    },
    { name: 'a gone path excluded whatever its type is never listed (rsync protects it)', batch: batchOf(['x.tmp']), probes: typed('gone:x.tmp'), exclude: ['*.tmp'], want: { kind: 'none' } },
    {
      name: 'an include for directories only is type-dependent too',
      batch: batchOf(['keep']),
      probes: typed('gone:keep'),
      exclude: ['+ keep/', 'keep'],
      want: { kind: 'paths', paths: [], deleted: 1, shallow: [''] },
    },
    { name: 'a path below an excluded directory is dropped', batch: batchOf(['cache/x']), probes: typed('file:cache/x'), exclude: ['cache/'], want: { kind: 'none' } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(planBatch(row.batch, row.probes, compileExcludes(row.exclude ?? [])), row.want);
    });
  }
});

describe('compareAsTree', () => {
  // '/' sorts before every other character, so a subtree directly follows its directory.
  const rows: Array<[a: string, b: string, sign: -1 | 0 | 1]> = [
    ['a', 'a', 0],
    ['a', 'b', -1],
    ['a', 'a/b', -1],
    ['a/b', 'a-b', -1],
    ['a/b', 'a.b', -1],
    ['a/b', 'a b', -1],
    ['a/zzz', 'a!', -1],
    ['a-b', 'a.b', -1],
    ['a b', 'a-b', -1],
    ['ab', 'a/b', 1],
    ['a/b/c', 'a/b-c', -1],
    ['a/é', 'a.b', -1],
    ['é', 'z', 1],
    ['é/x', 'é-x', -1],
    ['日本/a', '日本', 1],
    ['', 'a', -1],
  ];
  for (const [a, b, sign] of rows) {
    it(`${JSON.stringify(a)} vs ${JSON.stringify(b)} → ${sign}`, () => {
      assert.equal(Math.sign(compareAsTree(a, b)), sign);
      assert.equal(Math.sign(compareAsTree(b, a)), -sign || 0);
    });
  }

  it('sorts a mixed list into tree order', () => {
    const input = ['é', 'a.b', 'a/b', 'a', 'a b', 'a-b', 'a/b/c', 'a/é', 'a/b c', 'a/b-c'];
    assert.deepEqual([...input].sort(compareAsTree), ['a', 'a/b', 'a/b/c', 'a/b c', 'a/b-c', 'a/é', 'a b', 'a-b', 'a.b', 'é']);
  });
});

describe('coverOf', () => {
  const rows: Array<{ name: string; paths: string[]; want: string[] }> = [
    { name: 'empty', paths: [], want: [] },
    { name: 'one path', paths: ['a'], want: ['a'] },
    { name: 'duplicates', paths: ['a', 'a'], want: ['a'] },
    { name: 'descendant dropped', paths: ['a/b', 'a'], want: ['a'] },
    { name: 'deep descendant dropped', paths: ['a/b/c/d', 'a/b'], want: ['a/b'] },
    // With plain string order 'a b', 'a-b', 'a.b' would fall between 'a' and 'a/b', hiding 'a/b'.
    { name: "' ', '-' and '.' siblings do not split a subtree", paths: ['a/b', 'a b', 'a-b', 'a.b', 'a'], want: ['a', 'a b', 'a-b', 'a.b'] },
    { name: 'prefix siblings stay', paths: ['ab', 'a', 'abc/d'], want: ['a', 'ab', 'abc/d'] },
    { name: 'non-ASCII', paths: ['é/x', 'é', 'é-x', 'e/x'], want: ['e/x', 'é', 'é-x'] },
    { name: 'siblings under a common parent', paths: ['d/b', 'd/a', 'd/a.x'], want: ['d/a', 'd/a.x', 'd/b'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(coverOf(row.paths), row.want);
    });
  }

  it('does not modify its input', () => {
    const input = ['b', 'a/b', 'a'];
    coverOf(input);
    assert.deepEqual(input, ['b', 'a/b', 'a']);
  });
});

const isAncestorOrSelf = (a: string, p: string): boolean => a === p || p.startsWith(`${a}/`);

describe('coverOf (generated path sets)', () => {
  // Names chosen to sort on both sides of '/' in plain string order.
  const names = ['a', 'a b', 'a-b', 'a.b', 'ab', 'b', 'é', '日'];
  it('covers every path by exactly one listed ancestor-or-self, none below another', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rand = prng(seed);
      const paths = Array.from({ length: Math.floor(rand() * 30) }, () => {
        const depth = 1 + Math.floor(rand() * 4);
        return Array.from({ length: depth }, () => names[Math.floor(rand() * names.length)]!).join('/');
      });
      const cover = coverOf(paths);
      const inputs = new Set(paths);
      for (const c of cover) assert.ok(inputs.has(c), `seed ${seed}: listed ${JSON.stringify(c)} was not an input`);
      for (const p of paths) {
        const by = cover.filter((c) => isAncestorOrSelf(c, p));
        assert.equal(by.length, 1, `seed ${seed}: ${JSON.stringify(p)} covered by ${JSON.stringify(by)}`);
      }
      for (const a of cover) {
        for (const b of cover) {
          if (a !== b) assert.ok(!isAncestorOrSelf(a, b), `seed ${seed}: ${JSON.stringify(b)} is below ${JSON.stringify(a)}`);
        }
      }
      assert.deepEqual(cover, [...cover].sort(compareAsTree), `seed ${seed}: output in tree order`);
    }
  });
});

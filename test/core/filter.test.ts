import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compileExcludes, literalAnchoredPaths } from '../../src/core/filter.js';
import { prng } from '../helpers/prng.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

const run = promisify(execFile);

// Expected values follow rsync 3.x ("INCLUDE/EXCLUDE PATTERN RULES" in man rsync): the filter only
// drops events for paths rsync would skip anyway. `isDir` omitted: the type is unknown, as for an
// event path; the path is then excluded only when rsync skips it as a file and as a directory.
type Row = [patterns: string[], path: string, excluded: boolean, isDir?: boolean];

const rows: Row[] = [
  [[], 'a', false],
  [[], 'a/b/c.tmp', false],

  [['*.tmp'], 'a.tmp', true],
  [['*.tmp'], 'd/e/a.tmp', true],
  [['*.tmp'], '.tmp', true],
  [['*.tmp'], 'a.tmpx', false],
  [['*.tmp'], 'a.tmp/inner', true],
  [['*.tmp'], 'atmp', false],

  [['/cache'], 'cache', true],
  [['/cache'], 'cache/x/y', true],
  [['/cache'], 'a/cache', false],
  [['/cache'], 'cachex', false],

  [['cache/'], 'cache', true, true],
  // A file named like a directory-only pattern is sent by rsync: its events must not be dropped.
  [['cache/'], 'cache', false, false],
  [['cache/'], 'cache', false],
  [['cache/'], 'a/cache', false],
  [['cache/'], 'a/cache/x', true],
  [['cache/'], 'a/cache/x', true, false],
  [['/cache/'], 'cache', false],
  [['/cache/'], 'cache', true, true],
  [['/cache/'], 'cache/y', true],
  [['cache/'], 'cachex', false],
  [['cache/'], 'xcache/y', false],

  [['node_modules'], 'node_modules', true],
  [['node_modules'], 'node_modules/x/y.js', true],
  [['node_modules'], 'pkg/node_modules/x', true],
  [['node_modules'], 'node_modules2', false],
  [['node_modules'], 'my_node_modules', false],

  [['a/*/c'], 'a/b/c', true],
  [['a/*/c'], 'q/a/b/c', true],
  [['a/*/c'], 'a/b/c/d', true],
  [['a/*/c'], 'a/b/d/c', false],
  [['a/*/c'], 'a/c', false],
  [['a/*/c'], 'xa/b/c', false],

  [['**/x'], 'd/x', true],
  [['**/x'], 'd/e/x', true],
  [['**/x'], 'd/x/y', true],
  [['**/x'], 'd/xx', false],
  [['a/**/z'], 'a/b/c/z', true],
  [['a/**/z'], 'a/b/y', false],

  [['[ab].txt'], 'a.txt', true],
  [['[ab].txt'], 'd/b.txt', true],
  [['[ab].txt'], 'c.txt', false],
  [['[ab].txt'], 'ab.txt', false],
  [['[!ab].txt'], 'c.txt', true],
  [['[!ab].txt'], 'a.txt', false],
  [['[a-c]'], 'b', true],
  [['[a-c]'], 'd', false],

  [['?.log'], 'a.log', true],
  [['?.log'], 'd/b.log', true],
  [['?.log'], 'ab.log', false],
  [['?.log'], '.log', false],

  [['\\*.txt'], '*.txt', true],
  [['\\*.txt'], 'a.txt', false],
  [['a\\?'], 'a?', true],
  [['a\\?'], 'ab', false],
  [['\\[x]'], '[x]', true],
  [['\\[x]'], 'x', false],
  // An unterminated class makes rsync's wildmatch give up: the pattern matches nothing.
  [['[ab'], '[ab', false],
  [['[ab'], 'a', false],
  [['[]a]'], ']', true],
  [['[!]a]'], 'b', true],
  [['[!]a]'], ']', false],
  [['[^a]'], 'b', true],
  [['[[:digit:]]x'], '7x', true],
  [['[[:digit:]]x'], 'ax', false],
  [['[[:bogus:]]'], 'b', false],
  [['[c-a]'], 'c', true],
  [['[c-a]'], 'b', false],
  [['a[!x]b'], 'a/b', false],
  [['**a[!x]b'], 'q/a/b', false],
  // rsync matches bytes: '?' is one byte, and 'é' takes two in UTF-8.
  [['?.txt'], 'é.txt', false],
  [['??.txt'], 'é.txt', true],
  [['é'], 'd/é', true],
  [['dir/***'], 'dir', true, true],
  [['dir/***'], 'dir', false, false],
  [['dir/***'], 'dir/x/y', true],
  [['/**/x'], 'x', false],
  [['/**/x'], 'a/x', true],
  // Rules in order, first match wins; '!' clears the list (rsync's --exclude prefixes).
  [['+ keep.tmp', '*.tmp'], 'keep.tmp', false],
  [['+ keep.tmp', '*.tmp'], 'd/keep.tmp', false],
  [['+ keep.tmp', '*.tmp'], 'x.tmp', true],
  [['*.tmp', '+ keep.tmp'], 'keep.tmp', true],
  [['+ cache/', 'cache'], 'cache', false],
  [['+ cache/', 'cache'], 'cache', true, false],
  [['+ cache/', 'cache'], 'cache/x', false],
  [['*.tmp', '!', 'x'], 'a.tmp', false],
  [['*.tmp', '!', 'x'], 'x', true],
  [['a.b'], 'a.b', true],
  [['a.b'], 'axb', false],
  [['a+b(c)'], 'a+b(c)', true],

  [['- *.o'], 'x/y.o', true],
  [['*.tmp', '/cache', 'node_modules'], 'cache/z', true],
  [['*.tmp', '/cache', 'node_modules'], 'src/index.ts', false],
  [['*.tmp', '/cache', 'node_modules'], 'web/node_modules/x.tmp', true],
];

describe('compileExcludes', () => {
  for (const [patterns, path, excluded, isDir] of rows) {
    const type = isDir === undefined ? '' : isDir ? ' (a directory)' : ' (a file)';
    it(`${JSON.stringify(patterns)} ${excluded ? 'excludes' : 'keeps'} ${JSON.stringify(path)}${type}`, () => {
      assert.equal(compileExcludes(patterns)(path, isDir), excluded);
    });
  }

  // rsync 3.5.0 with --exclude='**/x' skips a top-level x too (checked with a real transfer).
  it('["**/x"] excludes "x" at the root, as rsync does', () => {
    assert.equal(compileExcludes(['**/x'])('x'), true);
  });
});

describe('literalAnchoredPaths', () => {
  const rows: Array<[patterns: string[], want: string[]]> = [
    [
      ['/cache', '/db/x', '- /logs'],
      ['cache', 'db/x', 'logs'],
    ],
    // The watcher's ignore list cannot tell a file from a directory: '/cache/' stays watched.
    [['/cache/'], []],
    [['cache', '/a*', '/[x]'], []],
    [['+ /cache', '/cache'], []],
    [['+ /cache/', '/cache'], []],
  ];
  for (const [patterns, want] of rows) {
    it(`${JSON.stringify(patterns)} → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(literalAnchoredPaths(patterns), want);
    });
  }
});

/**
 * Differential check against real rsync: a seeded generated tree and rule list; the paths the filter
 * passes must be exactly those `rsync -n -a --itemize-changes` would transfer from that tree. For the
 * type-blind form (an event path), every path it drops must be one rsync skips.
 */
describe('compileExcludes agrees with rsync (generated trees and patterns)', () => {
  after(cleanupTempDirs);

  const NAMES = ['a', 'b', 'ab', 'ba', 'cache', 'c.tmp', 'a.b', 'x', 'é', 'a b', '[a]', '-a'];
  const GLOBS = ['*', '?', 'a*', '*b', '?b', '[ab]', '[!a]*', '[a-c]', '*.tmp', 'c*e', '[^b]?', '[[:alpha:]]', 'é*', '?.b'];

  interface Node {
    path: string;
    isDir: boolean;
  }

  function pick<T>(rand: () => number, xs: readonly T[]): T {
    return xs[Math.floor(rand() * xs.length)]!;
  }

  function genTree(rand: () => number): Node[] {
    const nodes: Node[] = [];
    const fill = (dir: string, depth: number) => {
      const names = new Set<string>();
      const count = 1 + Math.floor(rand() * (depth === 0 ? 6 : 4));
      for (let i = 0; i < count; i++) names.add(pick(rand, NAMES));
      for (const name of names) {
        const path = dir === '' ? name : `${dir}/${name}`;
        const isDir = depth < 3 && rand() < 0.45;
        nodes.push({ path, isDir });
        if (isDir) fill(path, depth + 1);
      }
    };
    fill('', 0);
    return nodes;
  }

  function genPattern(rand: () => number): string {
    const parts: string[] = [];
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) {
      const r = rand();
      parts.push(r < 0.45 ? pick(rand, NAMES) : r < 0.85 ? pick(rand, GLOBS) : r < 0.95 ? '**' : `${pick(rand, ['a', 'c', ''])}**${pick(rand, ['b', 'e', ''])}`);
    }
    let p = parts.join('/');
    if (rand() < 0.3) p = `/${p}`;
    const end = rand();
    if (end < 0.3) p = `${p}/`;
    else if (end < 0.38) p = `${p}/***`;
    const kind = rand();
    return kind < 0.15 ? `+ ${p}` : kind < 0.25 ? `- ${p}` : p;
  }

  /** rsync's itemized names escape unprintable bytes as \#ooo. */
  function unescapeName(name: string): string {
    const bytes = Buffer.from(
      name.replace(/\\#([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
      'latin1',
    );
    return /\\#/.test(name) ? bytes.toString('utf8') : name;
  }

  async function rsyncTransfers(src: string, patterns: string[]): Promise<Set<string>> {
    const dst = `${src}-none`;
    await mkdir(dst);
    const { stdout } = await run('rsync', ['-n', '-a', '--itemize-changes', ...patterns.map((p) => `--exclude=${p}`), `${src}/`, `${dst}/`]);
    const out = new Set<string>();
    for (const line of stdout.split('\n')) {
      const m = /^\S{11} (.+)$/.exec(line);
      if (m === null) continue;
      const name = unescapeName(m[1]!).replace(/\/$/, '');
      if (name !== '.' && name !== './') out.add(name);
    }
    return out;
  }

  async function check(seed: number, base: string): Promise<void> {
    const rand = prng(seed);
    const nodes = genTree(rand);
    const patterns = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => genPattern(rand));
    const src = join(base, `s${seed}`);
    await mkdir(src);
    for (const n of nodes) {
      if (n.isDir) await mkdir(join(src, n.path));
      else await writeFile(join(src, n.path), '');
    }
    const sent = await rsyncTransfers(src, patterns);
    const excluded = compileExcludes(patterns);
    const passed = new Set(nodes.filter((n) => !excluded(n.path, n.isDir)).map((n) => n.path));
    const label = `seed ${seed}, patterns ${JSON.stringify(patterns)}`;
    const onlyRsync = [...sent].filter((p) => !passed.has(p));
    const onlyFilter = [...passed].filter((p) => !sent.has(p));
    assert.deepEqual({ onlyRsync, onlyFilter }, { onlyRsync: [], onlyFilter: [] }, `${label}: the filter and rsync disagree`);
    for (const n of nodes) {
      if (excluded(n.path)) assert.ok(!sent.has(n.path), `${label}: the type-blind filter drops ${JSON.stringify(n.path)}, which rsync sends`);
    }
  }

  it('fixed cases: directory-only patterns, file and directory twins', async () => {
    const base = await makeTempDir('fam-filter-');
    const src = join(base, 'fixed');
    await mkdir(join(src, 'd', 'cache'), { recursive: true });
    await mkdir(join(src, 'cache'));
    await writeFile(join(src, 'd', 'cache', 'x'), '');
    await writeFile(join(src, 'e'), '');
    await mkdir(join(src, 'f'));
    await writeFile(join(src, 'f', 'cache'), '');
    const sent = await rsyncTransfers(src, ['cache/']);
    assert.deepEqual([...sent].sort(), ['d', 'e', 'f', 'f/cache']);
    const excluded = compileExcludes(['cache/']);
    assert.equal(excluded('f/cache'), false, 'an event for the file f/cache must pass');
    assert.equal(excluded('f/cache', false), false);
    assert.equal(excluded('cache', true), true);
    assert.equal(excluded('d/cache/x'), true);
  });

  // FAM_FILTER_CASES=5000 for a longer soak outside CI; a failure names its seed.
  const cases = Number(process.env.FAM_FILTER_CASES ?? 200);
  it(`${cases} seeded random cases: the filter passes exactly what rsync transfers`, async () => {
    const base = await makeTempDir('fam-filter-');
    // Four at a time: each case is mostly rsync's start-up, waiting on the other process.
    for (let seed = 1; seed <= cases; seed += 4) await Promise.all([0, 1, 2, 3].filter((i) => seed + i <= cases).map((i) => check(seed + i, base)));
  });
});

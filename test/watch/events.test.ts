/**
 * The event translator (src/watch/events.ts) as plain data: one delivery of raw events in, what the
 * watcher hands on and inspects out. No I/O.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileExcludes } from '../../src/core/filter.js';
import {
  HOT_TOUCH_LIMIT,
  INSPECT_LIMIT,
  markerFileName,
  markerIn,
  nameableAncestor,
  rootRelative,
  translateDelivery,
  type Delivery,
  type WatchEvent,
  type WatchEventType,
} from '../../src/watch/events.js';

const ROOT = '/srv/www';
const PRIVATE = '/tmp/fam-mirror-Xy12';
const ALIAS = `${PRIVATE}/a3/www`;
const BARRIER = `${PRIVATE}/barrier`;

const ev = (type: WatchEventType, path: string): WatchEvent => ({ type, path });
const c = (path: string) => ev('create', path);
const u = (path: string) => ev('update', path);
const d = (path: string) => ev('delete', path);

interface Row {
  name: string;
  watchedRoot?: string;
  events: WatchEvent[];
  exclude?: string[];
  /** Names the side watch has already passed on. */
  covered?: string[];
  /** Expected; fields left out are empty. `seen` defaults to what `dispatch` + `covered` imply in event order. */
  out: Partial<Delivery> & { seen?: Delivery['seen'] };
}

const seenOf = (...pairs: Array<[string, WatchEventType]>) => pairs.map(([rel, type]) => ({ rel, type }));

const rows: Row[] = [
  { name: 'a file created in the root', events: [c(`${ROOT}/f`)], out: { seen: seenOf(['f', 'create']), dispatch: ['f'], inspectCreated: ['f'], touch: [''] } },
  { name: 'an update deep down', events: [u(`${ROOT}/d/e/g`)], out: { seen: seenOf(['d/e/g', 'update']), dispatch: ['d/e/g'], inspectUpdated: ['d/e/g'], touch: ['d/e'] } },
  { name: 'a delete is handed on, not inspected', events: [d(`${ROOT}/d`)], out: { seen: seenOf(['d', 'delete']), dispatch: ['d'], touch: [''] } },
  {
    name: 'order kept, parents touched once each',
    events: [c(`${ROOT}/a/1`), d(`${ROOT}/b/2`), u(`${ROOT}/a/3`), c(`${ROOT}/4`)],
    out: {
      seen: seenOf(['a/1', 'create'], ['b/2', 'delete'], ['a/3', 'update'], ['4', 'create']),
      dispatch: ['a/1', 'b/2', 'a/3', '4'],
      inspectCreated: ['a/1', '4'],
      inspectUpdated: ['a/3'],
      touch: ['a', 'b', ''],
    },
  },
  { name: 'the root itself is dropped', events: [u(ROOT), c(`${ROOT}/`)], out: {} },
  { name: 'names beyond the root: its parent, /, siblings sharing its prefix', events: [u('/srv'), u('/'), c('/srv/www2/x'), c('/srv/www.old/f'), c('/srv/ww')], out: {} },
  { name: 'a name climbing out with ..', events: [c(`${ROOT}/d/../../etc/passwd`), c(`${ROOT}/..`)], out: {} },
  { name: 'a name with . segments is normalised', events: [c(`${ROOT}/./d/./f`)], out: { seen: seenOf(['d/f', 'create']), dispatch: ['d/f'], inspectCreated: ['d/f'], touch: ['d'] } },
  {
    name: 'hostile names pass as data: newline, leading -, non-ASCII, quote, glob, space',
    events: [c(`${ROOT}/a\nb`), c(`${ROOT}/-rf`), u(`${ROOT}/--delete/x`), c(`${ROOT}/été/ü`), d(`${ROOT}/it's`), c(`${ROOT}/*`), c(`${ROOT}/sp ace/ `)],
    out: {
      seen: seenOf(['a\nb', 'create'], ['-rf', 'create'], ['--delete/x', 'update'], ['été/ü', 'create'], ["it's", 'delete'], ['*', 'create'], ['sp ace/ ', 'create']),
      dispatch: ['a\nb', '-rf', '--delete/x', 'été/ü', "it's", '*', 'sp ace/ '],
      inspectCreated: ['a\nb', '-rf', 'été/ü', '*', 'sp ace/ '],
      inspectUpdated: ['--delete/x'],
      touch: ['', '--delete', 'été', 'sp ace'],
    },
  },
  {
    name: 'a name that was not UTF-8 (U+FFFD) stands for its nearest nameable ancestor, the root included',
    events: [c(`${ROOT}/d/bad\uFFFDname/x`), u(`${ROOT}/\uFFFDtop`)],
    out: { seen: seenOf(['d', 'create'], ['', 'update']), dispatch: ['d', ''], inspectCreated: ['d'], inspectUpdated: [''], touch: [''] },
  },
  {
    name: 'through an alias: paths relative to the alias',
    watchedRoot: ALIAS,
    events: [c(`${ALIAS}/d/x`)],
    out: { seen: seenOf(['d/x', 'create']), dispatch: ['d/x'], inspectCreated: ['d/x'], touch: ['d'] },
  },
  {
    name: 'through an alias: the alias itself, its link, another alias and the real root are beyond it',
    watchedRoot: ALIAS,
    events: [u(ALIAS), c(`${PRIVATE}/a3`), c(`${PRIVATE}/a2/www/f`), c(`${ROOT}/f`), c(`${PRIVATE}/a3/www2/f`)],
    out: {},
  },
  { name: 'a barrier marker is not a change of the root', events: [c(`${BARRIER}/m1`), d(`${BARRIER}/m1`)], out: {} },
  { name: 'a barrier marker is not a change of an alias either', watchedRoot: ALIAS, events: [c(`${BARRIER}/${markerFileName(2)}`)], out: {} },
  {
    name: 'a source file named like a marker is a change',
    events: [c(`${ROOT}/barrier/m1`)],
    out: { seen: seenOf(['barrier/m1', 'create']), dispatch: ['barrier/m1'], inspectCreated: ['barrier/m1'], touch: ['barrier'] },
  },
  {
    name: 'excluded paths dropped: an anchored dir and below, a wildcard, below a dir-only pattern',
    exclude: ['/cache', '*.tmp', 'node_modules/'],
    events: [c(`${ROOT}/cache`), c(`${ROOT}/cache/x`), u(`${ROOT}/a/b.tmp`), c(`${ROOT}/node_modules/lib/x.js`), c(`${ROOT}/a/cache`)],
    out: { seen: seenOf(['a/cache', 'create']), dispatch: ['a/cache'], inspectCreated: ['a/cache'], touch: ['a'] },
  },
  {
    name: 'a file named like a dir-only pattern is kept (its type is not known from the event)',
    exclude: ['node_modules/'],
    events: [c(`${ROOT}/node_modules`)],
    out: { seen: seenOf(['node_modules', 'create']), dispatch: ['node_modules'], inspectCreated: ['node_modules'], touch: [''] },
  },
  {
    name: 'a name the side watch already passed on is seen (and inspected) but not handed on again',
    covered: ['d/f'],
    events: [c(`${ROOT}/d/f`), u(`${ROOT}/d/g`)],
    out: { seen: seenOf(['d/f', 'create'], ['d/g', 'update']), dispatch: ['d/g'], inspectCreated: ['d/f'], inspectUpdated: ['d/g'], touch: ['d'] },
  },
];

function expected(out: Row['out']): Delivery {
  return {
    seen: out.seen ?? [],
    dispatch: out.dispatch ?? [],
    inspectCreated: out.inspectCreated ?? [],
    inspectUpdated: out.inspectUpdated ?? [],
    blindParents: out.blindParents ?? [],
    touch: out.touch ?? [],
  };
}

describe('translateDelivery: one delivery of raw events', () => {
  for (const row of rows) {
    it(row.name, () => {
      const covered = new Set(row.covered ?? []);
      const got = translateDelivery(row.watchedRoot ?? ROOT, row.events, compileExcludes(row.exclude ?? []), (rel) => covered.has(rel));
      assert.deepEqual(got, expected(row.out));
    });
  }

  it(`a burst of more than ${INSPECT_LIMIT} creates is not inspected: its parents are re-synced after a resubscription`, () => {
    const events = [...Array.from({ length: INSPECT_LIMIT }, (_, i) => c(`${ROOT}/big/f${i}`)), c(`${ROOT}/other/x`), u(`${ROOT}/big`)];
    const got = translateDelivery(ROOT, events, compileExcludes([]));
    assert.equal(got.dispatch.length, INSPECT_LIMIT + 2);
    assert.deepEqual(got.inspectCreated, []);
    assert.deepEqual(got.inspectUpdated, ['big']);
    assert.deepEqual(got.blindParents, ['big', 'other']);
    assert.deepEqual(got.touch, []);
  });

  it(`exactly ${INSPECT_LIMIT} creates are still inspected one by one`, () => {
    const events = Array.from({ length: INSPECT_LIMIT }, (_, i) => c(`${ROOT}/big/f${i}`));
    const got = translateDelivery(ROOT, events, compileExcludes([]));
    assert.equal(got.inspectCreated.length, INSPECT_LIMIT);
    assert.deepEqual(got.blindParents, []);
  });

  it(`the side watch follows a delivery of up to ${HOT_TOUCH_LIMIT} paths, not a larger one`, () => {
    const at = (n: number) => Array.from({ length: n }, (_, i) => d(`${ROOT}/p${i % 2}/f${i}`));
    assert.deepEqual(translateDelivery(ROOT, at(HOT_TOUCH_LIMIT), compileExcludes([])).touch, ['p0', 'p1']);
    assert.deepEqual(translateDelivery(ROOT, at(HOT_TOUCH_LIMIT + 1), compileExcludes([])).touch, []);
  });

  it('excluded events do not count toward the burst limits', () => {
    const events = [...Array.from({ length: INSPECT_LIMIT + 1 }, (_, i) => c(`${ROOT}/cache/f${i}`)), c(`${ROOT}/x`)];
    const got = translateDelivery(ROOT, events, compileExcludes(['/cache']));
    assert.deepEqual(got, expected({ seen: seenOf(['x', 'create']), dispatch: ['x'], inspectCreated: ['x'], touch: [''] }));
  });
});

describe('rootRelative and nameableAncestor', () => {
  const table: Array<[string, string, string | undefined]> = [
    [ROOT, `${ROOT}/a/b`, 'a/b'],
    [ROOT, ROOT, undefined],
    [ROOT, `${ROOT}/`, undefined],
    [ROOT, '/srv', undefined],
    [ROOT, '/srv/www-other/a', undefined],
    [ROOT, `${ROOT}/..foo`, '..foo'],
    [ROOT, `${ROOT}/-`, '-'],
    [ROOT, `${ROOT}/x\uFFFD`, ''],
    [ALIAS, `${ALIAS}/a`, 'a'],
    [ALIAS, `${ROOT}/a`, undefined],
  ];
  for (const [root, abs, want] of table) {
    it(`${JSON.stringify(abs)} under ${root} → ${JSON.stringify(want)}`, () => assert.equal(rootRelative(root, abs), want));
  }

  const names: Array<[string, string]> = [
    ['a/b/c', 'a/b/c'],
    ['a/b\uFFFD/c', 'a'],
    ['a/b/c\uFFFD', 'a/b'],
    ['\uFFFD', ''],
    ['\uFFFD/x', ''],
    ['a\n/b', 'a\n/b'],
  ];
  for (const [rel, want] of names) {
    it(`nameableAncestor(${JSON.stringify(rel)}) = ${JSON.stringify(want)}`, () => assert.equal(nameableAncestor(rel), want));
  }
});

describe('markerIn: the barrier marker recognised', () => {
  const table: Array<[string, string | undefined]> = [
    [`${BARRIER}/m1`, 'm1'],
    [`${BARRIER}/m42`, 'm42'],
    [`${BARRIER}/${markerFileName(7)}`, 'm7'],
    [BARRIER, undefined],
    [`${BARRIER}/m`, undefined],
    [`${BARRIER}/m1.tmp`, undefined],
    [`${BARRIER}/m1/x`, undefined],
    [`${BARRIER}/x1`, undefined],
    [`${BARRIER}/m1\n`, undefined],
    [`${PRIVATE}/m1`, undefined],
    [`${ROOT}/barrier/m1`, undefined],
    [`${ALIAS}/m1`, undefined],
  ];
  for (const [path, want] of table) {
    it(`${JSON.stringify(path)} → ${JSON.stringify(want)}`, () => assert.equal(markerIn(BARRIER, path), want));
  }
});

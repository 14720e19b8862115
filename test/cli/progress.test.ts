/** How a full pass under way is shown, as data: units, the percent's view, the text, the bar's width, the throttle. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeProgress, fitWidth, humanBytes, humanRate, nextView, ProgressThrottle, progressBar, type ProgressView } from '../../src/cli/progress.js';
import type { ProgressEvent } from '../../src/types.js';

const ev = (more: Partial<ProgressEvent> = {}): ProgressEvent => ({
  replica: 'web2:/var/www',
  percent: 50,
  bytes: 2048,
  rate: '1.00MB/s',
  bytesPerSec: 1024 * 1024,
  eta: '0:00:03',
  filesDone: 5,
  filesTotal: 10,
  listComplete: true,
  filesSent: 5,
  ...more,
});

describe('one unit system: powers of 1024, /s for rates', () => {
  const rows: Array<[number, string, string]> = [
    [0, '0 B', '0 B/s'],
    [1023, '1023 B', '1023 B/s'],
    [1024, '1.0 KiB', '1.0 KiB/s'],
    [1536, '1.5 KiB', '1.5 KiB/s'],
    [48.3 * 1024 * 1024, '48.3 MiB', '48.3 MiB/s'],
    [5 * 1024 ** 3, '5.0 GiB', '5.0 GiB/s'],
    [1024 ** 5, '1024.0 TiB', '1024.0 TiB/s'],
  ];
  for (const [n, bytes, rate] of rows) {
    it(`${n} → ${bytes}, ${rate}`, () => {
      assert.equal(humanBytes(n), bytes);
      assert.equal(humanRate(n), rate);
    });
  }
  it('a fractional rate rounds to whole bytes', () => assert.equal(humanRate(511.6), '512 B/s'));
});

describe('nextView: the percent shown never goes back', () => {
  type V = ProgressView;
  const none = { filesDone: undefined, filesTotal: undefined };
  const f = (filesDone: number, filesTotal: number) => ({ filesDone, filesTotal });
  const rows: Array<{ name: string; prev: V | undefined; e: Partial<ProgressEvent>; want: V }> = [
    { name: 'first record, list complete', prev: undefined, e: { percent: 10, bytes: 100 }, want: { percent: 10, bytes: 100, complete: true, ...f(5, 10) } },
    {
      name: 'first record, list still growing: no percent',
      prev: undefined,
      e: { percent: 80, bytes: 100, listComplete: false },
      want: { percent: undefined, bytes: 100, complete: false, ...f(5, 10) },
    },
    {
      name: 'first record says nothing (no counts): unknown',
      prev: undefined,
      e: { percent: 0, bytes: 100, listComplete: undefined, ...none },
      want: { percent: undefined, bytes: 100, complete: false },
    },
    {
      name: 'growing list after growing list',
      prev: { percent: undefined, bytes: 100, complete: false },
      e: { percent: 3, bytes: 200, listComplete: false, ...f(30, 90) },
      want: { percent: undefined, bytes: 200, complete: false, ...f(30, 90) },
    },
    {
      name: 'a mid-file record while the list grows: still unknown, the counts kept',
      prev: { percent: undefined, bytes: 200, complete: false, ...f(30, 90) },
      e: { percent: 90, bytes: 250, listComplete: undefined, ...none },
      want: { percent: undefined, bytes: 250, complete: false, ...f(30, 90) },
    },
    { name: 'the list becomes complete', prev: { percent: undefined, bytes: 250, complete: false }, e: { percent: 40, bytes: 300 }, want: { percent: 40, bytes: 300, complete: true, ...f(5, 10) } },
    {
      name: 'rsync says less: the shown percent stays',
      prev: { percent: 40, bytes: 300, complete: true },
      e: { percent: 38, bytes: 310 },
      want: { percent: 40, bytes: 310, complete: true, ...f(5, 10) },
    },
    { name: 'rsync says more', prev: { percent: 40, bytes: 310, complete: true }, e: { percent: 41, bytes: 320 }, want: { percent: 41, bytes: 320, complete: true, ...f(5, 10) } },
    {
      name: 'a mid-file record after the list is complete: its percent counts, the counts kept',
      prev: { percent: 41, bytes: 320, complete: true, ...f(7, 10) },
      e: { percent: 60, bytes: 330, listComplete: undefined, ...none },
      want: { percent: 60, bytes: 330, complete: true, ...f(7, 10) },
    },
    {
      name: 'fewer bytes: a new pass starts from its own percent',
      prev: { percent: 90, bytes: 5000, complete: true },
      e: { percent: 5, bytes: 10 },
      want: { percent: 5, bytes: 10, complete: true, ...f(5, 10) },
    },
    {
      name: 'fewer bytes, a record that says nothing: unknown again',
      prev: { percent: 90, bytes: 5000, complete: true, ...f(9, 10) },
      e: { percent: 50, bytes: 10, listComplete: undefined, ...none },
      want: { percent: undefined, bytes: 10, complete: false },
    },
    { name: 'never above 100', prev: undefined, e: { percent: 101, bytes: 1 }, want: { percent: 100, bytes: 1, complete: true, ...f(5, 10) } },
  ];
  for (const r of rows) it(r.name, () => assert.deepEqual(nextView(r.prev, ev(r.e)), r.want));
});

describe('describeProgress', () => {
  const rows: Array<{ name: string; view: ProgressView; want: string }> = [
    { name: 'complete list, with files', view: { percent: 50, bytes: 2048, complete: true, filesDone: 5, filesTotal: 10 }, want: '50% 5/10 files, 2.0 KiB, 1.0 MiB/s, ETA 0:00:03' },
    { name: 'complete list, no file count yet', view: { percent: 0, bytes: 2048, complete: true }, want: '0% 2.0 KiB, 1.0 MiB/s, ETA 0:00:03' },
    {
      name: 'growing list: files checked and rate, no percent, no ETA',
      view: { percent: undefined, bytes: 2048, complete: false, filesDone: 5, filesTotal: 10 },
      want: '5 files checked, listing more, 2.0 KiB, 1.0 MiB/s',
    },
    { name: 'growing list, no count yet', view: { percent: undefined, bytes: 2048, complete: false }, want: 'listing more, 2.0 KiB, 1.0 MiB/s' },
  ];
  for (const r of rows) it(r.name, () => assert.equal(describeProgress(ev(), r.view), r.want));
});

describe('progressBar: one terminal line whatever the name', () => {
  const view: ProgressView = { percent: 50, bytes: 2048, complete: true, filesDone: 5, filesTotal: 10 };
  const text = describeProgress(ev(), view);
  const rows: Array<{ name: string; replica: string; columns: number; view?: ProgressView; want: string }> = [
    { name: '80 columns', replica: 'web2:/var/www', columns: 80, want: `web2:/var/www [#####-----] ${text}` },
    { name: 'wide: the bar grows to 30', replica: 'web2:/var/www', columns: 200, want: `web2:/var/www [${'#'.repeat(15)}${'-'.repeat(15)}] ${text}` },
    { name: '95 columns: 25 wide', replica: 'w', columns: 95, want: `w [${'#'.repeat(13)}${'-'.repeat(12)}] ${text}` },
    {
      name: 'unknown percent: dots',
      replica: 'w',
      columns: 80,
      view: { percent: undefined, bytes: 2048, complete: false },
      want: `w [..........] ${describeProgress(ev(), { percent: undefined, bytes: 2048, complete: false })}`,
    },
    {
      name: 'a long name loses its start',
      replica: `deploy@web2.example.org:/srv/${'x'.repeat(60)}/www`,
      columns: 100,
      want: `…${'x'.repeat(13)}/www [${'#'.repeat(15)}${'-'.repeat(15)}] ${text}`,
    },
    { name: 'a tiny terminal cuts the line', replica: 'web2:/var/www', columns: 30, want: 'web2:/var/www [#####-----] 5…' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const line = progressBar(ev({ replica: r.replica }), r.view ?? view, r.columns);
      assert.equal(line, r.want);
      assert.ok([...line].length <= r.columns - 1, `${[...line].length} characters on ${r.columns} columns`);
    });
  }
});

describe('fitWidth', () => {
  const rows: Array<[string, number, string]> = [
    ['short', 80, 'short'],
    ['exactly nine', 10, 'exactly …'],
    ['0123456789', 11, '0123456789'],
    ['0123456789', 10, '01234567…'],
    ['a\x1b[2Jb\nc', 80, 'a?[2Jb?c'],
    ['ééééé', 4, 'éé…'],
    ['x', 0, 'x'],
  ];
  for (const [line, columns, want] of rows) it(`${JSON.stringify(line)} on ${columns}`, () => assert.equal(fitWidth(line, columns), want));
});

describe('ProgressThrottle (without a terminal)', () => {
  // [replica, now, admitted]; 'end' closes the replica's pass.
  const rows: Array<[string, number, boolean] | ['end', string]> = [
    ['a', 0, false], // a pass begins: nothing yet
    ['a', 4_999, false],
    ['b', 1_000, false],
    ['a', 5_000, true],
    ['a', 5_001, false],
    ['b', 5_999, false],
    ['b', 6_000, true],
    ['a', 9_999, false],
    ['a', 10_000, true],
    ['end', 'a'],
    ['a', 10_001, false], // its next pass counts from its own start
    ['a', 15_001, true],
    ['b', 60_000, true], // a quiet stretch: the next record goes out at once
    ['b', 60_001, false],
  ];
  it('admits a line 5 s into a pass, then at most every 5 s, per replica', () => {
    const t = new ProgressThrottle(5_000);
    for (const row of rows) {
      if (row.length === 2) t.end(row[1]);
      else assert.equal(t.admit(row[0], row[1]), row[2], `${row[0]} at ${row[1]}`);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyExit, EXIT_VERDICTS, parsePathProblems, parseProgress, problemPaths, type ExitVerdict } from '../../src/rsync/output.js';

describe('classifyExit', () => {
  // Written out again rather than derived from EXIT_VERDICTS, so a change to the table shows here.
  const table: Record<number, ExitVerdict> = {
    0: 'ok',
    24: 'ok',
    23: 'partial',
    1: 'fatal',
    2: 'fatal',
    4: 'fatal',
    126: 'fatal',
    127: 'fatal',
    3: 'retry',
    5: 'retry',
    6: 'retry',
    10: 'retry',
    11: 'retry',
    12: 'retry',
    13: 'retry',
    14: 'retry',
    20: 'retry',
    21: 'retry',
    22: 'retry',
    25: 'retry',
    30: 'retry',
    35: 'retry',
    255: 'retry',
    81: 'fatal',
    82: 'fatal',
    83: 'fatal',
    84: 'retry',
  };

  it('has a row here for every entry of EXIT_VERDICTS', () => {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(EXIT_VERDICTS).sort());
  });

  for (const [code, verdict] of Object.entries(table)) {
    it(`exit ${code} → ${verdict}`, () => {
      assert.equal(classifyExit(Number(code)), verdict);
    });
  }

  // Invariant 4: an unknown code is never a reason to stop a lane.
  for (const code of [7, 8, 15, 99, 128, 130, 137, 143, 254, 256, -1]) {
    it(`unknown exit ${code} → retry`, () => {
      assert.equal(classifyExit(code), 'retry');
    });
  }
});

describe('parsePathProblems', () => {
  const rows: Array<[string, Array<{ path: string }>]> = [
    ['rsync: [receiver] mkstemp "/srv/www/.index.html.XYZ" failed: Operation not permitted (1)', [{ path: '/srv/www/.index.html.XYZ' }]],
    ['rsync: [receiver] write failed on "/srv/www/big.bin": No space left on device (28)', [{ path: '/srv/www/big.bin' }]],
    ['rsync: [generator] delete_file: unlink(old.txt) failed: Permission denied (13)', [{ path: 'old.txt' }]],
    ['rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1338) [sender=3.5.0]', []],
    ['file has vanished: "/src/x"', []],
    ['', []],
  ];
  for (const [line, expected] of rows) {
    it(JSON.stringify(line.slice(0, 60)), () => {
      assert.deepEqual(
        parsePathProblems(line).map((p) => ({ path: p.path })),
        expected,
      );
    });
  }
  it('keeps at most the limit', () => {
    const many = Array.from({ length: 100 }, (_, i) => `rsync: [receiver] write failed on "/r/f${i}": No space left on device (28)`).join('\n');
    assert.equal(parsePathProblems(many, 50).length, 50);
  });
});

describe('parseProgress', () => {
  // listComplete: rsync says to-chk once its file list is whole, ir-chk while it grows; a record printed mid-file says neither.
  // bytesPerSec: rsync's rate, whose kB/MB/GB are powers of 1024 (progress.c divides by 1024).
  const rows: Array<[string, ReturnType<typeof parseProgress>]> = [
    ['          20000   0%    0.00kB/s    0:00:00  ', { bytes: 20000, percent: 0, rate: '0.00kB/s', bytesPerSec: 0, eta: '0:00:00' }],
    [
      '        6000000 100%  172.82MB/s    0:00:00 (xfr#300, to-chk=0/301)',
      { bytes: 6000000, percent: 100, rate: '172.82MB/s', bytesPerSec: Math.round(172.82 * 1024 * 1024), eta: '0:00:00', filesDone: 301, filesTotal: 301, listComplete: true },
    ],
    [
      '   1234567  45%   10.00MB/s    0:01:02 (xfr#12, ir-chk=1000/1300)',
      { bytes: 1234567, percent: 45, rate: '10.00MB/s', bytesPerSec: 10 * 1024 * 1024, eta: '0:01:02', filesDone: 300, filesTotal: 1300, listComplete: false },
    ],
    [
      '   1234567  45%  512.50kB/s    0:01:02 (xfr#12, to-chk=10/1300)',
      { bytes: 1234567, percent: 45, rate: '512.50kB/s', bytesPerSec: 524800, eta: '0:01:02', filesDone: 1290, filesTotal: 1300, listComplete: true },
    ],
    [
      '   1234567  45%    1.50GB/s    0:01:02 (xfr#12, to-chk=10/1300)',
      { bytes: 1234567, percent: 45, rate: '1.50GB/s', bytesPerSec: 1.5 * 1024 ** 3, eta: '0:01:02', filesDone: 1290, filesTotal: 1300, listComplete: true },
    ],
    ['>f+++++++++ 20043 f1', undefined],
    ['*deleting   0 100% done', undefined],
    ['', undefined],
  ];
  for (const [line, expected] of rows) it(JSON.stringify(line.trim()), () => assert.deepEqual(parseProgress(line), expected));
});

describe('problemPaths (exit 23: which paths, root-relative)', () => {
  const rows: Array<[string, string, string[] | undefined]> = [
    ['receiver rename of a temp file', 'rsync: [receiver] rename "/srv/www/.index.html.LGsUeV" -> "index.html": Operation not permitted (1)', ['index.html']],
    ['receiver mkstemp below a directory', 'rsync: [receiver] mkstemp "/srv/www/sub dir/.x.ckeu5n" failed: Operation not permitted (1)', ['sub dir/x']],
    ['sender cannot open a source file', 'rsync: [sender] send_files failed to open "/data/src/secret.key": Permission denied (13)', ['secret.key']],
    ['sender cannot read a directory', 'rsync: [sender] opendir "/data/src/private" failed: Permission denied (13)', ['private']],
    ['a relative name', 'rsync: [generator] recv_generator: mkdir "a/b" failed: File name too long (36)', ['a/b']],
    ['a real file that looks like a temp name is kept as it is', 'rsync: [receiver] write failed on "/srv/www/.cfg.abcdef": No space left on device (28)', ['.cfg.abcdef']],
    ['two lines, one path each', 'rsync: [receiver] mkstemp "/srv/www/.a.AAAAAA" failed: x (1)\nrsync: [sender] send_files failed to open "/data/src/b": y (13)', ['a', 'b']],
    ['a name deeper than rsync can send', 'filename overflows max-path len by 18: n1/n2/deep\nIO error encountered -- skipping file deletion', ['n1/n2/deep']],
    ['a path outside both roots: not placeable', 'rsync: [sender] send_files failed to open "/etc/shadow": Permission denied (13)', undefined],
    ['the root itself: not placeable', 'rsync: [sender] opendir "/data/src/" failed: Permission denied (13)', undefined],
    ['no path named', 'rsync error: some files/attrs were not transferred (see previous errors) (code 23)', undefined],
  ];
  for (const [name, stderr, want] of rows) {
    it(name, () => assert.deepEqual(problemPaths(stderr, '/data/src', '/srv/www'), want));
  }
});

/** What the command prints, as data: every formatter a row per case; Terminal on a fake output and clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MirrorError } from '../../src/errors.js';
import {
  describeCheck,
  describeFullPass,
  describeRepaired,
  describeReload,
  describeRestartBacklog,
  describeSynced,
  describeVerify,
  formatStatus,
  humanBytes,
  logLine,
  seedClaim,
  Terminal,
} from '../../src/cli/format.js';
import type { ProgressEvent, StartResult, SyncedEvent } from '../../src/types.js';
import type { StatusDocument } from '../../src/cli/control.js';

describe('humanBytes', () => {
  const rows: Array<[number, string]> = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [48.3 * 1024 * 1024, '48.3 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [1024 ** 5, '1024.0 TiB'],
  ];
  for (const [n, want] of rows) it(`${n} → ${want}`, () => assert.equal(humanBytes(n), want));
});

describe('log lines', () => {
  it('a log line starts with its ISO time', () => {
    assert.equal(logLine(new Date(Date.UTC(2026, 10, 22, 6, 40, 32)), 'synced'), '2026-11-22T06:40:32.000Z synced\n');
  });
});

describe('describeCheck: one line per replica as its start-up check ends', () => {
  const check = { rsyncVersion: '3.2.7', path: '/srv/www', created: false };
  const rows: Array<{ name: string; e: Parameters<typeof describeCheck>[0]; want: string | undefined }> = [
    { name: 'ready', e: { replica: 'web2', attempt: 1, check }, want: 'web2: ready (rsync 3.2.7, /srv/www)' },
    { name: 'ready, target made', e: { replica: 'web2', attempt: 1, check: { ...check, created: true } }, want: 'web2: ready (rsync 3.2.7, /srv/www, created)' },
    { name: 'ready after retries', e: { replica: 'web2', attempt: 4, check }, want: 'web2: ready (rsync 3.2.7, /srv/www)' },
    { name: 'needs a human', e: { replica: 'web3', attempt: 1, error: new MirrorError('ERR_SSH_AUTH', 'no login') }, want: 'web3: failed ERR_SSH_AUTH no login' },
    { name: 'down', e: { replica: 'web3', attempt: 1, error: new MirrorError('ERR_SSH_CONNECT', 'refused') }, want: 'web3: down, retrying: ERR_SSH_CONNECT refused' },
    { name: 'a retry that failed again', e: { replica: 'web3', attempt: 2, error: new MirrorError('ERR_SSH_CONNECT', 'refused') }, want: undefined },
  ];
  for (const r of rows) it(r.name, () => assert.equal(describeCheck(r.e), r.want));
});

describe('seedClaim: the ready line says only what start() observed', () => {
  type Failed = StartResult['failed'];
  const rows: Array<{ name: string; initMirror: boolean; dryRun: boolean; seeded: string[]; unseeded: string[]; failed?: Failed; want: string }> = [
    { name: 'no seed asked', initMirror: false, dryRun: false, seeded: [], unseeded: [], want: '' },
    { name: 'all seeded', initMirror: true, dryRun: false, seeded: ['a', 'b'], unseeded: [], want: 'seeded and ' },
    { name: 'one down', initMirror: true, dryRun: false, seeded: ['a', 'b'], unseeded: ['c'], want: '2 of 3 seeded; c is down and will be seeded when back; ' },
    { name: 'two down', initMirror: true, dryRun: false, seeded: ['a'], unseeded: ['b', 'c'], want: '1 of 3 seeded; b, c are down and will be seeded when back; ' },
    { name: 'dry run, all reachable', initMirror: true, dryRun: true, seeded: ['a'], unseeded: [], want: 'dry run: every replica would be seeded (nothing sent); ' },
    { name: 'dry run, one down', initMirror: true, dryRun: true, seeded: ['a'], unseeded: ['b'], want: 'dry run: 1 of 2 would be seeded (nothing sent); b is down; ' },
    {
      name: 'one failed',
      initMirror: true,
      dryRun: false,
      seeded: ['a'],
      unseeded: [],
      failed: [{ replica: 'c', code: 'ERR_HOST_KEY_UNKNOWN' }],
      want: '1 of 2 seeded; c failed (ERR_HOST_KEY_UNKNOWN): it needs a human (see the error above) and is seeded once fixed; ',
    },
    {
      name: 'one down, one failed',
      initMirror: true,
      dryRun: false,
      seeded: ['a'],
      unseeded: ['b'],
      failed: [{ replica: 'c', code: 'ERR_REPLICA_FENCED' }],
      want: '1 of 3 seeded; b is down and will be seeded when back; c failed (ERR_REPLICA_FENCED): it needs a human (see the error above) and is seeded once fixed; ',
    },
    {
      name: 'dry run, one failed',
      initMirror: true,
      dryRun: true,
      seeded: ['a'],
      unseeded: [],
      failed: [{ replica: 'c', code: 'ERR_SSH_AUTH' }],
      want: 'dry run: 1 of 2 would be seeded (nothing sent); c failed (ERR_SSH_AUTH); ',
    },
  ];
  for (const r of rows) it(r.name, () => assert.equal(seedClaim(r, [{ seeded: r.seeded, unseeded: r.unseeded, failed: r.failed ?? [] }]), r.want));

  it('several roots: their results add up', () => {
    assert.equal(
      seedClaim({ initMirror: true, dryRun: false }, [
        { seeded: ['a'], unseeded: [], failed: [] },
        { seeded: [], unseeded: ['b'], failed: [] },
      ]),
      '1 of 2 seeded; b is down and will be seeded when back; ',
    );
  });
});

describe('batch, plan, verify and reload lines', () => {
  const synced: Array<{ e: { full: boolean; paths: number; deleted: number }; want: string }> = [
    { e: { full: true, paths: 0, deleted: 0 }, want: 'synced full pass to web2 in 68 ms' },
    { e: { full: false, paths: 1, deleted: 0 }, want: 'synced 1 path to web2 in 68 ms' },
    { e: { full: false, paths: 3, deleted: 1 }, want: 'synced 3 paths (1 deleted) to web2 in 68 ms' },
  ];
  for (const s of synced) it(s.want, () => assert.equal(describeSynced({ replica: 'web2', durationMs: 68, ...s.e } as never), s.want));

  const repaired: Array<{ e: { reason: 'drift-startup' | 'drift-periodic'; repaired: number; sample: string[] }; want: string }> = [
    { e: { reason: 'drift-startup', repaired: 0, sample: [] }, want: 'drift pass (start-up) on web2: nothing to repair' },
    { e: { reason: 'drift-periodic', repaired: 1, sample: ['a b'] }, want: 'drift pass (periodic) on web2 repaired 1 path: "a b"' },
    { e: { reason: 'drift-startup', repaired: 12, sample: ['x', 'new\nline'] }, want: 'drift pass (start-up) on web2 repaired 12 paths: "x", "new\\nline", …' },
  ];
  for (const r of repaired) it(r.want, () => assert.equal(describeRepaired({ replica: 'web2', ...r.e }), r.want));

  const fullPasses: Array<{ e: Partial<SyncedEvent>; want: string }> = [
    { e: { reason: 'seed', changed: 2, sample: ['cd+++++++++ 0 ./', '>f+++++++++ 2 a b'] }, want: 'full pass (seed) on web2 sent 2 paths in 68 ms: "./", "a b"' },
    { e: { reason: 'seed', changed: 0, sample: [] }, want: 'full pass (seed) on web2: nothing to send (68 ms)' },
    { e: { reason: 'burst', changed: 0, sample: [] }, want: 'full pass (event burst, events may have been lost) on web2: nothing to repair (68 ms)' },
    {
      e: { reason: 'watcher-error', changed: 7, sample: ['>f+++++++++ 1 lost\nfile', '*deleting   0 gone'] },
      want: 'full pass (watcher error) on web2 repaired 7 paths in 68 ms: "lost\\nfile", "gone", …',
    },
    { e: { reason: 'replica-added', changed: 1, sample: ['>f+++++++++ 1 x'] }, want: 'full pass (replica added) on web2 repaired 1 path in 68 ms: "x"' },
    { e: { changed: 0 }, want: 'full pass (resumed after a restart) on web2: nothing to repair (68 ms)' },
  ];
  for (const f of fullPasses) {
    it(f.want, () => assert.equal(describeFullPass({ replica: 'web2', durationMs: 68, full: true, paths: 0, deleted: 0, files: 0, bytes: 0, ...f.e }), f.want));
  }
  it('verify: identical, differences, and how many more', () => {
    const out = describeVerify([
      { replica: 'a', identical: true, differences: [], more: 0 },
      { replica: 'b', identical: false, differences: ['>f.st...... x'], more: 0 },
      { replica: 'c', identical: false, differences: ['>f+++++++++ y', '*deleting z'], more: 3 },
    ] as never);
    assert.equal(out, 'a: identical\nb: 1 difference\n  >f.st...... x\nc: 5 differences\n  >f+++++++++ y\n  *deleting z\n  … and 3 more\n');
  });

  it('a reload: changed roots, added and removed replicas, options that need a restart', () => {
    assert.deepEqual(describeReload({ rootsChanged: false, roots: [{ source: '/s', added: [], removed: [], restartNeeded: [] }] }), ['SIGHUP: config reloaded for /s; no replica added; none removed']);
    assert.deepEqual(describeReload({ rootsChanged: true, roots: [{ source: '/s', added: ['a', 'b'], removed: ['c'], restartNeeded: ['exclude', 'quietMs'] }] }), [
      'SIGHUP: the watched roots changed; that needs a restart, the replicas are updated only',
      'SIGHUP: config reloaded for /s; added (seeding) a, b; removed c',
      'SIGHUP: changed for /s, but needs a restart (the running mirror keeps the old value): exclude, quietMs',
    ]);
  });
});

describe('formatStatus', () => {
  const doc: StatusDocument = {
    source: '/var/www',
    pid: 4242,
    startedAt: 1_000_000,
    replicas: [
      {
        replica: 'web2:/var/www',
        state: 'idle',
        lagSec: 0,
        backlog: 0,
        lastSuccessAt: Date.UTC(2026, 10, 22, 6, 40, 32, 123),
        filesSent: 1204,
        bytesSent: 48.3 * 1024 * 1024,
        lastFullPass: { reason: 'drift-periodic', at: Date.UTC(2026, 10, 22, 6, 40, 32), repaired: 3, sample: ['a'] },
      },
      {
        replica: 'web3:/var/www',
        state: 'down',
        lagSec: 4.44,
        backlog: 2,
        filesSent: 0,
        bytesSent: 0,
        lastError: `Could not connect ${'x'.repeat(200)}`,
        lastErrorAt: Date.UTC(2026, 10, 22, 6, 40, 32),
      },
    ],
  } as unknown as StatusDocument;

  it('one aligned table per mirror, its uptime, "-" for what is not known, long errors cut at 120', () => {
    const lines = formatStatus(doc, 1_000_000 + 3_600_400).split('\n');
    assert.equal(lines[0], '/var/www (pid 4242, up 3600s)');
    assert.equal(lines[1], '  REPLICA        STATE  LAG   BACKLOG  LAST SUCCESS          FILES  BYTES     LAST FULL PASS                       LAST ERROR');
    assert.equal(lines[2], '  web2:/var/www  idle   0.0s  0        2026-11-22T06:40:32Z  1204   48.3 MiB  06:40:32 drift-periodic: 3 repaired  -');
    assert.ok(lines[3]!.startsWith('  web3:/var/www  down   4.4s  2        -                     0      0 B       -                                    06:40:32 Could not connect xxx'), lines[3]);
    assert.ok(lines[3]!.endsWith('x…'));
    assert.equal(lines[3]!.length - lines[3]!.indexOf('Could'), 120);
    assert.equal(lines[4], '');
  });

  it('a replica behind since the restart says what it lacks (count, oldest seq) beside its state; checking and failed are states', () => {
    const behind = {
      ...doc,
      replicas: [
        { ...doc.replicas[0]!, state: 'catching-up', restartBacklog: { changes: 12, oldestSeq: 40, upToSeq: 47 } },
        { ...doc.replicas[0]!, replica: 'web4:/var/www', state: 'checking' },
        { ...doc.replicas[1]!, state: 'failed', lastError: 'Replica web3: rsync did not run' },
      ],
    } as StatusDocument;
    const lines = formatStatus(behind, 1_000_000).split('\n');
    assert.match(lines[2]!, /^ {2}web2:\/var\/www +catching-up, lacks 12 journaled changes from before the restart \(the oldest #40\) +0\.0s/);
    assert.match(lines[3]!, /^ {2}web4:\/var\/www +checking +0\.0s/);
    assert.match(lines[4]!, /^ {2}web3:\/var\/www +failed +4\.4s .* Replica web3: rsync did not run$/);
  });
});

describe('describeRestartBacklog: the restart is honest', () => {
  it('listed at start, then caught up', () => {
    const e = { replica: 'web3', changes: 1, oldestSeq: 7, upToSeq: 7 };
    assert.equal(describeRestartBacklog({ ...e, cleared: false }), 'replica web3 is behind: it lacks 1 journaled change from before the restart (the oldest #7)');
    assert.equal(describeRestartBacklog({ ...e, changes: 3, cleared: true }), 'replica web3 has caught up: it has the 3 journaled changes from before the restart (the oldest #7)');
    assert.equal(
      describeRestartBacklog({ ...e, oldestAt: Date.UTC(2026, 11, 1, 18, 5, 9, 250), cleared: false }),
      'replica web3 is behind: it lacks 1 journaled change from before the restart (the oldest #7, 2026-12-01T18:05:09Z)',
    );
  });
});

describe('Terminal', () => {
  function fake(isTTY: boolean) {
    let text = '';
    let now = 1_000_000; // a real clock is far past 0
    const term = new Terminal({ write: (s: string) => (text += s), isTTY, columns: 80 }, () => now);
    return { term, text: () => text, at: (ms: number) => (now = ms) };
  }
  const e = (percent: number, replica = 'r1', more: Partial<ProgressEvent> = {}): ProgressEvent => ({
    replica,
    percent,
    bytes: percent,
    rate: '0.00kB/s',
    bytesPerSec: 0,
    eta: '0:00:00',
    listComplete: true,
    filesSent: 0,
    ...more,
  });

  it("without a terminal: a replica's first progress line 5 s into its pass, then one per 5 s at most, 100 % included", () => {
    const t = fake(false);
    t.term.progress(e(10));
    t.at(1_001_000);
    t.term.progress(e(20));
    t.term.progress(e(20, 'r2'));
    t.at(1_005_000);
    t.term.progress(e(30));
    t.at(1_005_001);
    t.term.progress(e(100));
    t.at(1_006_000);
    t.term.progress(e(40, 'r2'));
    t.at(1_009_999);
    t.term.progress(e(100));
    t.at(1_010_000);
    t.term.progress(e(100));
    t.term.done('r1');
    t.at(1_016_000);
    t.term.progress(e(1)); // a new pass of r1: its own 5 s first
    const lines = t
      .text()
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(lines, ['progress r1: 30% 30 B, 0 B/s, ETA 0:00:00', 'progress r2: 40% 40 B, 0 B/s, ETA 0:00:00', 'progress r1: 100% 100 B, 0 B/s, ETA 0:00:00']);
    assert.equal(t.text().includes('\x1b['), false, 'no terminal codes in a log file');
  });

  it("a percent shown is never taken back while rsync's list grows; without the whole list, files and rate only", () => {
    const t = fake(true);
    t.term.progress(e(5, 'r1', { listComplete: false, filesDone: 3, filesTotal: 10 }));
    t.term.progress(e(40, 'r1', { bytes: 50, filesDone: 30, filesTotal: 100 }));
    t.term.progress(e(35, 'r1', { bytes: 60, filesDone: 40, filesTotal: 100 }));
    const bars = t.text().split(/\x1b\[\d+F\x1b\[0J/);
    assert.deepEqual(bars, [
      'r1 [..........] 3 files checked, listing more, 5 B, 0 B/s\n',
      'r1 [####------] 40% 30/100 files, 50 B, 0 B/s, ETA 0:00:00\n',
      'r1 [####------] 40% 40/100 files, 60 B, 0 B/s, ETA 0:00:00\n',
    ]);
  });

  it('on a terminal: bars stay below the log, redrawn in place, and go when the pass is done', () => {
    const t = fake(true);
    t.term.progress(e(50));
    t.term.progress(e(0, 'r2'));
    t.term.log('hello');
    t.term.done('r1');
    t.term.done('r1');
    assert.equal(
      t.text(),
      [
        'r1 [#####-----] 50% 50 B, 0 B/s, ETA 0:00:00\n',
        '\x1b[1F\x1b[0J',
        'r1 [#####-----] 50% 50 B, 0 B/s, ETA 0:00:00\nr2 [----------] 0% 0 B, 0 B/s, ETA 0:00:00\n',
        '\x1b[2F\x1b[0J',
        '1970-01-01T00:16:40.000Z hello\n',
        'r1 [#####-----] 50% 50 B, 0 B/s, ETA 0:00:00\nr2 [----------] 0% 0 B, 0 B/s, ETA 0:00:00\n',
        '\x1b[2F\x1b[0J',
        'r2 [----------] 0% 0 B, 0 B/s, ETA 0:00:00\n',
      ].join(''),
    );
  });
});

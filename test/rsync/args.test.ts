import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BRIDGE_HOST, buildRsyncCall, buildRsyncCalls, buildVerifyCall, classifyExit, encodeExcludeRules, EXIT_VERDICTS, parsePathProblems, parseProgress, problemPaths, type ExitVerdict, type RsyncSettings, type RsyncTarget } from '../../src/rsync/args.js';

// Excludes reach rsync only through the rule file (a list of 200,000 patterns made argv too big
// for exec: E2BIG); --from0 must come before --exclude-from, which rsync reads while parsing it.
const settings: RsyncSettings = { source: '/srv/src', excludeFile: '/tmp/fam-x/excludes', timeoutSec: 30 };
const base = ['-a', '--force', '--ignore-errors', '--delete', '--modify-window=-1', '--timeout=30'];
/** The incremental recipe has --from0 already (for its path list); a full pass adds it for the rules. */
const common = [...base, '--exclude-from=/tmp/fam-x/excludes'];
const commonFull = [...base, '--from0', '--exclude-from=/tmp/fam-x/excludes'];
const full = ['--out-format=%i %b %n%L', '--info=progress2', '--no-h'];
const incremental = ['--out-format=%i %b %n%L', '-r', '--from0', '--files-from=-', '--delete-missing-args'];
const bridge = '/usr/bin/node /opt/fam/bridge.js';

describe('buildRsyncCall', () => {
  const rows: Array<{
    name: string;
    plan: Parameters<typeof buildRsyncCall>[0];
    target: RsyncTarget;
    settings?: RsyncSettings;
    args: string[];
    stdin: string | undefined;
  }> = [
    {
      name: 'full pass, local replica',
      plan: { kind: 'full' },
      target: { path: '/srv/replica' },
      args: [...full, ...commonFull, '--', '/srv/src/', '/srv/replica/'],
      stdin: undefined,
    },
    {
      name: 'paths, local replica',
      plan: { kind: 'paths', paths: ['a', 'b/c'], deleted: 0 },
      target: { path: '/srv/replica/' },
      args: [...incremental, ...common, '--', '/srv/src/', '/srv/replica/'],
      stdin: './a\0./b/c\0',
    },
    {
      name: 'full pass, remote replica with the default remote rsync',
      plan: { kind: 'full' },
      target: { path: '/srv/www', rsh: bridge, remoteRsyncPath: 'rsync' },
      args: [...full, ...commonFull, `--rsh=${bridge}`, '--', '/srv/src/', `${BRIDGE_HOST}:/srv/www/`],
      stdin: undefined,
    },
    {
      name: 'paths, remote replica with a custom remote rsync',
      plan: { kind: 'paths', paths: ['x'], deleted: 1 },
      target: { path: '/srv/www/', rsh: bridge, remoteRsyncPath: 'sudo rsync' },
      args: [...incremental, ...common, `--rsh=${bridge}`, '--rsync-path=sudo rsync', '--', '/srv/src/', 'fam-mirror:/srv/www/'],
      stdin: './x\0',
    },
    {
      name: 'no excludes, other timeout, source with trailing slash',
      plan: { kind: 'full' },
      target: { path: '/r' },
      settings: { source: '/srv/src/', excludeFile: undefined, timeoutSec: 5 },
      args: [...full, '-a', '--force', '--ignore-errors', '--delete', '--modify-window=-1', '--timeout=5', '--', '/srv/src/', '/r/'],
      stdin: undefined,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const call = buildRsyncCall(row.plan, row.target, row.settings ?? settings);
      assert.deepEqual(call.args, row.args);
      assert.deepEqual(call.stdin, row.stdin === undefined ? undefined : Buffer.from(row.stdin, 'utf8'));
    });
  }

  // A file name is data: whatever bytes it holds, it reaches rsync only through --files-from=-,
  // prefixed with './' because rsync reads a list line starting with '#' or ';' as a comment.
  const hostile = ['-rf', '--remove-source-files', 'a\nb', '$(id)', "it's", '`id`', 'a b', 'x;rm -rf ~', 'ünï/cödé', '--rsh=sh', '#notes', ';x'];
  for (const target of [{ path: '/srv/replica' }, { path: '/srv/www', rsh: bridge }] satisfies RsyncTarget[]) {
    it(`hostile names travel only in stdin (${target.rsh === undefined ? 'local' : 'remote'})`, () => {
      const call = buildRsyncCall({ kind: 'paths', paths: hostile, deleted: 0 }, target, settings);
      assert.deepEqual(call.stdin, Buffer.from(hostile.map((p) => `./${p}\0`).join(''), 'utf8'));
      assert.deepEqual(call.stdin?.toString('utf8').split('\0').slice(0, -1), hostile.map((p) => `./${p}`));
      for (const name of hostile) {
        assert.ok(!call.args.some((a) => a.includes(name)), `${JSON.stringify(name)} leaked into argv`);
      }
      assert.deepEqual(call.args.slice(0, incremental.length), incremental);
    });
  }
});

describe('buildRsyncCalls', () => {
  const target: RsyncTarget = { path: '/srv/replica' };
  const ends = ['--', '/srv/src/', '/srv/replica/'];
  const shallow = ['--out-format=%i %b %n%L', '-d', '--from0', '--files-from=-'];
  const rows: Array<{ name: string; plan: Parameters<typeof buildRsyncCalls>[0]; calls: Array<{ args: string[]; stdin: string | undefined; paths: string[] | 'full' }> }> = [
    { name: 'full pass: one call, quick check', plan: { kind: 'full' }, calls: [{ args: [...full, ...commonFull, ...ends], stdin: undefined, paths: 'full' }] },
    { name: 'paths: one call', plan: { kind: 'paths', paths: ['a'], deleted: 0 }, calls: [{ args: [...incremental, ...common, ...ends], stdin: './a\0', paths: ['a'] }] },
    {
      name: 'paths compared by content: --ignore-times',
      plan: { kind: 'paths', paths: ['a', 'b/c'], deleted: 0, ignoreTimes: true },
      calls: [{ args: [...incremental, '--ignore-times', ...common, ...ends], stdin: './a\0./b/c\0', paths: ['a', 'b/c'] }],
    },
    {
      name: 'a directory, then shallow parents (dir/. with -d, no -r), then the named files with -I',
      plan: { kind: 'paths', paths: ['d'], deleted: 2, shallow: ['', 'a/b'], recheck: ['d/f', 'g'] },
      calls: [
        { args: [...incremental, ...common, ...ends], stdin: './d\0', paths: ['d'] },
        { args: [...shallow, ...common, ...ends], stdin: './.\0./a/b/.\0', paths: ['', 'a/b'] },
        { args: [...incremental, '--ignore-times', ...common, ...ends], stdin: './d/f\0./g\0', paths: ['d/f', 'g'] },
      ],
    },
    {
      name: 'nothing listed recursively: no empty call',
      plan: { kind: 'paths', paths: [], deleted: 1, shallow: ['a'] },
      calls: [{ args: [...shallow, ...common, ...ends], stdin: './a/.\0', paths: ['a'] }],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const calls = buildRsyncCalls(row.plan, target, settings);
      assert.deepEqual(
        calls.map((c) => ({ args: c.args, stdin: c.stdin?.toString('utf8'), paths: c.paths })),
        row.calls,
      );
    });
  }

  it('hostile names travel only in stdin, in every call', () => {
    const hostile = ['-rf', 'a\nb', '$(id)', "it's", '#notes', ';x', '--rsh=sh'];
    const calls = buildRsyncCalls({ kind: 'paths', paths: hostile, deleted: 0, shallow: hostile, recheck: hostile }, { path: '/srv/www', rsh: bridge }, settings);
    assert.equal(calls.length, 3);
    for (const call of calls) {
      for (const name of hostile) assert.ok(!call.args.some((a) => a.includes(name)), `${JSON.stringify(name)} leaked into argv`);
    }
    assert.deepEqual(calls[1]!.stdin?.toString('utf8').split('\0').slice(0, -1), hostile.map((p) => `./${p}/.`));
  });
});

describe('buildVerifyCall', () => {
  it('reads the excludes from the rule file, after --from0', () => {
    const args = buildVerifyCall({ path: '/r' }, settings).args;
    assert.ok(args.indexOf('--from0') !== -1 && args.indexOf('--from0') < args.indexOf('--exclude-from=/tmp/fam-x/excludes'), args.join(' '));
    assert.ok(!args.some((a) => a.startsWith('--exclude=')), args.join(' '));
  });
  it('has no exclude arguments without a rule file', () => {
    assert.ok(!buildVerifyCall({ path: '/r' }, { ...settings, excludeFile: undefined }).args.some((a) => a.startsWith('--exclude') || a === '--from0'));
  });
});

describe('encodeExcludeRules', () => {
  // One NUL-terminated line per pattern, read by --exclude-from under --from0, so each line means
  // what --exclude=LINE meant (rsync's man page: "- "/"+ " prefixes, "!" clears). A line starting
  // with ';' or '#' would be a comment: it is written as the explicit exclude rule "- LINE".
  const rows: Array<[patterns: string[], file: string]> = [
    [[], ''],
    [['*.tmp'], '*.tmp\0'],
    [['*.tmp', '/cache/'], '*.tmp\0/cache/\0'],
    [['#notes', ';x', ' #lead'], '- #notes\0- ;x\0 #lead\0'],
    [['- a', '+ b', '!'], '- a\0+ b\0!\0'],
    [['a\nb', 'tab\there', 'ünï'], 'a\nb\0tab\there\0ünï\0'],
  ];
  for (const [patterns, file] of rows) {
    it(JSON.stringify(patterns), () => assert.equal(encodeExcludeRules(patterns).toString('utf8'), file));
  }
});

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
      assert.deepEqual(parsePathProblems(line).map((p) => ({ path: p.path })), expected);
    });
  }
  it('keeps at most the limit', () => {
    const many = Array.from({ length: 100 }, (_, i) => `rsync: [receiver] write failed on "/r/f${i}": No space left on device (28)`).join('\n');
    assert.equal(parsePathProblems(many, 50).length, 50);
  });
});

describe('parseProgress', () => {
  const rows: Array<[string, ReturnType<typeof parseProgress>]> = [
    ['          20000   0%    0.00kB/s    0:00:00  ', { bytes: 20000, percent: 0, rate: '0.00kB/s', eta: '0:00:00' }],
    ['        6000000 100%  172.82MB/s    0:00:00 (xfr#300, to-chk=0/301)', { bytes: 6000000, percent: 100, rate: '172.82MB/s', eta: '0:00:00', filesDone: 301, filesTotal: 301 }],
    ['   1234567  45%   10.00MB/s    0:01:02 (xfr#12, ir-chk=1000/1300)', { bytes: 1234567, percent: 45, rate: '10.00MB/s', eta: '0:01:02', filesDone: 300, filesTotal: 1300 }],
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

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BRIDGE_HOST, buildRsyncCall, buildRsyncCalls, buildVerifyCall, encodeExcludeRules, type RsyncSettings, type RsyncTarget } from '../../src/rsync/args.js';

// Excludes reach rsync only through the rule file (a list of 200,000 patterns made argv too big
// for exec: E2BIG); --from0 must come before --exclude-from, which rsync reads while parsing it.
const settings: RsyncSettings = { source: '/srv/src', excludeFile: '/tmp/fam-x/excludes', timeoutSec: 30 };
const markers = ['--filter=- /.fam-mirror-fence', '--filter=- /.fam-mirror-owner'];
const base = ['-a', '--force', '--ignore-errors', '--delete', '--modify-window=-1', '--timeout=30', ...markers];
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
      args: [...full, '-a', '--force', '--ignore-errors', '--delete', '--modify-window=-1', '--timeout=5', ...markers, '--', '/srv/src/', '/r/'],
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
      assert.deepEqual(
        call.stdin?.toString('utf8').split('\0').slice(0, -1),
        hostile.map((p) => `./${p}`),
      );
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
    assert.deepEqual(
      calls[1]!.stdin?.toString('utf8').split('\0').slice(0, -1),
      hostile.map((p) => `./${p}/.`),
    );
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

/**
 * The command line as data, without spawning: every mistake people make on it (a command without
 * its arguments, a directory named like a command, a typo in a flag or a config key, a remote spec
 * without its colon …) is a row with the message it must get. A usage error is exit 2 in the CLI; a
 * MirrorError is exit 1 with its code. Rows marked `group` also build the MirrorGroup, which
 * validates the options as the CLI does next (nothing is started).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMirrorError, type MirrorErrorCode } from '../../src/errors.js';
import { MirrorGroup } from '../../src/mirror-group.js';
import { defaultStateDir, isTruthy, parseCli, UsageError, type Invocation, type MirrorRun } from '../../src/cli/args.js';
import { withinOneEdit } from '../../src/core/suggest.js';

const CWD = '/w';

function host(files: Record<string, string> = {}, env: Record<string, string> = {}) {
  return {
    env: { HOME: '/home/u', ...env },
    cwd: CWD,
    homeDir: '/home/u',
    files: {
      readText(path: string): string {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        return text;
      },
      exists: (path: string) => path in files,
      // A file with "loose" in its name is 0644; every other one 0600.
      mode: (path: string) => (path.includes('loose') ? 0o100644 : 0o100600),
    },
  };
}

type Want = { usage: RegExp } | { code: MirrorErrorCode; message: RegExp };

interface Row {
  name: string;
  argv: string[];
  files?: Record<string, string>;
  env?: Record<string, string>;
  /** The mistake shows only when the options are validated (MirrorGroup, as the CLI does next). */
  group?: boolean;
  want: Want;
}

const rows: Row[] = [
  // a command without its arguments
  { name: 'no arguments at all', argv: [], want: { usage: /^missing SRC, the directory tree to mirror \(or --watch-list FILE\)$/ } },
  { name: 'SRC without REPLICA', argv: ['src'], want: { usage: /^missing REPLICA: name at least one host or directory to mirror to$/ } },
  {
    name: 'verify alone',
    argv: ['verify'],
    want: { usage: /^verify: missing SRC and REPLICA, the tree to compare and the replicas to compare it with\n\(a directory named verify or status is given as \.\/verify or \.\/status\)$/ },
  },
  {
    name: 'verify SRC without REPLICA',
    argv: ['verify', './dst'],
    env: { INIT_MIRROR: '1' },
    want: { usage: /^verify: missing REPLICA: name at least one host or directory to compare \.\/dst with\n/ },
  },
  { name: 'status with a SRC', argv: ['status', 'src'], want: { usage: /^status takes no SRC or REPLICA \("src" given\)/ } },
  // a directory named like a command, or a command in the wrong place
  {
    name: 'a command after SRC',
    argv: ['src', 'verify', './dst'],
    want: { usage: /^"verify" is a command and goes first: fam-mirror verify \[options\] SRC REPLICA\.\.\. \(a directory of that name is given as \.\/verify, a host as verify:\)$/ },
  },
  { name: 'a command last', argv: ['--init', 'src', './dst', 'status'], want: { usage: /^"status" is a command and goes first: fam-mirror status \[options\] / } },
  { name: 'a typo of verify', argv: ['verfy', 'src', './dst'], want: { usage: /^unknown command "verfy": did you mean "verify"\? \(a directory of that name is given as \.\/verfy\)$/ } },
  { name: 'verify capitalised', argv: ['Verify', 'src', './dst'], want: { usage: /did you mean "verify"\?/ } },
  { name: 'two letters swapped in status', argv: ['stauts'], want: { usage: /^unknown command "stauts": did you mean "status"\?/ } },
  { name: 'a letter missing from status', argv: ['stats', '--json'], want: { usage: /did you mean "status"\?/ } },
  // fence, unfence, release: one local DIR
  { name: 'fence without DIR', argv: ['fence'], want: { usage: /^fence: missing DIR, the replica root \(fence DIR \[--reason TEXT\]: / } },
  { name: 'fence --reason without DIR', argv: ['fence', '--reason', 'promoted'], want: { usage: /^fence: missing DIR/ } },
  { name: 'fence with two DIRs', argv: ['fence', './a', './b'], want: { usage: /^fence takes one DIR, not 2/ } },
  { name: 'fence of a remote replica', argv: ['fence', 'web1:/srv/www'], want: { usage: /^fence: "web1:\/srv\/www" names a remote replica; run fam-mirror fence on that host/ } },
  { name: 'unfence without DIR', argv: ['unfence'], want: { usage: /^unfence: missing DIR/ } },
  { name: 'release without DIR', argv: ['release'], want: { usage: /^release: missing DIR/ } },
  { name: 'unfence --reason', argv: ['unfence', '--reason', 'x', './r'], want: { usage: /^--reason does not apply to unfence DIR/ } },
  { name: 'fence --init', argv: ['fence', '--init', './r'], want: { usage: /^--init does not apply to fence DIR/ } },
  { name: '--reason without fence', argv: ['--reason', 'x', 'src', './dst'], want: { usage: /^--reason applies to fence only \(fam-mirror fence --reason\)$/ } },
  { name: 'a directory named fence as a bare word', argv: ['fence', 'fence'], want: { usage: /^"fence" is a command and goes first/ } },
  { name: 'a source named fence after the command', argv: ['src', 'fence'], want: { usage: /^"fence" is a command and goes first/ } },
  { name: 'a typo of fence', argv: ['fense', './r'], want: { usage: /^unknown command "fense": did you mean "fence"\?/ } },
  { name: 'a typo of release', argv: ['relase', './r'], want: { usage: /did you mean "release"\?/ } },
  // an option the command cannot honour
  { name: 'verify --init', argv: ['verify', '--init', 'src', './dst'], want: { usage: /^--init does not apply to verify: it compares by checksum and changes nothing$/ } },
  { name: 'verify --dry-run', argv: ['verify', '--dry-run', 'src', './dst'], want: { usage: /^--dry-run does not apply to verify: it never changes anything anyway$/ } },
  { name: 'verify --metrics', argv: ['verify', '--metrics', '127.0.0.1:9477', 'src', './dst'], want: { usage: /^--metrics does not apply to verify \(it serves the metrics of a running mirror\)$/ } },
  { name: 'verify --on-replica-down', argv: ['verify', '--on-replica-down', 'true', 'src', './dst'], want: { usage: /^--on-replica-down does not apply to verify$/ } },
  { name: 'status --init', argv: ['status', '--init'], want: { usage: /^--init does not apply to status: it only lists the running mirrors \(status \[--json\] \[--state-dir DIR\]\)$/ } },
  { name: 'status --exclude', argv: ['status', '--exclude', '*.tmp'], want: { usage: /^--exclude does not apply to status/ } },
  { name: '--json without status', argv: ['--json', 'src', './dst'], want: { usage: /^--json applies to status only \(fam-mirror status --json\)$/ } },
  // a typo in a flag, or a flag without its value, or a value it cannot take
  { name: 'a misspelt flag', argv: ['--exlude', '*.tmp', 'src', './dst'], want: { usage: /^unknown option --exlude: did you mean --exclude\?$/ } },
  { name: 'a misspelt flag with a value', argv: ['--wach-list', 'x', './dst'], want: { usage: /^unknown option --wach-list: did you mean --watch-list\?$/ } },
  { name: 'a misspelt flag with =', argv: ['--concurency=2', 'src', './dst'], want: { usage: /^unknown option --concurency: did you mean --concurrency\?$/ } },
  { name: 'a flag like no other', argv: ['--colour', 'src', './dst'], want: { usage: /^unknown option --colour \(fam-mirror --help lists them all\)$/ } },
  { name: 'a flag with one dash', argv: ['-init', 'src', './dst'], want: { usage: /^unknown option -init: a long option takes two dashes: did you mean --init\?$/ } },
  {
    name: 'a value starting with a dash',
    argv: ['--exclude', '-foo', 'src', './dst'],
    want: { usage: /^Option '--exclude' argument is ambiguous[\s\S]*'--exclude=-XYZ'/ },
  },
  { name: 'an unknown short flag', argv: ['-x', 'src', './dst'], want: { usage: /^unknown option -x \(fam-mirror --help lists them all\)$/ } },
  { name: 'a flag without its value', argv: ['src', './dst', '--state-dir'], want: { usage: /^Option '--state-dir <value>' argument missing$/ } },
  { name: 'a boolean flag given a value', argv: ['--init=yes', 'src', './dst'], want: { usage: /^Option '--init' does not take an argument/ } },
  { name: '--concurrency in words', argv: ['--concurrency', 'lots', 'src', './dst'], want: { usage: /^--concurrency takes a whole number ≥ 1, not "lots"$/ } },
  { name: '--concurrency 0', argv: ['--concurrency', '0', 'src', './dst'], want: { usage: /^--concurrency takes a whole number ≥ 1, not "0"$/ } },
  {
    name: '--concurrency past the library limit',
    argv: ['--concurrency', '5000', 'src', './dst'],
    group: true,
    want: { code: 'ERR_OPTIONS', message: /^Option "concurrency" must be a whole number from 1 to 1024\.$/ },
  },
  { name: '--reconcile-every with a unit', argv: ['--reconcile-every', '1h', 'src', './dst'], want: { usage: /^--reconcile-every takes a number of seconds \(0 = never\), not "1h"$/ } },
  {
    name: '--strict-host-key-checking in the wrong case',
    argv: ['--strict-host-key-checking', 'Yes', 'src', './dst'],
    want: { usage: /^--strict-host-key-checking takes yes, accept-new or no, not "Yes"$/ },
  },
  { name: '--metrics on every address', argv: ['--metrics', '0.0.0.0:9477', 'src', './dst'], want: { code: 'ERR_OPTIONS', message: /only loopback addresses/ } },
  { name: '--metrics without a port', argv: ['--metrics', '127.0.0.1', 'src', './dst'], want: { code: 'ERR_OPTIONS', message: /--metrics takes HOST:PORT/ } },
  // the files the command line names
  {
    name: 'a config file that is not there',
    argv: ['--config', 'nope.json'],
    want: { code: 'ERR_CONFIG', message: /^Cannot read the config file \/w\/nope\.json: ENOENT\. Check the path and its permissions\.$/ },
  },
  {
    name: 'a config file that is not JSON',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{source: "/x"}' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/w\/c\.json is not valid JSON: / },
  },
  { name: 'a config file holding a list', argv: ['--config', 'c.json'], files: { '/w/c.json': '["/x", "web2"]' }, want: { code: 'ERR_CONFIG', message: /must hold a JSON object of options/ } },
  {
    name: 'a typo in a config key',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "exlude": ["*.tmp"]}' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/w\/c\.json has an unknown key "exlude": did you mean "exclude"\? \(keys are the library option names of README's options table\)$/ },
  },
  {
    name: 'a key like no other in the config file',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "colour": true}' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/w\/c\.json has an unknown key "colour" \(keys are the library option names/ },
  },
  {
    name: 'a CLI flag name as a config key',
    argv: [],
    files: { '/etc/fam-mirror.json': '{"source": "/x", "replicas": ["/y"], "state-dir": "/s"}' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/etc\/fam-mirror\.json has an unknown key "state-dir": did you mean "stateDir"\?/ },
  },
  {
    name: 'a MirrorGroup key in the config file',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "never": ["/x/db"]}' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/w\/c\.json has an unknown key "never"/ },
  },
  {
    name: 'a config value of the wrong type',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "concurrency": "8"}' },
    group: true,
    want: { code: 'ERR_OPTIONS', message: /^Option "concurrency" must be a whole number/ },
  },
  {
    name: 'a config exclude that is no list, with --exclude too',
    argv: ['--config', 'c.json', '--exclude', '*.bak'],
    files: { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "exclude": "*.tmp"}' },
    group: true,
    want: { code: 'ERR_OPTIONS', message: /^Option "exclude" must be a list of non-empty strings\.$/ },
  },
  {
    name: 'a config source that is empty',
    argv: ['--config', 'c.json'],
    files: { '/w/c.json': '{"source": "", "replicas": ["/y"]}' },
    want: { code: 'ERR_OPTIONS', message: /^Option "source" must be a directory path\.$/ },
  },
  {
    name: 'a system config that is not JSON',
    argv: ['src', './dst'],
    files: { '/etc/fam-mirror.json': '' },
    want: { code: 'ERR_CONFIG', message: /^The config file \/etc\/fam-mirror\.json is not valid JSON/ },
  },
  { name: 'a watch list that is not there', argv: ['--watch-list', 'roots.txt', './dst'], want: { code: 'ERR_CONFIG', message: /^Cannot read the watch list \/w\/roots\.txt: ENOENT\.$/ } },
  {
    name: 'a watch list of comments only',
    argv: ['--watch-list', 'roots.txt', './dst'],
    files: { '/w/roots.txt': '# none yet\n\n' },
    want: { usage: /^the watch list roots\.txt names no directory$/ },
  },
  {
    name: 'a watch list exclude above every root',
    argv: ['--watch-list', 'roots.txt', './dst'],
    files: { '/w/roots.txt': '- *.tmp\n/var/www\n' },
    want: { usage: /^watch list: the exclude "- \*\.tmp" comes before any root$/ },
  },
  { name: 'a relative never-replicate path', argv: ['--never-from', 'never.txt', 'src', './dst'], files: { '/w/never.txt': 'db\n' }, want: { usage: /^--never-from: "db" is not an absolute path$/ } },
  { name: 'an exclude file that is not there', argv: ['--exclude-from', 'ex.txt', 'src', './dst'], want: { code: 'ERR_CONFIG', message: /^Cannot read the exclude file \/w\/ex\.txt: ENOENT\.$/ } },
  // --passphrase-file: a secret, so a file others can read is refused, and the passphrase never appears
  { name: 'a passphrase file that is not there', argv: ['--passphrase-file', 'pw', 'src', './dst'], want: { code: 'ERR_CONFIG', message: /^Cannot read the passphrase file \/w\/pw: ENOENT\.$/ } },
  {
    name: 'a passphrase file others can read',
    argv: ['--passphrase-file', 'pw-loose', 'src', './dst'],
    files: { '/w/pw-loose': 'sekrit\n' },
    want: { code: 'ERR_CONFIG', message: /^The passphrase file \/w\/pw-loose is readable by others \(mode 0644\): make it private \(chmod 600 \/w\/pw-loose\), as ssh requires of a private key\.$/ },
  },
  {
    name: 'an empty passphrase file',
    argv: ['--passphrase-file', 'pw', 'src', './dst'],
    files: { '/w/pw': '\nsekrit\n' },
    want: { code: 'ERR_CONFIG', message: /^The passphrase file \/w\/pw has an empty first line: put the passphrase on it\.$/ },
  },
  { name: '--passphrase-file with status', argv: ['status', '--passphrase-file', 'pw'], want: { usage: /^--passphrase-file does not apply to status/ } },
  // replica specs, checked by the library
  {
    name: 'a remote spec without its colon',
    argv: ['src', 'web2/srv/www'],
    group: true,
    want: { code: 'ERR_REPLICA_SPEC', message: /must start with "\.\/" or "\.\.\/" \(or did you mean "web2:\/srv\/www"/ },
  },
  { name: 'a remote spec with a relative path', argv: ['src', 'web2:www'], group: true, want: { code: 'ERR_REPLICA_SPEC', message: /not absolute/ } },
  { name: 'a replica inside the source', argv: ['src', './src/copy'], group: true, want: { code: 'ERR_REPLICA_LOOP', message: /"\/w\/src\/copy" is the source, or lies inside it/ } },
  { name: 'the same replica twice', argv: ['src', '/b/www', '/b/www/'], group: true, want: { code: 'ERR_REPLICA_DUPLICATE', message: /"\/b\/www\/" names the same target as "\/b\/www"/ } },
];

function attempt(row: Row): unknown {
  try {
    const run = parseCli(row.argv, host(row.files, row.env));
    if (row.group && typeof run !== 'string' && 'group' in run) new MirrorGroup(run.group);
    return run;
  } catch (e) {
    return e;
  }
}

describe('parseCli: every mistyped command line gets its message', () => {
  for (const row of rows) {
    it(row.name, () => {
      const got = attempt(row);
      if ('usage' in row.want) {
        assert.ok(got instanceof UsageError, `a usage error (exit 2), got ${String(got)}`);
        assert.match(got.message, row.want.usage);
      } else {
        assert.ok(isMirrorError(got, row.want.code), `${row.want.code}, got ${String(got)}`);
        assert.match(got.message, row.want.message);
      }
    });
  }
});

function mirrorRun(argv: string[], files: Record<string, string> = {}, env: Record<string, string> = {}): MirrorRun {
  const run: Invocation = parseCli(argv, host(files, env));
  assert.ok(typeof run !== 'string' && 'group' in run, 'a mirror or verify run');
  return run;
}

describe('parseCli: what a command line means', () => {
  it('--passphrase-file: its first line is the passphrase (CRLF too), in no message', () => {
    assert.equal(mirrorRun(['--passphrase-file', 'pw', 'src', './dst'], { '/w/pw': 'correct horse\r\nsecond line\n' }).group.passphrase, 'correct horse');
    assert.equal(mirrorRun(['--passphrase-file', '/k/pw', 'src', './dst'], { '/k/pw': 'no newline' }).group.passphrase, 'no newline');
    assert.equal(mirrorRun(['src', './dst']).group.passphrase, undefined);
    const loose = attempt({ name: '', argv: ['--passphrase-file', 'loose', 'src', './dst'], files: { '/w/loose': 'sekrit\n' }, want: { usage: /./ } });
    assert.ok(isMirrorError(loose, 'ERR_CONFIG') && !loose.message.includes('sekrit'));
  });

  it('a directory named like a command, written ./verify, is a source', () => {
    const run = mirrorRun(['./verify', './dst']);
    assert.equal(run.command, 'mirror');
    assert.deepEqual(run.group.roots, [{ source: '/w/verify', exclude: [] }]);
    assert.deepEqual(run.group.replicas, ['/w/dst']);
  });

  it('help and version win over everything else', () => {
    assert.equal(parseCli(['verify', '--help'], host()), 'help');
    assert.equal(parseCli(['-v', 'src'], host()), 'version');
  });

  it('fence, unfence, release: one directory of this machine, resolved; a directory named fence is ./fence', () => {
    assert.deepEqual(parseCli(['fence', './fence', '--reason', 'promoted by keepalived'], host()), { command: 'fence', dir: `${CWD}/fence`, reason: 'promoted by keepalived' });
    assert.deepEqual(parseCli(['unfence', '/srv/www/'], host()), { command: 'unfence', dir: '/srv/www', reason: undefined });
    assert.deepEqual(parseCli(['release', 'www'], host()), { command: 'release', dir: `${CWD}/www`, reason: undefined });
    assert.equal(mirrorRun(['--take-over', 'src', './fence']).group.takeOver, true);
  });

  it('status: its state directory, from XDG_STATE_HOME, HOME or --state-dir', () => {
    assert.deepEqual(parseCli(['status', '--json'], host({}, { XDG_STATE_HOME: '/xdg' })), { command: 'status', stateDir: '/xdg/fam-mirror', json: true });
    assert.deepEqual(parseCli(['status'], host()), { command: 'status', stateDir: '/home/u/.local/state/fam-mirror', json: false });
    assert.deepEqual(parseCli(['status', '--state-dir', 'st'], host()), { command: 'status', stateDir: '/w/st', json: false });
  });

  it('flags become library options; the command line overrides the config key by key', () => {
    const run = mirrorRun(
      [
        '--config',
        'c.json',
        '--concurrency',
        '3',
        '--reconcile-every',
        '0',
        '--strict-host-key-checking',
        'accept-new',
        '--identity',
        'k',
        '--known-hosts',
        '/kh',
        '--dry-run',
        '--allow-empty-source',
        '--exclude',
        '*.bak',
        'src',
        'web2',
      ],
      { '/w/c.json': '{"source": "/x", "replicas": ["/y"], "exclude": ["*.tmp"], "quietMs": 50, "concurrency": 2}' },
      { SSH_AUTH_SOCK: '/run/agent' },
    );
    const { roots, never, ...shared } = run.group;
    assert.deepEqual(roots, [{ source: '/w/src', exclude: [] }]);
    assert.deepEqual(never, []);
    assert.deepEqual(shared, {
      replicas: ['web2'],
      exclude: ['*.tmp', '*.bak'],
      quietMs: 50,
      concurrency: 3,
      reconcileIntervalSec: 0,
      strictHostKeyChecking: 'accept-new',
      identityFiles: ['/w/k'],
      knownHostsFiles: ['/kh'],
      dryRun: true,
      allowEmptySource: true,
      stateDir: '/home/u/.local/state/fam-mirror',
      agent: '/run/agent',
    });
  });

  it('--ssh-config: repeatable files, resolved; none reads none; absent leaves the library default', () => {
    assert.deepEqual(mirrorRun(['--ssh-config', 'ssh.conf', '--ssh-config', '/etc/x', 'src', 'web2']).group.sshConfigFiles, ['/w/ssh.conf', '/etc/x']);
    assert.deepEqual(mirrorRun(['--ssh-config', 'none', 'src', 'web2']).group.sshConfigFiles, []);
    assert.equal(mirrorRun(['src', 'web2']).group.sshConfigFiles, undefined);
  });

  it('INIT_MIRROR seeds a mirror, never a verify', () => {
    assert.equal(mirrorRun(['src', './dst'], {}, { INIT_MIRROR: 'yes' }).group.initMirror, true);
    assert.equal(mirrorRun(['src', './dst'], {}, { INIT_MIRROR: '0' }).group.initMirror, undefined);
    assert.equal(mirrorRun(['verify', 'src', './dst'], {}, { INIT_MIRROR: '1' }).group.initMirror, undefined);
  });

  it('a watch list: its roots, their own excludes, the exclude and never files', () => {
    const run = mirrorRun(['--watch-list', 'roots.txt', '--exclude-from', 'ex.txt', '--never-from', 'never.txt', 'web2:/srv'], {
      '/w/roots.txt': '# roots\n/var/www\n\n/srv/uploads/\n- *.cache\n',
      '/w/ex.txt': '; droppings\n*.tmp\n',
      '/w/never.txt': '/var/www/db/\n',
    });
    assert.deepEqual(run.group.roots, [
      { source: '/var/www', exclude: [] },
      { source: '/srv/uploads', exclude: ['*.cache'] },
    ]);
    assert.deepEqual(run.group.replicas, ['web2:/srv']);
    assert.deepEqual(run.group.exclude, ['*.tmp']);
    assert.deepEqual(run.group.never, ['/var/www/db']);
  });

  it('the source and replicas may come from the config alone', () => {
    const run = mirrorRun(['--config', 'c.json'], { '/w/c.json': '{"source": "site", "replicas": ["./b"]}' });
    assert.deepEqual(run.group.roots, [{ source: '/w/site', exclude: [] }]);
    assert.deepEqual(run.group.replicas, ['./b'], 'a config replica goes to the library as written');
  });
});

describe('parseCli helpers', () => {
  const edits: Array<[string, string, boolean]> = [
    ['verify', 'verify', true],
    ['verfy', 'verify', true],
    ['verifyy', 'verify', true],
    ['vreify', 'verify', true],
    ['verity', 'verify', true],
    ['vrfy', 'verify', false],
    ['status', 'verify', false],
    ['', 'status', false],
  ];
  for (const [a, b, want] of edits) it(`withinOneEdit(${a}, ${b}) = ${want}`, () => assert.equal(withinOneEdit(a, b), want));

  const truthy: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['', false],
    ['0', false],
    ['false', false],
    ['NO', false],
    ['1', true],
    ['yes', true],
    ['true', true],
  ];
  for (const [value, want] of truthy) it(`isTruthy(${String(value)}) = ${want}`, () => assert.equal(isTruthy(value), want));

  it('defaultStateDir: a relative XDG_STATE_HOME is ignored (XDG Base Directory)', () => {
    assert.equal(defaultStateDir({ env: { XDG_STATE_HOME: 'rel', HOME: '/h' }, homeDir: '/x' }), '/h/.local/state/fam-mirror');
    assert.equal(defaultStateDir({ env: {}, homeDir: '/x' }), '/x/.local/state/fam-mirror');
  });
});

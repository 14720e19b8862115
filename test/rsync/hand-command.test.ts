/**
 * The hand command of a dry run, as data, then checked by the real parsers: `sh` reads the line and
 * the real rsync splits its -e command and starts "ssh" (a stub on PATH that records its argv).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { handArgv, rshWord, shellLine, type HandSsh } from '../../src/rsync/hand-command.js';
import { buildRsyncCall } from '../../src/rsync/args.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

after(cleanupTempDirs);

const full = { kind: 'full' } as const;
const settings = { source: '/srv/www', excludeFile: undefined, timeoutSec: 30 };
const bridged = buildRsyncCall(full, { path: '/srv/www', rsh: "sh '/opt/fam/bridge.sh'", remoteRsyncPath: 'rsync' }, settings).args;
const local = buildRsyncCall(full, { path: '/backup/www' }, settings).args;
const ssh: HandSsh = { host: 'web2', port: 22, user: undefined, identityFiles: [], knownHostsFiles: [], strictHostKeyChecking: 'yes' };

describe('handArgv: the bridge becomes OpenSSH', () => {
  const rows: Array<{ name: string; args: readonly string[]; ssh: HandSsh | undefined; rsh: string[] | undefined; dest: string }> = [
    { name: 'a local replica: the argv as it runs', args: local, ssh: undefined, rsh: undefined, dest: '/backup/www/' },
    { name: 'ssh with every default: plain ssh, the host as written', args: bridged, ssh, rsh: ['-e', 'ssh'], dest: 'web2:/srv/www/' },
    { name: 'a user and a port', args: bridged, ssh: { ...ssh, user: 'deploy', port: 2222 }, rsh: ['-e', 'ssh -p 2222'], dest: 'deploy@web2:/srv/www/' },
    {
      name: 'a key and a known_hosts file',
      args: bridged,
      ssh: { ...ssh, identityFiles: ['/k/id'], knownHostsFiles: ['/k/kh'] },
      rsh: ['-e', 'ssh -i /k/id -o UserKnownHostsFile=/k/kh'],
      dest: 'web2:/srv/www/',
    },
    {
      name: 'names with spaces and quotes',
      args: bridged,
      ssh: { ...ssh, identityFiles: ["/k/it's key"], knownHostsFiles: ['/k/a b', '/k/c'] },
      rsh: ['-e', `ssh -i '/k/it''s key' -o 'UserKnownHostsFile="/k/a b" /k/c'`],
      dest: 'web2:/srv/www/',
    },
    { name: 'accept-new said', args: bridged, ssh: { ...ssh, strictHostKeyChecking: 'accept-new' }, rsh: ['-e', 'ssh -o StrictHostKeyChecking=accept-new'], dest: 'web2:/srv/www/' },
    { name: 'an IPv6 host in brackets', args: bridged, ssh: { ...ssh, host: '::1', user: 'u' }, rsh: ['-e', 'ssh'], dest: 'u@[::1]:/srv/www/' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const out = handArgv('rsync', r.args, r.ssh);
      assert.equal(out[0], 'rsync');
      assert.equal(out.at(-1), r.dest);
      assert.equal(out.at(-2), '/srv/www/');
      assert.ok(!out.some((w) => w.includes('bridge.sh') || w.startsWith('--rsh=')), 'no bridge');
      if (r.rsh === undefined) assert.ok(!out.includes('-e'));
      else assert.deepEqual(out.slice(out.indexOf('-e'), out.indexOf('-e') + 2), r.rsh);
      // Every other word is rsync's argv as the mirror runs it.
      assert.deepEqual(
        out.filter((w, i) => i > 0 && w !== r.dest && !(r.rsh ?? []).includes(w)),
        r.args.filter((w) => !w.startsWith('--rsh=') && !w.startsWith('fam-mirror:') && w !== '/backup/www/'),
      );
    });
  }
});

describe('handArgv: the exclude rule file (removed when the mirror stops) becomes --exclude options', () => {
  const withRules = buildRsyncCall(full, { path: '/backup/www' }, { ...settings, excludeFile: '/tmp/fam-x/rules' }).args;
  it('one --exclude per pattern where the rule file was, with what each pattern says', () => {
    const out = handArgv('rsync', withRules, undefined, ['*.tmp', '#cache', 'a\nb']);
    assert.ok(!out.some((w) => w.startsWith('--exclude-from=')), 'no rule file');
    const at = out.indexOf('--exclude=*.tmp');
    assert.deepEqual(out.slice(at, at + 3), ['--exclude=*.tmp', '--exclude=#cache', '--exclude=a\nb']);
  });
  it('no pattern given: nothing in its place', () =>
    assert.deepEqual(
      handArgv('rsync', withRules, undefined).filter((w) => w.startsWith('--exclude')),
      [],
    ));
});

describe('rshWord and shellLine', () => {
  const words: Array<[string, string]> = [
    ['ssh', 'ssh'],
    ['/home/u/.ssh/id', '/home/u/.ssh/id'],
    ['a b', "'a b'"],
    ["it's", "'it''s'"],
    ['', "''"],
  ];
  for (const [w, want] of words) it(`rsh word ${JSON.stringify(w)}`, () => assert.equal(rshWord(w), want));
  it('plain options bare; paths, spaces and quotes shell-quoted', () => {
    assert.equal(
      shellLine(['rsync', '-a', '--timeout=30', '--out-format=%i %n', '--exclude=*.tmp', '-e', 'ssh -p 2', '--', '/srv/www/', "h:/it's/"]),
      `rsync -a --timeout=30 '--out-format=%i %n' '--exclude=*.tmp' -e 'ssh -p 2' -- '/srv/www/' 'h:/it'\\''s/'`,
    );
  });
});

describe('the hand command through the real sh and rsync', () => {
  it('sh and rsync hand ssh exactly the intended argv, and rsync the intended paths', async () => {
    const tmp = await makeTempDir('fam-hand-');
    const record = join(tmp, 'argv');
    // The stub is the "ssh" rsync starts: it records its argv one a line and fails (nothing is sent).
    await writeFile(join(tmp, 'ssh'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${record}'\nexit 1\n`);
    await chmod(join(tmp, 'ssh'), 0o755);
    const key = join(tmp, "it's a key");
    const argv = handArgv('rsync', bridged, { ...ssh, user: 'de ploy', port: 2222, identityFiles: [key], knownHostsFiles: [join(tmp, 'k h')], strictHostKeyChecking: 'no' });
    const line = shellLine(argv);
    await promisify(execFile)('sh', ['-c', line], { env: { ...process.env, PATH: `${tmp}:${process.env.PATH}` } }).catch(() => {});
    const seen = (await readFile(record, 'utf8')).split('\n').slice(0, -1);
    assert.deepEqual(seen.slice(0, 9), ['-p', '2222', '-i', key, '-o', `UserKnownHostsFile="${join(tmp, 'k h')}"`, '-o', 'StrictHostKeyChecking=no', '-l']);
    assert.equal(seen[9], 'de ploy');
    assert.equal(seen[10], 'web2');
    assert.equal(seen[11], 'rsync', 'then the remote rsync command');
  });
});

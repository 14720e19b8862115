/**
 * Reading ssh config files (transport/ssh-config-file.ts): line numbers, Host/Match blocks as
 * conditions, Include, missing files, and unparsable text named by file and line.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSshConfig, parseSshConfig } from '../../src/transport/ssh-config-file.js';
import { isMirrorError } from '../../src/errors.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

describe('ssh config files', () => {
  after(cleanupTempDirs);

  it('gives each directive its line and its block', () => {
    const text = '# top\nUser a\n\nHost web2 !web3\n  HostName 10.0.0.2\n\n  # note\n  IdentityFile=~/.ssh/k\nMatch all\n  Port 2\n';
    assert.deepEqual(
      parseSshConfig(text, '/c').map((e) => [e.line, e.key, e.value, e.when]),
      [
        [2, 'user', 'a', { kind: 'all' }],
        [5, 'hostname', '10.0.0.2', { kind: 'host', patterns: ['web2', '!web3'] }],
        [8, 'identityfile', '~/.ssh/k', { kind: 'host', patterns: ['web2', '!web3'] }],
        [10, 'port', '2', { kind: 'match', criteria: 'all' }],
      ],
    );
  });

  it('an unparsable line is ERR_SSH_CONFIG naming the file and line', () => {
    for (const [text, line] of [
      ['Host a\n  HostName "unterminated\n', 2],
      ['Host a\n  HostName\n', 2],
    ] as const) {
      assert.throws(
        () => parseSshConfig(text, '/home/u/.ssh/config'),
        (e) => isMirrorError(e, 'ERR_SSH_CONFIG') && e.message.startsWith(`/home/u/.ssh/config:${line}:`),
      );
    }
  });

  it('follows Include (relative to ~/.ssh, with a glob) inside the including block; a missing file is no config', async () => {
    const home = await makeTempDir('fam-sshcfg-');
    await mkdir(join(home, '.ssh', 'conf.d'), { recursive: true });
    await writeFile(join(home, '.ssh', 'config'), 'Host web2\n  Include conf.d/*.conf\nHost *\n  User z\n');
    await writeFile(join(home, '.ssh', 'conf.d', 'a.conf'), 'Port 2\nHost other\n  Port 3\n');
    const entries = await loadSshConfig([join(home, '.ssh', 'config'), join(home, 'missing')], home);
    assert.deepEqual(
      entries.map((e) => [e.file.slice(home.length), e.line, e.key, e.when]),
      [
        ['/.ssh/conf.d/a.conf', 1, 'port', { kind: 'host', patterns: ['web2'] }],
        ['/.ssh/conf.d/a.conf', 3, 'port', { kind: 'host', patterns: ['other'] }],
        ['/.ssh/config', 4, 'user', { kind: 'host', patterns: ['*'] }],
      ],
    );
  });
});

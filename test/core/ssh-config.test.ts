/**
 * The OpenSSH client configuration as applied to one host (core/ssh-config.ts), row by row: Host
 * patterns and negation, first value wins, the spec and given options beat the files, tokens, and
 * ProxyJump hops each resolved with their own config. Plain data, no I/O.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostMatches, resolveSshRoute, type SshConfigEntry, type SshDefaults, type SshGiven, type SshHostRequest } from '../../src/core/ssh-config.js';
import { isMirrorError } from '../../src/errors.js';

const defaults: SshDefaults = {
  homeDir: '/home/u',
  localUser: 'u',
  identityFiles: ['/home/u/.ssh/id_ed25519'],
  knownHostsFiles: ['/home/u/.ssh/known_hosts', '/etc/ssh/ssh_known_hosts'],
  strictHostKeyChecking: 'yes',
  connectTimeoutMs: 15_000,
  keepaliveIntervalMs: 5000,
  keepaliveCountMax: 3,
};

/** A config text to entries, as the file reader makes them (one `Host`/`Match` condition per block). */
function config(text: string, file = '/home/u/.ssh/config'): SshConfigEntry[] {
  const out: SshConfigEntry[] = [];
  let when: SshConfigEntry['when'] = { kind: 'all' };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [key, ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    if (key!.toLowerCase() === 'host') when = { kind: 'host', patterns: rest };
    else if (key!.toLowerCase() === 'match') when = { kind: 'match', criteria: value };
    else out.push({ key: key!.toLowerCase(), value, file, line: i + 1, when });
  });
  return out;
}

const route = (req: SshHostRequest, text: string, given: SshGiven = {}) => resolveSshRoute(req, config(text), given, defaults);

describe('ssh config: Host patterns', () => {
  const rows: Array<[string[], string, boolean]> = [
    [['web2'], 'web2', true],
    [['web2'], 'WEB2', true],
    [['web2'], 'web20', false],
    [['web*'], 'web20', true],
    [['web?'], 'web2', true],
    [['web?'], 'web20', false],
    [['*'], 'anything', true],
    [['*.example.org', '!c.example.org'], 'a.example.org', true],
    [['*.example.org', '!c.example.org'], 'c.example.org', false],
    [['!c.example.org', '*.example.org'], 'c.example.org', false],
    [['!web2'], 'web3', false],
    [['a', 'b'], 'b', true],
    [['a.b'], 'aXb', false],
  ];
  for (const [patterns, name, want] of rows) it(`${patterns.join(' ')} ${want ? 'matches' : 'does not match'} ${name}`, () => assert.equal(hostMatches(patterns, name), want));
});

describe('ssh config: resolution', () => {
  const file = [
    'Host web2',
    '  HostName 10.0.0.2',
    '  User deploy',
    '  Port 2222',
    '  IdentityFile ~/.ssh/web_%h_%r',
    'Host web*',
    '  User other',
    '  Port 2',
    '  IdentityFile %d/.ssh/all',
    'Host *',
    '  ConnectTimeout 7',
    '  ServerAliveInterval 4',
    '  ServerAliveCountMax 5',
  ].join('\n');

  it('first value wins; IdentityFile values add up, with ~ and %d/%h/%r', () => {
    const t = route({ alias: 'web2' }, file).target;
    assert.deepEqual(
      { hostName: t.hostName, user: t.user, port: t.port, ids: t.identityFiles, ms: t.connectTimeoutMs, ka: t.keepaliveIntervalMs, kc: t.keepaliveCountMax },
      { hostName: '10.0.0.2', user: 'deploy', port: 2222, ids: ['/home/u/.ssh/web_10.0.0.2_deploy', '/home/u/.ssh/all'], ms: 7000, ka: 4000, kc: 5 },
    );
  });
  it('the replica spec beats the file (user, port), and the file beats the defaults', () => {
    const t = route({ alias: 'web2', user: 'root', port: 22022 }, file).target;
    assert.deepEqual([t.user, t.port, t.hostName], ['root', 22022, '10.0.0.2']);
    const d = route({ alias: 'db1' }, file).target;
    assert.deepEqual([d.user, d.port, d.hostName, d.identityFiles], ['u', 22, 'db1', ['/home/u/.ssh/id_ed25519']]);
  });
  it('given options beat the file: identity files come first, known_hosts, policy and timeout replace it', () => {
    const text = `${file}\nHost *\n  UserKnownHostsFile ~/kh\n  StrictHostKeyChecking no`;
    const t = route({ alias: 'web2' }, text, { identityFiles: ['/k'], knownHostsFiles: ['/kh'], strictHostKeyChecking: 'yes', connectTimeoutMs: 900 }).target;
    assert.deepEqual([t.identityFiles[0], t.knownHostsFiles, t.strictHostKeyChecking, t.connectTimeoutMs], ['/k', ['/kh'], 'yes', 900]);
  });
  it('UserKnownHostsFile and GlobalKnownHostsFile replace their part of the defaults', () => {
    assert.deepEqual(route({ alias: 'h' }, 'UserKnownHostsFile ~/a %d/b').target.knownHostsFiles, ['/home/u/a', '/home/u/b', '/etc/ssh/ssh_known_hosts']);
    assert.deepEqual(route({ alias: 'h' }, 'GlobalKnownHostsFile /g').target.knownHostsFiles, ['/home/u/.ssh/known_hosts', '/g']);
  });
  it('HostName with %h, HostKeyAlias, IdentitiesOnly, StrictHostKeyChecking spellings', () => {
    const t = route({ alias: 'web2' }, 'Host *\n  HostName %h.example.org\n  HostKeyAlias web2-key\n  IdentitiesOnly yes\n  StrictHostKeyChecking accept-new').target;
    assert.deepEqual([t.hostName, t.hostKeyAlias, t.identitiesOnly, t.strictHostKeyChecking], ['web2.example.org', 'web2-key', true, 'accept-new']);
    for (const [v, want] of [
      ['ask', 'yes'],
      ['off', 'no'],
      ['no', 'no'],
      ['yes', 'yes'],
    ] as const) {
      assert.equal(route({ alias: 'h' }, `StrictHostKeyChecking ${v}`).target.strictHostKeyChecking, want);
    }
  });
  it('a negated pattern keeps a host out of a block', () => {
    assert.equal(route({ alias: 'web3' }, 'Host web* !web3\n  User a\nHost *\n  User b').target.user, 'b');
  });
  it('unsupported keywords and Match blocks are notes, never applied', () => {
    const r = route({ alias: 'web2' }, 'Host web2\n  ProxyCommand nc %h %p\n  Port 3\nMatch exec "true"\n  User evil\nMatch all\n  User ok');
    assert.equal(r.target.port, 3);
    assert.equal(r.target.user, 'ok');
    assert.deepEqual(r.notes, ['proxycommand (/home/u/.ssh/config:2) is not supported by fam-mirror and is ignored', 'Match exec "true" (/home/u/.ssh/config) is not supported: its block is skipped']);
  });
  it('ServerAliveInterval 0 keeps the keepalive on (a hung peer must be noticed)', () => {
    assert.equal(route({ alias: 'h' }, 'ServerAliveInterval 0').target.keepaliveIntervalMs, 5000);
  });
});

describe('ssh config: ProxyJump', () => {
  const file = [
    'Host web2',
    '  HostName 10.0.0.2',
    '  ProxyJump ops@bastion:2200,inner',
    'Host bastion',
    '  HostName 192.0.2.1',
    '  ProxyJump outer',
    'Host inner',
    '  User in',
    '  Port 23',
    '  ProxyJump ignored-for-later-hops',
    'Host outer',
    '  HostName 192.0.2.9',
  ].join('\n');

  it('hops in order, each with its own config; only the first hop follows its own ProxyJump', () => {
    const r = route({ alias: 'web2' }, file);
    assert.deepEqual(
      r.jumps.map((j) => `${j.user}@${j.hostName}:${j.port}`),
      ['u@192.0.2.9:22', 'ops@192.0.2.1:2200', 'in@inner:23'],
    );
    assert.equal(r.target.hostName, '10.0.0.2');
  });
  it('none means no hop; a URL hop and an IPv6 hop parse', () => {
    assert.deepEqual(route({ alias: 'x' }, 'ProxyJump none').jumps, []);
    assert.deepEqual(
      route({ alias: 'x' }, 'Host x\n  ProxyJump ssh://a@j1:2022,[::1]:2').jumps.map((j) => [j.user, j.hostName, j.port]),
      [
        ['a', 'j1', 2022],
        ['u', '::1', 2],
      ],
    );
  });
  it('a loop is an ERR_SSH_CONFIG error', () => {
    assert.throws(
      () => route({ alias: 'a' }, 'Host a\n  ProxyJump b\nHost b\n  ProxyJump a'),
      (e) => isMirrorError(e, 'ERR_SSH_CONFIG') && /loop/.test(e.message),
    );
  });
});

describe('ssh config: bad values name the file and line', () => {
  const rows: Array<[string, RegExp]> = [
    ['Port ssh', /config:1: port: "ssh" is not a whole number/],
    ['\nConnectTimeout -1', /config:2: connecttimeout/],
    ['IdentitiesOnly maybe', /not yes or no/],
    ['StrictHostKeyChecking sometimes', /not yes, accept-new, no or ask/],
    ['IdentityFile ~/.ssh/%C', /token %C is not supported/],
    ['ProxyJump -oProxyCommand=x', /is not a hop/],
    ['HostName -evil', /not a usable name/],
  ];
  for (const [text, want] of rows) {
    it(JSON.stringify(text), () =>
      assert.throws(
        () => route({ alias: 'h' }, text),
        (e) => isMirrorError(e, 'ERR_SSH_CONFIG') && want.test(e.message),
      ),
    );
  }
});

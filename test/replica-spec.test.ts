import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMirrorError } from '../src/errors.js';
import { parseReplicaSpec, sshReplicaId } from '../src/replica-spec.js';
import type { ParsedReplicaSpec } from '../src/types.js';

const ssh = (host: string, path: string | undefined, user?: string, port = 22): ParsedReplicaSpec => ({ kind: 'ssh', host, port, user, path });

describe('parseReplicaSpec: valid specs', () => {
  const rows: Array<[spec: string, want: ParsedReplicaSpec]> = [
    ['web2', ssh('web2', undefined)],
    ['web2:', ssh('web2', undefined)],
    ['web2:/srv/www/', ssh('web2', '/srv/www')],
    ['web2:/', ssh('web2', '/')],
    ['root@web2:/srv', ssh('web2', '/srv', 'root')],
    ['deploy@web-2.example.com', ssh('web-2.example.com', undefined, 'deploy')],
    ['10.0.0.7:/srv', ssh('10.0.0.7', '/srv')],
    ['ssh://u@h:2222/p', ssh('h', '/p', 'u', 2222)],
    ['ssh://h/p', ssh('h', '/p')],
    ['ssh://h', ssh('h', undefined)],
    ['ssh://h/', ssh('h', undefined)],
    ['ssh://h/p//', ssh('h', '/p')],
    ['[::1]:/p', ssh('::1', '/p')],
    ['u@[::1]:/p', ssh('::1', '/p', 'u')],
    ['[fe80::1%eth0]:/p', ssh('fe80::1%eth0', '/p')],
    ['ssh://[::1]:2200/p', ssh('::1', '/p', undefined, 2200)],
    ['ssh://[::1]/p', ssh('::1', '/p')],
    ['/local/dir/', { kind: 'local', id: '/local/dir', path: '/local/dir' }],
    ['/local/dir', { kind: 'local', id: '/local/dir', path: '/local/dir' }],
    ['/with:colon@and space', { kind: 'local', id: '/with:colon@and space', path: '/with:colon@and space' }],
    // Paths are normalized, so the loop and duplicate checks compare like with like.
    ['/srv//a', { kind: 'local', id: '/srv/a', path: '/srv/a' }],
    ['/srv/./a/', { kind: 'local', id: '/srv/a', path: '/srv/a' }],
    ['/tmp/x/../../var/www/m', { kind: 'local', id: '/var/www/m', path: '/var/www/m' }],
    ['web2:/srv/www/../x', ssh('web2', '/srv/x')],
    ['web2:/srv//www/./', ssh('web2', '/srv/www')],
    ['ssh://u@h:2222/p/../q', ssh('h', '/q', 'u', 2222)],
    ['web2:/..', ssh('web2', '/')],
  ];
  for (const [spec, want] of rows) {
    it(JSON.stringify(spec), () => {
      assert.deepEqual(parseReplicaSpec(spec), want);
    });
  }
});

describe('parseReplicaSpec: relative local paths', () => {
  // Only an explicit ./ or ../ (or . and ..) makes a relative spec local: "web2/srv/www" is a remote
  // spec whose colon was forgotten far more often than a directory in the current one.
  const rows: Array<[spec: string, want: string]> = [
    ['./replica', '/work/replica'],
    ['./replica/', '/work/replica'],
    ['../backup/www', '/backup/www'],
    ['.', '/work'],
    ['..', '/'],
    ['./a/../b', '/work/b'],
    ['./web2:/srv', '/work/web2:/srv'],
  ];
  for (const [spec, want] of rows) {
    it(`${JSON.stringify(spec)} from /work`, () => {
      assert.deepEqual(parseReplicaSpec(spec, '/work'), { kind: 'local', id: want, path: want });
    });
  }

  it('a relative spec without a current directory to resolve it against is refused', () => {
    assert.throws(
      () => parseReplicaSpec('./replica'),
      (err: unknown) => isMirrorError(err, 'ERR_REPLICA_SPEC') && /\.\/replica/.test(err.message),
    );
  });

  const forgotten: Array<[spec: string, hint: RegExp]> = [
    ['web2/srv/www', /must start with "\.\/" or "\.\.\/".*did you mean "web2:\/srv\/www"/],
    ['root@web2/srv', /did you mean "root@web2:\/srv"/],
    ['dir/sub', /must start with "\.\/" or "\.\.\/"/],
    ['replica/', /must start with "\.\/" or "\.\.\/"/],
    ['~/backup', /must start with "\.\/" or "\.\.\/"/],
  ];
  for (const [spec, hint] of forgotten) {
    it(`${JSON.stringify(spec)} is refused with a hint`, () => {
      assert.throws(
        () => parseReplicaSpec(spec, '/work'),
        (err: unknown) => {
          assert.ok(isMirrorError(err, 'ERR_REPLICA_SPEC'), String(err));
          assert.match(err.message, hint);
          return true;
        },
      );
    });
  }
});

describe('parseReplicaSpec: invalid specs', () => {
  // Host and user become connection parameters: a leading '-' or a space must never get through.
  const rows: Array<[name: string, spec: string]> = [
    ['empty', ''],
    ['blank', '   '],
    ['option-like host', '-oProxyCommand=x'],
    ['option-like host with path', '-oProxyCommand=x:/p'],
    ['relative remote path', 'host:relative'],
    ['relative local path', 'dir/sub'],
    ['port out of range', 'ssh://h:99999/p'],
    ['port zero', 'ssh://h:0/p'],
    ['port not a number', 'ssh://h:ssh/p'],
    ['empty port', 'ssh://h:/p'],
    ['empty ssh host', 'ssh:///p'],
    ['space in user', 'us er@h:/p'],
    ['option-like user', '-l@h:/p'],
    ['empty user', '@h:/p'],
    ['empty host after user', 'u@:/p'],
    ['newline inside', 'web2\n:/srv'],
    ['carriage return inside', 'web2:/srv\r'],
    ['NUL inside', 'web2:/s\0rv'],
    ['unclosed IPv6', '[::1:/p'],
    ['text after IPv6', '[::1]x:/p'],
    ['unbracketed IPv6', 'fe80::1'],
    ['shell metacharacters in host', 'h$(id):/p'],
    ['host ending in a dot', 'web2.:/p'],
  ];
  for (const [name, spec] of rows) {
    it(`${name}: ${JSON.stringify(spec)}`, () => {
      assert.throws(
        () => parseReplicaSpec(spec),
        (err: unknown) => {
          assert.ok(isMirrorError(err, 'ERR_REPLICA_SPEC'), `expected ERR_REPLICA_SPEC, got ${String(err)}`);
          assert.ok(err.message.includes(`"${spec}"`), `message should name the spec: ${err.message}`);
          return true;
        },
      );
    });
  }

  // decodeURIComponent throws URIError on a malformed escape; the spec parser should turn every
  // bad spec into its own error so callers can switch on the code.
  it('malformed %-escape in an ssh:// user: "ssh://%zz@h/p"', () => {
    assert.throws(
      () => parseReplicaSpec('ssh://%zz@h/p'),
      (err: unknown) => isMirrorError(err, 'ERR_REPLICA_SPEC'),
    );
  });
});

describe('sshReplicaId', () => {
  const rows: Array<[user: string | undefined, host: string, port: number, path: string, want: string]> = [
    [undefined, 'web2', 22, '/srv/www', 'web2:/srv/www'],
    ['root', 'web2', 22, '/srv', 'root@web2:/srv'],
    ['u', 'h', 2222, '/p', 'u@h:2222:/p'],
    [undefined, '::1', 22, '/p', '[::1]:/p'],
    [undefined, '::1', 2200, '/p', '[::1]:2200:/p'],
  ];
  for (const [user, host, port, path, want] of rows) {
    it(want, () => {
      assert.equal(sshReplicaId(user, host, port, path), want);
    });
  }

  // The id of a spec that names port 22 and a path reads back as the same replica.
  for (const spec of ['web2:/srv/www', 'root@web2:/srv', '[::1]:/p']) {
    it(`round-trips ${spec}`, () => {
      const parsed = parseReplicaSpec(spec);
      assert.equal(parsed.kind, 'ssh');
      if (parsed.kind !== 'ssh') return;
      assert.equal(sshReplicaId(parsed.user, parsed.host, parsed.port, parsed.path!), spec);
    });
  }
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkHostKey, fingerprintSha256, hostToken, keyTypeOf, loadKnownHosts, parseKnownHosts, type HostKeyVerdict } from '../../src/transport/known-hosts.js';

const run = promisify(execFile);

/** An SSH wire-format blob: string type, string payload (RFC 4253 §6.6). */
function makeBlob(type: string, fill: number): Buffer {
  const sshString = (data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
  };
  return Buffer.concat([sshString(Buffer.from(type)), sshString(Buffer.alloc(32, fill))]);
}

function keyField(blob: Buffer): string {
  return `${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

function hashHost(token: string, salt = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(token).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'known-hosts-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const KEY_A = makeBlob('ssh-ed25519', 1);
const KEY_B = makeBlob('ssh-ed25519', 2);
const KEY_RSA = makeBlob('ssh-rsa', 3);
const FP_A = fingerprintSha256(KEY_A);
const FP_B = fingerprintSha256(KEY_B);

const ok: HostKeyVerdict = { ok: true };
const unknown = (key: Buffer): HostKeyVerdict => ({
  ok: false,
  reason: 'unknown',
  fingerprint: fingerprintSha256(key),
  knownFingerprints: [],
});

describe('hostToken', () => {
  it('is the bare host on port 22 and [host]:port elsewhere', () => {
    assert.equal(hostToken('example.com', 22), 'example.com');
    assert.equal(hostToken('127.0.0.1', 2222), '[127.0.0.1]:2222');
    assert.equal(hostToken('::1', 2200), '[::1]:2200');
  });
});

describe('keyTypeOf', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['ed25519 blob', KEY_A, 'ssh-ed25519'],
    ['rsa blob', KEY_RSA, 'ssh-rsa'],
    ['empty buffer', Buffer.alloc(0), ''],
    ['length past the end', Buffer.from([0, 0, 0, 9, 0x61]), ''],
    ['zero length', Buffer.alloc(4), ''],
  ];
  for (const [name, blob, expected] of cases) {
    it(name, () => assert.equal(keyTypeOf(blob), expected));
  }
});

describe('parseKnownHosts', () => {
  it('keeps valid lines with marker, source and line number; skips comments, blanks and garbage', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      `host1,host2 ${keyField(KEY_A)} user@machine`,
      `  # indented comment ${keyField(KEY_A)}`,
      'garbage',
      'host-only ssh-ed25519',
      'host ssh-ed25519 !!!not-base64!!!',
      `host ssh-rsa ${KEY_A.toString('base64')}`, // type field disagrees with the blob
      'host 1024 35 1234567890', // legacy SSH1 RSA
      `@bogus host ${keyField(KEY_A)}`,
      `|1|short|short ${keyField(KEY_A)}`,
      `@revoked * ${keyField(KEY_B)}\r`,
      `@cert-authority *.example ${keyField(KEY_RSA)}`,
      `\thost3\t${keyField(KEY_RSA)}`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/tmp/kh');
    assert.deepEqual(
      entries.map(({ marker, hosts, keyType, line, source }) => ({ marker, hosts, keyType, line, source })),
      [
        { marker: undefined, hosts: 'host1,host2', keyType: 'ssh-ed25519', line: 4, source: '/tmp/kh' },
        { marker: 'revoked', hosts: '*', keyType: 'ssh-ed25519', line: 13, source: '/tmp/kh' },
        { marker: 'cert-authority', hosts: '*.example', keyType: 'ssh-rsa', line: 14, source: '/tmp/kh' },
        { marker: undefined, hosts: 'host3', keyType: 'ssh-rsa', line: 15, source: '/tmp/kh' },
      ],
    );
    assert.ok(entries[0]?.key.equals(KEY_A));
    assert.ok(entries[1]?.key.equals(KEY_B));
  });

  it('leaves source unset when none is given', () => {
    const [entry] = parseKnownHosts(`h ${keyField(KEY_A)}`);
    assert.equal(entry?.source, undefined);
    assert.equal(entry && 'source' in entry, false);
  });
});

describe('checkHostKey', () => {
  const hashedPlain = hashHost('hashed.example');
  const hashedPort = hashHost('[hashed.example]:2222');
  const cases: Array<{ name: string; lines: string[]; host: string; port: number; key: Buffer; want: HostKeyVerdict }> = [
    { name: 'plain entry', lines: [`example.com ${keyField(KEY_A)}`], host: 'example.com', port: 22, key: KEY_A, want: ok },
    { name: 'plain entry, other host', lines: [`example.com ${keyField(KEY_A)}`], host: 'example.org', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'plain entry does not match on another port', lines: [`example.com ${keyField(KEY_A)}`], host: 'example.com', port: 2222, key: KEY_A, want: unknown(KEY_A) },
    { name: 'several names, first', lines: [`a.example,b.example,10.0.0.1 ${keyField(KEY_A)}`], host: 'a.example', port: 22, key: KEY_A, want: ok },
    { name: 'several names, last', lines: [`a.example,b.example,10.0.0.1 ${keyField(KEY_A)}`], host: '10.0.0.1', port: 22, key: KEY_A, want: ok },
    { name: 'several names, prefix is not a match', lines: [`a.example,b.example ${keyField(KEY_A)}`], host: 'a.exam', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: '[host]:port on its port', lines: [`[127.0.0.1]:2222 ${keyField(KEY_A)}`], host: '127.0.0.1', port: 2222, key: KEY_A, want: ok },
    { name: '[host]:port on port 22', lines: [`[127.0.0.1]:2222 ${keyField(KEY_A)}`], host: '127.0.0.1', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: '[host]:port on a third port', lines: [`[127.0.0.1]:2222 ${keyField(KEY_A)}`], host: '127.0.0.1', port: 2223, key: KEY_A, want: unknown(KEY_A) },
    { name: '[host]:22 is never looked up', lines: [`[127.0.0.1]:22 ${keyField(KEY_A)}`], host: '127.0.0.1', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: '[host]:* wildcard port', lines: [`[127.0.0.1]:* ${keyField(KEY_A)}`], host: '127.0.0.1', port: 2200, key: KEY_A, want: ok },
    { name: 'hashed entry', lines: [`${hashedPlain} ${keyField(KEY_A)}`], host: 'hashed.example', port: 22, key: KEY_A, want: ok },
    { name: 'hashed entry, other host', lines: [`${hashedPlain} ${keyField(KEY_A)}`], host: 'other.example', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'hashed entry, uppercase lookup', lines: [`${hashedPlain} ${keyField(KEY_A)}`], host: 'HASHED.Example', port: 22, key: KEY_A, want: ok },
    { name: 'hashed [host]:port', lines: [`${hashedPort} ${keyField(KEY_A)}`], host: 'hashed.example', port: 2222, key: KEY_A, want: ok },
    { name: 'hashed [host]:port on port 22', lines: [`${hashedPort} ${keyField(KEY_A)}`], host: 'hashed.example', port: 22, key: KEY_A, want: unknown(KEY_A) },
    {
      name: 'hashed entry, changed key',
      lines: [`${hashedPlain} ${keyField(KEY_A)}`],
      host: 'hashed.example',
      port: 22,
      key: KEY_B,
      want: { ok: false, reason: 'changed', fingerprint: FP_B, knownFingerprints: [FP_A] },
    },
    { name: '* wildcard', lines: [`*.example.com ${keyField(KEY_A)}`], host: 'web1.example.com', port: 22, key: KEY_A, want: ok },
    { name: '* wildcard needs its dot', lines: [`*.example.com ${keyField(KEY_A)}`], host: 'example.com', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: '? wildcard', lines: [`web?.example ${keyField(KEY_A)}`], host: 'web7.example', port: 22, key: KEY_A, want: ok },
    { name: '? is exactly one character', lines: [`web?.example ${keyField(KEY_A)}`], host: 'web10.example', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'negation vetoes the line', lines: [`*.example,!bad.example ${keyField(KEY_A)}`], host: 'bad.example', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'negation leaves other names', lines: [`*.example,!bad.example ${keyField(KEY_A)}`], host: 'good.example', port: 22, key: KEY_A, want: ok },
    { name: 'negation alone matches nothing', lines: [`!bad.example ${keyField(KEY_A)}`], host: 'good.example', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'negated line, next line still counts', lines: [`*,!bad.example ${keyField(KEY_B)}`, `bad.example ${keyField(KEY_A)}`], host: 'bad.example', port: 22, key: KEY_A, want: ok },
    { name: 'case-insensitive pattern', lines: [`Example.COM ${keyField(KEY_A)}`], host: 'example.com', port: 22, key: KEY_A, want: ok },
    { name: 'case-insensitive host', lines: [`example.com ${keyField(KEY_A)}`], host: 'EXAMPLE.Com', port: 22, key: KEY_A, want: ok },
    { name: 'case-insensitive wildcard', lines: [`*.EXAMPLE.com ${keyField(KEY_A)}`], host: 'Web.Example.Com', port: 22, key: KEY_A, want: ok },
    {
      name: 'changed key lists the known fingerprint',
      lines: [`example.com ${keyField(KEY_A)}`],
      host: 'example.com',
      port: 22,
      key: KEY_B,
      want: { ok: false, reason: 'changed', fingerprint: FP_B, knownFingerprints: [FP_A] },
    },
    {
      name: 'other key type only counts as changed',
      lines: [`example.com ${keyField(KEY_RSA)}`],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: { ok: false, reason: 'changed', fingerprint: FP_A, knownFingerprints: [fingerprintSha256(KEY_RSA)] },
    },
    {
      name: 'one matching key among several is enough',
      lines: [`example.com ${keyField(KEY_RSA)}`, `example.com ${keyField(KEY_B)}`, `*.com ${keyField(KEY_A)}`],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: ok,
    },
    {
      name: 'revoked key',
      lines: [`@revoked example.com ${keyField(KEY_A)}`],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: { ok: false, reason: 'revoked', fingerprint: FP_A, knownFingerprints: [] },
    },
    {
      name: 'revoked beats a matching line',
      lines: [`example.com ${keyField(KEY_A)}`, `@revoked example.com ${keyField(KEY_A)}`],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: { ok: false, reason: 'revoked', fingerprint: FP_A, knownFingerprints: [FP_A] },
    },
    {
      name: 'revoked whatever its host patterns',
      lines: [`example.com ${keyField(KEY_A)}`, `@revoked elsewhere.example ${keyField(KEY_A)}`],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: { ok: false, reason: 'revoked', fingerprint: FP_A, knownFingerprints: [FP_A] },
    },
    { name: 'revoked line does not make a host known', lines: [`@revoked example.com ${keyField(KEY_B)}`], host: 'example.com', port: 22, key: KEY_A, want: unknown(KEY_A) },
    { name: 'cert-authority line is ignored', lines: [`@cert-authority *.example.com ${keyField(KEY_A)}`], host: 'web.example.com', port: 22, key: KEY_A, want: unknown(KEY_A) },
    {
      name: 'comments, blanks and garbage around a match',
      lines: ['# known', '', 'junk line', `example.com ${keyField(KEY_A)} # trailing comment`, 'x y z'],
      host: 'example.com',
      port: 22,
      key: KEY_A,
      want: ok,
    },
    { name: 'no entries at all', lines: [], host: 'example.com', port: 22, key: KEY_A, want: unknown(KEY_A) },
  ];
  for (const { name, lines, host, port, key, want } of cases) {
    it(name, () => {
      assert.deepEqual(checkHostKey(parseKnownHosts(lines.join('\n')), host, port, key), want);
    });
  }

  it('lists each known fingerprint once', () => {
    const entries = parseKnownHosts([`a ${keyField(KEY_A)}`, `a,b ${keyField(KEY_A)}`].join('\n'));
    assert.deepEqual(checkHostKey(entries, 'a', 22, KEY_B), {
      ok: false,
      reason: 'changed',
      fingerprint: FP_B,
      knownFingerprints: [FP_A],
    });
  });
});

describe('with OpenSSH tools', () => {
  let dir: string;
  let blob: Buffer;
  let keygenFingerprint: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'known-hosts-'));
    const keyFile = join(dir, 'host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', keyFile]);
    const pub = await readFile(`${keyFile}.pub`, 'utf8');
    blob = Buffer.from(pub.split(' ')[1] ?? '', 'base64');
    const { stdout } = await run('ssh-keygen', ['-l', '-f', `${keyFile}.pub`]);
    keygenFingerprint = stdout.split(' ')[1] ?? '';
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fingerprintSha256 equals ssh-keygen -l', () => {
    assert.match(keygenFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(fingerprintSha256(blob), keygenFingerprint);
    assert.equal(keyTypeOf(blob), 'ssh-ed25519');
  });

  it('matches entries hashed by ssh-keygen -H', async () => {
    const file = join(dir, 'known_hosts');
    const field = `ssh-ed25519 ${blob.toString('base64')}`;
    await writeFile(file, [`Alpha.Example,beta.example ${field}`, `[127.0.0.1]:2222 ${field}`, ''].join('\n'));
    await run('ssh-keygen', ['-H', '-f', file]);
    const entries = await loadKnownHosts([file]);
    assert.equal(entries.length, 3, 'one hashed line per name');
    for (const entry of entries) assert.ok(entry.hosts.startsWith('|1|'), entry.hosts);
    const cases: Array<[string, number, boolean]> = [
      ['alpha.example', 22, true],
      ['ALPHA.example', 22, true],
      ['beta.example', 22, true],
      ['127.0.0.1', 2222, true],
      ['127.0.0.1', 22, false],
      ['gamma.example', 22, false],
    ];
    for (const [host, port, known] of cases) {
      assert.deepEqual(checkHostKey(entries, host, port, blob), known ? ok : unknown(blob), `${host}:${port}`);
    }
  });
});

describe('host matching agrees with ssh-keygen -F', () => {
  // ssh-keygen -F does not lowercase its argument (ssh does, before lookup), so names are lowercase here.
  const cases: Array<[string, string, number]> = [
    ['example.com', 'example.com', 22],
    ['example.com', 'example.com', 2222],
    ['a.example,b.example', 'b.example', 22],
    ['[127.0.0.1]:2222', '127.0.0.1', 2222],
    ['[127.0.0.1]:2222', '127.0.0.1', 22],
    ['[127.0.0.1]:22', '127.0.0.1', 22],
    ['[127.0.0.1]:*', '127.0.0.1', 2200],
    ['*', '127.0.0.1', 2200],
    ['*.example.com', 'web1.example.com', 22],
    ['*.example.com', 'example.com', 22],
    ['web?.example', 'web10.example', 22],
    ['*.example,!bad.example', 'bad.example', 22],
    ['*.example,!bad.example', 'good.example', 22],
    ['!bad.example', 'good.example', 22],
    ['Example.COM', 'example.com', 22],
  ];
  for (const [patterns, host, port] of cases) {
    it(`${patterns} vs ${hostToken(host, port)}`, async () => {
      await withTempDir(async (dir) => {
        const file = join(dir, 'known_hosts');
        await writeFile(file, `${patterns} ${keyField(KEY_A)}\n`);
        const openssh = await findWithKeygen(file, hostToken(host, port));
        const ours = checkHostKey(parseKnownHosts(`${patterns} ${keyField(KEY_A)}`), host, port, KEY_A).ok;
        assert.equal(ours, openssh);
      });
    });
  }
});

/** Whether ssh-keygen -F finds the name; it exits 1 when nothing matches. */
async function findWithKeygen(file: string, token: string): Promise<boolean> {
  try {
    const { stdout } = await run('ssh-keygen', ['-F', token, '-f', file]);
    return stdout.includes('found: line');
  } catch (error) {
    if ((error as { code?: unknown }).code === 1) return false;
    throw error;
  }
}

describe('loadKnownHosts', () => {
  it('reads files in order, tags the source and treats a missing file as empty', async () => {
    await withTempDir(async (dir) => {
      const first = join(dir, 'first');
      const second = join(dir, 'second');
      await writeFile(first, `a ${keyField(KEY_A)}\n`);
      await writeFile(second, `# header\nb ${keyField(KEY_B)}\n`);
      const entries = await loadKnownHosts([first, join(dir, 'missing'), second]);
      assert.deepEqual(
        entries.map(({ hosts, source, line }) => ({ hosts, source, line })),
        [
          { hosts: 'a', source: first, line: 1 },
          { hosts: 'b', source: second, line: 2 },
        ],
      );
    });
  });

  it('propagates errors other than ENOENT', async () => {
    await withTempDir(async (dir) => {
      await assert.rejects(loadKnownHosts([dir]), { code: 'EISDIR' });
    });
  });
});

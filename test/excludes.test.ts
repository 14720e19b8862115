/**
 * Excludes reach rsync through a private rule file, never argv: with real rsync, the file means
 * exactly what `--exclude=PATTERN` meant (hostile patterns included), and a mirror with 200,000
 * excludes seeds, syncs and verifies a local and an ssh replica (argv made every exec fail: E2BIG).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeExcludeFile } from '../src/rsync/exclude-file.js';
import { Mirror } from '../src/mirror.js';
import { buildRsyncCall } from '../src/rsync/args.js';
import type { PlannedEvent } from '../src/types.js';
import { startSshdHosts, stopAll, type SshdHost } from './helpers/sshd.js';
import { listRoot, cleanupTempDirs, makeTempDir, waitFor } from './helpers/tree.js';

const run = promisify(execFile);

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

/** Names that meet the hostile patterns below; each is a file at the top and below sub/. */
const NAMES = ['#hash', ';semi', ' lead', 'trail ', 'a.tmp', 'keep.tmp', 'x\ny', 'dash', '- dash', 'plus', 'ünï', 'deep', 'normal'];

const PATTERN_LISTS: Array<[name: string, patterns: string[]]> = [
  ['comment-like, spaces, newline, prefixes, anchors', ['#hash', ';semi', ' lead', 'trail ', '+ keep.tmp', '*.tmp', 'x\ny', '- dash', '/sub/deep', 'ü*']],
  ['a lone "!" clears what came before', ['*.tmp', '!', '#hash', 'plus']],
  ['directory-only and ** rules', ['sub/', '**/deep']],
];

async function rsyncNames(args: string[], stdin: Buffer | undefined): Promise<string[]> {
  const child = execFile('rsync', ['--dry-run', ...args], { encoding: 'buffer', maxBuffer: 1 << 24 });
  // A full pass reads no list: rsync may exit before taking its stdin, and that EPIPE is no failure.
  child.stdin!.on('error', () => {});
  child.stdin!.end(stdin ?? Buffer.alloc(0));
  const out = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString('utf8')));
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`rsync exited ${code}`))));
  });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

describe('the exclude rule file, with real rsync', () => {
  let src: string;
  let dst: string;
  before(async () => {
    src = await makeTempDir('fam-ex-src-');
    dst = await makeTempDir('fam-ex-dst-');
    await mkdir(join(src, 'sub'));
    for (const n of NAMES) {
      await writeFile(join(src, n), n);
      await writeFile(join(src, 'sub', n), n);
    }
  });

  for (const [name, patterns] of PATTERN_LISTS) {
    for (const kind of ['full', 'paths'] as const) {
      it(`${name}: the same names as --exclude in argv (${kind === 'full' ? 'full pass' : 'incremental batch'})`, async () => {
        const file = await writeExcludeFile(patterns);
        try {
          assert.equal((await stat(file.path!)).mode & 0o777, 0o600, 'the rule file is private');
          const plan: Parameters<typeof buildRsyncCall>[0] = kind === 'full' ? { kind: 'full' } : { kind: 'paths', paths: [...NAMES, 'sub'], deleted: 0 };
          const call = buildRsyncCall(plan, { path: dst }, { source: src, excludeFile: file.path, timeoutSec: 30 });
          const viaArgv = buildRsyncCall(plan, { path: dst }, { source: src, excludeFile: undefined, timeoutSec: 30 });
          const reference = [...viaArgv.args.slice(0, viaArgv.args.indexOf('--')), ...patterns.map((p) => `--exclude=${p}`), ...viaArgv.args.slice(viaArgv.args.indexOf('--'))];
          const got = await rsyncNames(call.args, call.stdin);
          assert.deepEqual(got, await rsyncNames(reference, viaArgv.stdin));
          // Every name is a file at the top and in sub/; rsync also lists ./ and sub/ themselves.
          assert.ok(got.length > 2 && got.length < 2 * NAMES.length + 2, `some names sent, some excluded: ${got.length}`);
        } finally {
          await file.remove();
        }
        await assert.rejects(stat(file.path!), { code: 'ENOENT' }, 'removed');
      });
    }
  }
});

describe('a mirror with 200,000 excludes', () => {
  let host: SshdHost;
  before(async () => {
    [host] = (await startSshdHosts(1)) as [SshdHost];
  });

  const many = (): string[] => [...Array.from({ length: 200_000 }, (_, i) => `/not-here/file-${i}.bin`), '*.tmp', '#notes'];

  it('seeds, syncs and verifies a local and an ssh replica', async () => {
    const src = await makeTempDir('fam-ex200k-src-');
    const local = await makeTempDir('fam-ex200k-local-');
    const remote = await makeTempDir('fam-ex200k-remote-');
    await writeFile(join(src, 'index.html'), 'index\n');
    await writeFile(join(src, 'draft.tmp'), 'never sent\n');
    await writeFile(join(src, '#notes'), 'never sent either\n');
    const ssh = `ssh://${host.user}@127.0.0.1:${host.port}${remote}`;
    const mirror = new Mirror({ source: src, replicas: [local, ssh], exclude: many(), initMirror: true, identityFiles: [host.identityFile], knownHostsFiles: [host.knownHostsFile], quietMs: 5 });
    const problems: string[] = [];
    mirror.on('problem', (e) => problems.push(`${e.code} ${e.message}`));
    try {
      await mirror.start();
      assert.deepEqual(
        mirror.status().map((s) => s.lastError),
        [undefined, undefined],
        'no rsync failed',
      );
      await writeFile(join(src, 'later.html'), 'later\n');
      await writeFile(join(src, 'later.tmp'), 'x');
      const flushed = await mirror.flush({ timeoutMs: 30_000 });
      assert.equal(flushed.complete, true, `behind: ${flushed.behind.join(', ')}; ${problems.join('; ')}`);
      for (const dir of [local, remote]) assert.deepEqual((await listRoot(dir)).sort(), ['index.html', 'later.html'], dir);
      for (const r of await mirror.verify()) assert.equal(r.identical, true, `${r.replica}: ${r.differences.join(', ')}`);
    } finally {
      await mirror.close();
    }
    assert.deepEqual(problems, []);
  });

  it('the rule file is private while the mirror runs and gone once it is closed', async () => {
    const src = await makeTempDir('fam-ex-dry-src-');
    const dst = await makeTempDir('fam-ex-dry-dst-');
    await writeFile(join(src, 'a.txt'), 'a\n');
    const mirror = new Mirror({ source: src, replicas: [dst], exclude: ['*.tmp'], dryRun: true, initMirror: true, quietMs: 5 });
    const planned: PlannedEvent[] = [];
    mirror.on('planned', (e) => planned.push(e));
    let file: string | undefined;
    try {
      await mirror.start();
      await waitFor(() => planned.length > 0, { what: 'the planned seed' });
      const arg = planned[0]!.args.find((a) => a.startsWith('--exclude-from='));
      assert.ok(arg !== undefined && !planned[0]!.args.some((a) => a.startsWith('--exclude=')), planned[0]!.args.join(' '));
      file = arg.slice('--exclude-from='.length);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await run('stat', ['-c', '%a', join(file, '..')])).stdout.trim(), '700');
    } finally {
      await mirror.close();
    }
    await assert.rejects(stat(join(file, '..')), { code: 'ENOENT' }, 'its directory is removed at close');
  });
});

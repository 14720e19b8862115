/**
 * `fam-mirror --dry-run`, by spawning the built CLI (npm test builds first), on a local replica and
 * on a real sshd host: "would" wording only, no progress, nothing written on the replica nor any
 * state, and a hand command that really does the job when the admin runs it through sh.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnCli } from '../helpers/cli.js';
import { startSshdHosts, stopAll } from '../helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from '../helpers/tree.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

async function dryRun(args: string[], cwd: string, xdg: string): Promise<string> {
  const r = spawnCli(['--dry-run', '--init', ...args], { cwd, env: { XDG_STATE_HOME: xdg } });
  try {
    await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: `the dry run's ready line:\n${r.stdout()}${r.stderr()}` });
  } finally {
    r.child.kill('SIGTERM');
  }
  assert.equal(await r.exit, 0, r.stderr());
  return r.stdout();
}

/** The one `by hand:` command of the output, run through sh as an admin would paste it. */
async function runByHand(out: string): Promise<string> {
  const lines = out.split('\n').filter((l) => l.startsWith('  by hand: '));
  assert.equal(lines.length, 1, out);
  const cmd = lines[0]!.slice('  by hand: '.length);
  await promisify(execFile)('sh', ['-c', cmd], { timeout: 30_000 });
  return cmd;
}

async function seedTree(src: string): Promise<void> {
  await mkdir(join(src, 'sub dir'), { recursive: true });
  await writeFile(join(src, 'index.html'), 'hello\n');
  await writeFile(join(src, "sub dir/it's here"), 'quoted\n');
}

function assertHonest(out: string): void {
  assert.doesNotMatch(out, / synced |seeded and|seeding first| progress /, `nothing claimed as done:\n${out}`);
  assert.doesNotMatch(out, /bridge\.sh|--rsh=|fam-mirror:\//, `no internal bridge:\n${out}`);
  assert.doesNotMatch(out, /\d+%/, `no progress noise:\n${out}`);
  assert.match(out, /starting .* \(dry run: would seed first\)/);
  assert.match(out, /dry run: every replica would be seeded \(nothing sent\); watching/);
  assert.match(out, / {2}would send "index\.html" \(new\)\n/);
  assert.match(out, / {2}would send "sub dir\/it's here" \(new\)\n/);
}

describe('fam-mirror --dry-run', () => {
  it('--init SRC ./replica: says what it would do, writes nothing, and its hand command does it', async () => {
    const tmp = await makeTempDir('fam-cli-dry-local-');
    const src = join(tmp, 'src');
    await seedTree(src);
    await writeFile(join(src, 'scratch.tmp'), 'excluded\n');
    const out = await dryRun(['--exclude', '*.tmp', src, './replica'], tmp, join(tmp, 'xdg'));
    assertHonest(out);
    assert.match(out, new RegExp(`dry run: ${join(tmp, 'replica')}, a full pass: would send 2 files, would delete 0 entries`));
    assert.match(out, / {2}would create the replica directory /);
    assert.equal(existsSync(join(tmp, 'replica')), false, 'the replica was not made');
    assert.equal(existsSync(join(tmp, 'xdg')), false, 'no state written');
    const cmd = await runByHand(out);
    assert.match(cmd, /^rsync .* '--exclude=\*\.tmp' -- '[^']+\/src\/' '[^']+\/replica\/'$/);
    assert.equal(existsSync(join(tmp, 'replica', 'scratch.tmp')), false, 'the exclude holds by hand too');
    await rm(join(src, 'scratch.tmp'));
    await assertTreesEqual(src, join(tmp, 'replica'), 'the hand command seeds the replica');
  });

  it('an ssh replica: "would delete" what the replica has too much, the rsync -e ssh line an admin can run', async () => {
    const [h] = await startSshdHosts(1);
    const tmp = await makeTempDir('fam-cli-dry-ssh-');
    const src = join(tmp, 'src');
    const dst = join(tmp, 'dst');
    await seedTree(src);
    await mkdir(dst);
    await writeFile(join(dst, 'stale.txt'), 'only on the replica\n');
    // The replica as it was, modes and times kept, to compare with after the run.
    const before = join(await makeTempDir('fam-cli-dry-ssh-before-'), 'dst');
    await promisify(execFile)('cp', ['-a', dst, before]);
    const spec = `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`;
    const out = await dryRun(['--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, '--state-dir', join(tmp, 'state'), src, spec], tmp, join(tmp, 'xdg'));
    assertHonest(out);
    assert.match(out, /a full pass: would send 2 files, would delete 1 entry, /);
    assert.match(out, / {2}would delete "stale\.txt"\n/);
    assert.deepEqual(await diffTrees(before, dst), [], 'the replica is untouched');
    assert.deepEqual(await readdir(tmp).then((n) => n.filter((x) => x === 'state' || x === 'xdg')), [], 'no state written');
    const cmd = await runByHand(out);
    assert.ok(cmd.includes(` -e 'ssh -p ${h!.port} -i ${h!.identityFile} -o UserKnownHostsFile=${h!.knownHostsFile}' `), cmd);
    assert.ok(cmd.endsWith(` '${h!.user}@127.0.0.1:${dst}/'`), cmd);
    await assertTreesEqual(src, dst, 'the hand command over OpenSSH brings the replica in step');
  });
});

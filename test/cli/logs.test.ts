/**
 * The command's log as a service manager and a script see it, by spawning the built CLI: levels on
 * their streams, `--log-format json` lines that parse, no timestamps when stderr is the journal
 * (JOURNAL_STREAM naming that very file), one message per failure (an unknown host key against a
 * real sshd), a closed stdout and a metrics port in use as coded errors, and the "stopped" line.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type AddressInfo } from 'node:net';
import { fstatSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { startSshd, stopAll } from '../helpers/sshd.js';
import { cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;
const STACK = /\n\s+at .+\(|node:internal|unexpected failure/;

function run(args: string[], env: NodeJS.ProcessEnv = {}, stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe']) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DEBUG: '', ...env }, stdio: stdio as ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))).finally(() => clearTimeout(timer));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function tree(prefix: string) {
  const tmp = await makeTempDir(prefix);
  const [src, dst] = [join(tmp, 'src'), join(tmp, 'dst')];
  await mkdir(src);
  await mkdir(dst);
  await writeFile(join(src, 'a.txt'), 'a\n');
  return { tmp, src, dst, env: { XDG_STATE_HOME: join(tmp, 'xdg') } };
}

describe('fam-mirror logs: levels, formats, journald', () => {
  it('--log-format json: every line of both streams is one JSON object with time, level, event, message; a batch has replica, paths, bytes, ms', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-json-');
    const r = run(['--init', '--log-format', 'json', '--state-dir', join(tmp, 'state'), src, dst], env);
    try {
      await waitFor(() => /"event":"ready"/.test(r.stdout()), { what: 'the ready line', timeoutMs: 20_000 });
      await writeFile(join(src, 'b.txt'), 'bb\n');
      await waitFor(() => /"event":"synced"/.test(r.stdout()), { what: 'a synced line', timeoutMs: 20_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const lines = [...r.stdout().split('\n'), ...r.stderr().split('\n')].filter((l) => l !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const o of parsed) {
      assert.match(String(o.time), ISO, JSON.stringify(o));
      assert.ok(['error', 'warn', 'info'].includes(String(o.level)), JSON.stringify(o));
      assert.equal(typeof o.event, 'string');
      assert.equal(typeof o.message, 'string');
    }
    const synced = parsed.find((o) => o.event === 'synced');
    assert.ok(synced !== undefined);
    assert.equal(synced.replica, dst);
    assert.equal(synced.paths, 1);
    assert.equal(typeof synced.bytes, 'number');
    assert.equal(typeof synced.ms, 'number');
    const seeded = parsed.find((o) => o.event === 'full-pass');
    assert.equal(seeded?.reason, 'seed', JSON.stringify(parsed));
    assert.equal(parsed.at(-1)?.event, 'stopped');
  });

  it('stderr is the journal (JOURNAL_STREAM names it): no timestamps, syslog priority prefixes; info <6>, errors <3>', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-journal-');
    const logFile = join(tmp, 'journal.log');
    const fd = openSync(logFile, 'a');
    const st = fstatSync(fd);
    const missing = join(tmp, 'no', 'such');
    const r = run(['--state-dir', join(tmp, 'state'), src, dst, missing], { ...env, JOURNAL_STREAM: `${st.dev}:${st.ino}` }, ['ignore', fd, fd]);
    closeSync(fd);
    try {
      await waitFor(() => /watching \(ready in/.test(readFileSync(logFile, 'utf8')), { what: 'ready', timeoutMs: 20_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0);
    const text = readFileSync(logFile, 'utf8');
    assert.doesNotMatch(text, ISO);
    for (const line of text.split('\n').filter((l) => l !== '')) assert.match(line, /^<[346]>\S/, line);
    assert.match(text, /^<6>.*watching \(ready in/m);
    assert.match(text, new RegExp(`^<3>${missing}: failed ERR_TARGET_MISSING`, 'm'));
    assert.match(text, /^<6>stopped \(SIGTERM\)/m);
  });

  it('without the journal: timestamps; info on stdout, errors on stderr; --log-format plain drops the timestamps', async () => {
    for (const format of ['auto', 'plain'] as const) {
      const { src, dst, tmp, env } = await tree(`fam-log-${format}-`);
      const missing = join(tmp, 'no', 'such');
      const r = run(['--log-format', format, '--state-dir', join(tmp, 'state'), src, dst, missing], { ...env, JOURNAL_STREAM: '1:2' });
      try {
        await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready', timeoutMs: 20_000 });
      } finally {
        r.child.kill('SIGTERM');
      }
      assert.equal(await r.exit, 0, r.stderr());
      const stamp = format === 'auto' ? `${ISO.source} ` : '';
      assert.match(r.stderr(), new RegExp(`^${stamp}${missing}: failed ERR_TARGET_MISSING`, 'm'));
      assert.doesNotMatch(r.stdout(), /ERR_TARGET_MISSING/);
      assert.match(r.stdout(), new RegExp(`^${stamp}stopped \\(SIGTERM\\): `, 'm'));
      if (format === 'plain') assert.doesNotMatch(r.stdout() + r.stderr(), ISO);
    }
  });
});

describe('fam-mirror logs: full passes say what they did', () => {
  it('a drift pass is one line (why, how many, a sample), never also a generic "synced full pass" line', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-drift-');
    await writeFile(join(dst, 'stray.txt'), 'made on the replica\n');
    const r = run(['--reconcile-every', '2', '--state-dir', join(tmp, 'state'), src, dst], env);
    try {
      await waitFor(() => /drift pass \(start-up\) on /.test(r.stderr()), { what: 'the drift pass', timeoutMs: 20_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const all = r.stdout() + r.stderr();
    // The root's own times ("./"), the stray file deleted, the file the events never named sent.
    assert.ok(r.stderr().includes(`drift pass (start-up) on ${dst} repaired 3 paths: "./", "stray.txt", "a.txt"`), r.stderr());
    assert.equal(all.match(/drift pass/g)?.length, 1, all);
    assert.doesNotMatch(all, /synced full pass|full pass \(/);
  });
});

describe('fam-mirror logs: one message per failure', () => {
  it('an unknown host key is said once, and names the known_hosts file in use', async () => {
    const h = await startSshd();
    const { src, tmp, env } = await tree('fam-log-hostkey-');
    const knownHosts = join(tmp, 'known hosts');
    await writeFile(knownHosts, '');
    const r = run(['--known-hosts', knownHosts, '--identity', h.identityFile, '--state-dir', join(tmp, 'state'), src, `ssh://${h.user}@127.0.0.1:${h.port}${tmp}/dst`], env);
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready', timeoutMs: 20_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const all = r.stdout() + r.stderr();
    assert.equal(all.match(/is not known/g)?.length, 1, all);
    assert.match(r.stderr(), /ERR_HOST_KEY_UNKNOWN/);
    assert.ok(r.stderr().includes(`ssh-keyscan -p ${h.port} '127.0.0.1' >> '${knownHosts}'`), r.stderr());
  });

  it('a replica down: one line, however many retries fail the same way', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-down-');
    const key = join(tmp, 'id_ed25519');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    await writeFile(join(tmp, 'fam.json'), JSON.stringify({ retryMinMs: 20, retryMaxMs: 50 }));
    const down = 'root@127.0.0.1:1:/srv'; // nothing listens on port 1 of 127.0.0.1
    // The ssh debug log counts the attempts; the log proper must not.
    const r = run(['--config', join(tmp, 'fam.json'), '--identity', key, '--state-dir', join(tmp, 'state'), src, dst, 'ssh://root@127.0.0.1:1/srv'], { ...env, DEBUG: 'fam-mirror:ssh*' });
    const attempts = () => r.stderr().match(/fam-mirror:ssh:root@127\.0\.0\.1:1 connection closed/g)?.length ?? 0;
    try {
      await waitFor(() => attempts() >= 5, { what: 'five failed attempts', timeoutMs: 20_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const said = `${r.stdout()}${r.stderr()}`.split('\n').filter((l) => l.includes(down) && !l.includes('fam-mirror:ssh') && !l.includes(' starting '));
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(said[0]!, /down, retrying: ERR_SSH_CONNECT Could not connect to 127\.0\.0\.1:1/);
  });
});

describe('fam-mirror: a closed stdout, a metrics port in use, the stopped line', () => {
  it('status with its reader gone (`| head -1`): no stack trace, exit 0', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-epipe-status-');
    const state = join(tmp, 'state');
    const m = run(['--state-dir', state, src, dst], env);
    try {
      await waitFor(() => /watching \(ready in/.test(m.stdout()), { what: 'ready', timeoutMs: 20_000 });
      const s = run(['status', '--state-dir', state], env);
      s.child.stdout!.destroy();
      assert.equal(await s.exit, 0, s.stderr());
      assert.doesNotMatch(s.stderr(), STACK);
    } finally {
      m.child.kill('SIGTERM');
    }
    assert.equal(await m.exit, 0, m.stderr());
  });

  it('the main job with stdout closed: one ERR_STDOUT_CLOSED line on stderr, and it goes on mirroring', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-epipe-main-');
    const r = run(['--state-dir', join(tmp, 'state'), src, dst], env);
    try {
      await waitFor(() => /watching \(ready in/.test(r.stdout()), { what: 'ready', timeoutMs: 20_000 });
      r.child.stdout!.destroy();
      for (let i = 0; i < 3; i++) {
        await writeFile(join(src, `f${i}.txt`), `${i}\n`);
        await waitFor(async () => (await readFile(join(dst, `f${i}.txt`), 'utf8').catch(() => '')) === `${i}\n`, { what: `f${i}.txt on the replica`, timeoutMs: 20_000 });
      }
      await waitFor(() => /ERR_STDOUT_CLOSED/.test(r.stderr()), { what: 'the closed stdout said', timeoutMs: 10_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(r.stderr().match(/ERR_STDOUT_CLOSED/g)?.length, 1, r.stderr());
    assert.doesNotMatch(r.stderr(), STACK);
    assert.ok(existsSync(join(dst, 'f2.txt')));
  });

  it('--metrics on a port in use: ERR_METRICS_PORT, exit 1, no stack trace', async () => {
    const { src, dst, tmp, env } = await tree('fam-log-metrics-');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = run(['--metrics', `127.0.0.1:${port}`, '--state-dir', join(tmp, 'state'), src, dst], env);
      assert.equal(await r.exit, 1, r.stdout() + r.stderr());
      assert.match(r.stderr(), new RegExp(`127\\.0\\.0\\.1:${port}.*in use.*\\(ERR_METRICS_PORT\\)`));
      assert.doesNotMatch(r.stderr(), STACK);
      // With --log-format json the last word is JSON too.
      const j = run(['--log-format', 'json', '--metrics', `127.0.0.1:${port}`, '--state-dir', join(tmp, 'state'), src, dst], env);
      assert.equal(await j.exit, 1);
      const last = JSON.parse(j.stderr().trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual([last.level, last.event, last.code], ['error', 'fatal', 'ERR_METRICS_PORT']);
    } finally {
      blocker.close();
    }
  });
});

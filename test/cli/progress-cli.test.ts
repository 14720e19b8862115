/**
 * Progress without a terminal, by spawning the built CLI (npm test builds first) on a seed of a few
 * thousand files in many directories (so rsync's file list grows while it sends), stdout to a pipe:
 * at most one line per replica every 5 s, percents that never go back, one unit system.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { assertTreesEqual, cleanupTempDirs, makeTempDir, waitFor } from '../helpers/tree.js';

after(cleanupTempDirs);

describe('fam-mirror progress in a log (stdout not a terminal)', () => {
  it('a seed of 3,000 files: a line per replica every 5 s at most, percents never back, KiB/MiB only', async () => {
    const tmp = await makeTempDir('fam-cli-progress-');
    const src = join(tmp, 'src');
    const [one, two] = [join(tmp, 'one'), join(tmp, 'two')];
    for (let d = 0; d < 60; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 50 }, (_, f) => writeFile(join(src, `d${d}`, `f${f}`), Buffer.alloc(8_000 + ((d * 50 + f) % 7) * 1024, d))));
    }
    // rsync as found on PATH, slowed to ~3 MiB/s so the ~30 MiB seed lasts some 10 s.
    const bin = join(tmp, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'rsync'), `#!/bin/sh\n[ "$1" = --version ] && exec ${await realRsync()} "$@"\nexec ${await realRsync()} --bwlimit=3000 "$@"\n`);
    await chmod(join(bin, 'rsync'), 0o755);
    const r = spawnCli(['--init', '--state-dir', join(tmp, 'state'), src, one, two], { env: { PATH: `${bin}:${process.env.PATH}`, XDG_STATE_HOME: join(tmp, 'xdg') } });
    try {
      await waitFor(() => /seeded and watching/.test(r.stdout()), { what: 'the slowed seed', timeoutMs: 60_000 });
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal(await r.exit, 0, r.stderr());
    const out = r.stdout();
    await assertTreesEqual(src, one, 'replica one');
    await assertTreesEqual(src, two, 'replica two');
    // The seed's lines: a drift pass may follow it, with lines of its own that start over.
    const all = out.split('\n').filter((l) => l !== '');
    const lines = all.slice(0, all.findIndex((l) => /seeded and watching/.test(l)) + 1);
    const at = (l: string) => Date.parse(l.slice(0, l.indexOf(' ')));
    const start = at(lines.find((l) => / starting /.test(l))!);
    const ready = at(lines.find((l) => /seeded and watching/.test(l))!);
    assert.ok(ready - start >= 6_000, `the seed lasted ${ready - start} ms: too short to show a line`);
    assert.doesNotMatch(out, /[kMG]B\/s/, 'no decimal-looking rsync units');
    for (const replica of [one, two]) {
      const mine = lines.filter((l) => l.includes(` progress ${replica}: `));
      assert.ok(mine.length >= 1, `${replica}: a line in a ${ready - start} ms seed:\n${out}`);
      assert.ok(mine.length <= Math.floor((ready - start) / 5_000), `${replica}: ${mine.length} lines in ${ready - start} ms:\n${mine.join('\n')}`);
      for (let i = 1; i < mine.length; i++) assert.ok(at(mine[i]!) - at(mine[i - 1]!) >= 5_000, `5 s apart:\n${mine[i - 1]}\n${mine[i]}`);
      const percents = mine
        .map((l) => / (\d+)% /.exec(l)?.[1])
        .filter((p) => p !== undefined)
        .map(Number);
      for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `${replica}: percent went back: ${percents.join(', ')}`);
      for (const l of mine) assert.match(l, /: (\d+% \d+\/\d+ files, |(\d+ files checked, )?listing more, )[\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)\/s/);
    }
  });
});

async function realRsync(): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('sh', ['-c', 'command -v rsync'], { encoding: 'utf8' }).trim();
}

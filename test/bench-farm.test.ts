import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseReplicaCounts } from '../bench/lib/args.js';
import { createCpuMeter, parseCpuStat, parseProcStat } from '../bench/lib/cpu.js';
import { ratioValue, renderTable, targetMet } from '../bench/lib/report.js';
import type { RunEnvironment } from '../bench/lib/env.js';
import { VisibilityWatch } from '../bench/lib/visible.js';
import { FARM_TARGETS, farm, farmRatios } from '../bench/scenarios/farm.js';
import { scenarios } from '../bench/scenarios/index.js';
import { cleanupTempDirs, makeTempDir } from './helpers/tree.js';

after(() => cleanupTempDirs());

/** A bounded busy loop: about 150 ms of CPU. */
const BUSY_150_MS = 'let x = 0; const end = Date.now() + 150; while (Date.now() < end) x++;';

describe('bench farm: --replicas', () => {
  const good: [string, number[]][] = [
    ['16,4,32', [16, 4, 32]],
    ['4', [4]],
    [' 8 , 2 ', [8, 2]],
    ['64', [64]],
  ];
  for (const [text, want] of good) it(`"${text}" → ${want.join(',')}`, () => assert.deepEqual(parseReplicaCounts(text), want));
  const bad: [string, RegExp][] = [
    ['', /"" is not a whole number from 1 to 64 .*--replicas 16,4,32/],
    ['0', /"0" is not a whole number/],
    ['65', /"65" is not a whole number from 1 to 64/],
    ['4,x', /"x" is not a whole number/],
    ['4.5', /"4.5" is not a whole number/],
    ['4,,8', /"" is not a whole number/],
    ['4,4', /4 is listed twice/],
  ];
  for (const [text, re] of bad) it(`"${text}" is refused`, () => assert.throws(() => parseReplicaCounts(text), re));
});

describe('bench farm: CPU figures', () => {
  it('reads usage_usec (and user/system) from cpu.stat', () => {
    assert.deepEqual(parseCpuStat('usage_usec 307654\nuser_usec 300000\nsystem_usec 7654\nnice_usec 0\n'), { usageUsec: 307654, userUsec: 300000, systemUsec: 7654 });
    assert.deepEqual(parseCpuStat('usage_usec 5\n'), { usageUsec: 5, userUsec: undefined, systemUsec: undefined });
    assert.equal(parseCpuStat('user_usec 5\n'), undefined);
    assert.equal(parseCpuStat(''), undefined);
  });

  it('reads ppid and utime+stime+cutime+cstime from /proc/PID/stat, whatever comm holds', () => {
    const tail = 'S 77 1 1 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 5 1000 10';
    assert.deepEqual(parseProcStat(`123 (rsync) ${tail}`), { ppid: 77, ticks: 110 });
    assert.deepEqual(parseProcStat(`123 (a) (b c) ${tail}`), { ppid: 77, ticks: 110 });
    assert.equal(parseProcStat('123 rsync S 1'), undefined);
    assert.equal(parseProcStat('123 (x) S'), undefined);
  });

  it('counts a busy child it was given, after the child exited (cgroup v2 when there is one)', async (t) => {
    const meter = createCpuMeter('test');
    if (meter.method !== 'cgroup2') {
      meter.close();
      t.skip('no writable cgroup v2 here (not root, or none mounted)');
      return;
    }
    try {
      const before = meter.usec();
      const child = spawn(process.execPath, ['-e', BUSY_150_MS], { stdio: 'ignore' });
      meter.add(child.pid!);
      await once(child, 'exit');
      const used = meter.usec() - before;
      assert.ok(used >= 50_000, `${used} µs counted for a 150 ms busy loop`);
    } finally {
      assert.match(meter.close(), /removed/);
    }
  });

  it('the /proc tree fallback counts a busy child while it runs, and its reaped grandchild', async () => {
    const meter = createCpuMeter('test', 'proc-tree');
    assert.equal(meter.method, 'proc-tree');
    // A child that runs the busy loop in a grandchild, waits for it (so it lands in cutime), then idles until told.
    const script = `require('node:child_process').execFileSync(process.execPath, ['-e', ${JSON.stringify(BUSY_150_MS)}]); process.stdout.write('x'); setTimeout(() => {}, 10000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      meter.add(child.pid!);
      await once(child.stdout!, 'data');
      assert.ok(meter.usec() >= 50_000, `${meter.usec()} µs counted for a 150 ms busy loop`);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});

describe('bench farm: ratios and targets', () => {
  const metrics = [
    { id: 'a', label: 'a', samples: [10, 20, 30, 40, 100] },
    { id: 'b', label: 'b', samples: [40, 40, 40, 40, 50] },
  ];
  it('takes the median by default and the p95 when asked', () => {
    assert.equal(ratioValue({ metrics }, { numerator: 'a', denominator: 'b' }), 30 / 40);
    assert.equal(ratioValue({ metrics }, { numerator: 'a', denominator: 'b', stat: 'p95' }), 100 / 50);
    assert.ok(Number.isNaN(ratioValue({ metrics }, { numerator: 'a', denominator: 'missing' })));
  });

  it('a target is met at or below its maximum, and unknown without a value', () => {
    const target = { max: 0.25, label: '1/4' };
    assert.equal(targetMet({ target }, 0.25), true);
    assert.equal(targetMet({ target }, 0.26), false);
    assert.equal(targetMet({ target }, NaN), undefined);
    assert.equal(targetMet({}, 0.1), undefined);
  });

  it('carries the farm targets: p50 1/4 and p95 1/2 at 16, p50 1/2 at 4, CPU 1/5 at every count', () => {
    const byLabel = (n: number) => Object.fromEntries(farmRatios(n).map((r) => [`${r.stat ?? 'median'} ${r.numerator.split('-').pop()}`, r.target?.max]));
    assert.deepEqual(byLabel(16), { 'median all': 0.25, 'p95 all': 0.5, 'median cpu': 0.2 });
    assert.deepEqual(byLabel(4), { 'median all': 0.5, 'p95 all': undefined, 'median cpu': 0.2 });
    assert.deepEqual(byLabel(32), { 'median all': undefined, 'p95 all': undefined, 'median cpu': 0.2 });
    assert.deepEqual(Object.keys(FARM_TARGETS.cpu), ['4', '16', '32']);
    for (const r of farmRatios(16)) assert.match(r.denominator, /^n16-lsyncd-cm-/);
  });

  it('prints each ratio with its target and verdict, and leaves per-replica rows out of the table', () => {
    const env = {
      date: 'd',
      command: 'c',
      argv: [],
      machine: { nproc: 2, cpuModel: 'm', kernel: 'k', os: 'o', memGiB: 1, loadavgAtStart: [0, 0, 0] },
      versions: { node: 'n', rsync: 'r', ssh: 's', ssh2: 's2', parcelWatcher: 'p' },
      git: { commit: 'abc', dirty: false },
    } satisfies RunEnvironment;
    const result = {
      params: {},
      metrics: [
        { id: 'n16-fam-all', label: 'fam all', samples: [10] },
        { id: 'n16-fam-r1', label: 'fam replica 1', samples: [10], inTable: false },
        { id: 'n16-lsyncd-cm-all', label: 'lsyncd all', samples: [50] },
        { id: 'n16-fam-cpu', label: 'fam cpu', samples: [1], unit: 'µs' },
        { id: 'n16-lsyncd-cm-cpu', label: 'lsyncd cpu', samples: [2], unit: 'µs' },
      ],
      ratios: farmRatios(16),
      checks: {},
    };
    const table = renderTable(env, true, [{ scenario: farm, result, wallMs: 1 }]);
    assert.match(table, /N=16: p50 on all 16, fam-mirror \/ lsyncd best +0\.20× +target ≤ 1\/4: met/);
    assert.match(table, /N=16: p95 on all 16, fam-mirror \/ lsyncd best +0\.20× +target ≤ 1\/2: met/);
    assert.match(table, /N=16: master CPU per change per replica, fam-mirror \/ lsyncd +0\.50× +target ≤ 1\/5: MISSED/);
    assert.doesNotMatch(table, /fam replica 1/);
    assert.match(table, /fam all/);
  });

  it('is registered, runs in a plain full run, and quick mode uses 4 replicas for 5 s', () => {
    assert.ok(scenarios.includes(farm));
    assert.notEqual(farm.optIn, true);
    assert.match(farm.describe(true), /\(4 by default; --replicas\).* for 5 s/);
    assert.match(farm.describe(false), /\(16, 4, 32 by default; --replicas\).* for 30 s/);
  });
});

describe('bench farm: arrivals seen through inotify', () => {
  it('times a file renamed into place on every directory, and ignores a wrong content', async () => {
    const dirs = [await makeTempDir('fam-vis-a-'), await makeTempDir('fam-vis-b-')];
    const watch = new VisibilityWatch(dirs);
    const abort = new AbortController();
    try {
      const content = Buffer.from('right\n');
      const t0 = performance.now();
      watch.expect('f.txt', content, t0);
      let writing = true;
      const drained = watch.drain(
        () => writing,
        () => t0 + 10_000,
        abort.signal,
      );
      // As rsync does: a temp name, then rename into place. The second directory first gets a wrong content.
      writeFileSync(join(dirs[0]!, '.f.txt.tmp'), content);
      renameSync(join(dirs[0]!, '.f.txt.tmp'), join(dirs[0]!, 'f.txt'));
      writeFileSync(join(dirs[1]!, 'f.txt'), 'wrong\n');
      writeFileSync(join(dirs[1]!, '.f.txt.tmp'), content);
      renameSync(join(dirs[1]!, '.f.txt.tmp'), join(dirs[1]!, 'f.txt'));
      writing = false;
      await drained;
      const [a] = watch.arrivals();
      assert.equal(a?.name, 'f.txt');
      assert.equal(a?.found.length, 2);
      for (const f of a!.found) assert.ok(f >= 0 && f < 10_000, `found after ${f} ms`);
      assert.equal(watch.pendingCount, 0);
      assert.deepEqual(watch.watchErrors, []);
    } finally {
      watch.close();
    }
  });

  it('rejects past its deadline, naming the file and the replica that lacks it', async () => {
    const dirs = [await makeTempDir('fam-vis-c-'), await makeTempDir('fam-vis-d-')];
    const watch = new VisibilityWatch(dirs);
    try {
      const t0 = performance.now();
      watch.expect('late.txt', Buffer.from('x'), t0);
      writeFileSync(join(dirs[0]!, 'late.txt'), 'x');
      await assert.rejects(
        watch.drain(
          () => false,
          () => t0 + 200,
          new AbortController().signal,
          10,
        ),
        /1 file\(s\) not on every replica in time; oldest late\.txt missing on replica\(s\) 2$/,
      );
    } finally {
      watch.close();
    }
  });
});

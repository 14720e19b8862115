/**
 * Scenario — the web farm: scenario 4 (`latency-vs-lsyncd`) at 16, 4 and 32
 * replicas, with the master's CPU per change per replica.
 *
 * For each replica count N (`--replicas 16,4,32`, in that order; quick: 4): N sshd hosts on 127.0.0.1
 * (one daemon per replica, as a farm has; started once for the largest N, the first N used), one new
 * 64-byte file written into the source every 200 ms for 30 s (quick: 5 s). Contenders, one after the
 * other, each a separate process on a fresh source and fresh replica directories:
 *
 *  1. fam-mirror CLI (dist/cli.js), default settings, seeded with --init;
 *  2. lsyncd, default.rsyncssh, delay = 0, over OpenSSH ControlMasters warmed first (its best set-up).
 *
 * Latency: write (just before writeFileSync) → the file complete on a replica, seen through an
 * inotify watch on every replica directory (lib/visible.ts: a 1 ms poll of 32 directories would eat a
 * core of this 2-core machine); "all N" is the slowest replica of each write. The contenders take
 * turns going first (fam-mirror at the 1st, 3rd … count, lsyncd at the others): other work on a
 * shared machine drifts over minutes.
 *
 * CPU: user + system of the contender and everything it starts (rsync, ssh, the sh bridge, cat), and
 * for lsyncd its ControlMaster ssh processes (they carry its traffic: fam-mirror's ssh2 runs inside
 * its own process), from just before the first write to every file on every replica plus the
 * contender quiet for 500 ms; divided by writes × N. Each contender runs in a cgroup v2 of its own
 * (lib/cpu.ts; exited children included), else its /proc tree. The sshd side (one daemon and its
 * sessions per replica, same machine) is measured the same way and reported apart as replica-side CPU.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type SshdHost, startSshdHosts } from '../../test/helpers/sshd.js';
import { makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt } from '../lib/cli.js';
import { loadavg } from '../lib/env.js';
import { Cleanup, type Contender, startFam, startLsyncd, sumLogins } from '../lib/contenders.js';
import { type CpuMeter, createCpuMeter } from '../lib/cpu.js';
import { ensureLsyncd, skipNote } from '../lib/lsyncd.js';
import { controlMasterPid } from '../lib/openssh.js';
import { writeStream } from '../lib/poll.js';
import { vmHwmKiB } from '../lib/procstat.js';
import { summarize } from '../lib/stats.js';
import type { Metric, Ratio, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';
import { type Arrival, VisibilityWatch } from '../lib/visible.js';

const INTERVAL_MS = 200;
const FILE_BYTES = 64;
const READY_DEADLINE_MS = 120_000;
/** After the last write, every file must be on every replica within this. */
const VISIBLE_AFTER_MS = 20_000;
/** The contender must log nothing for this long before the first write, and after the last arrival. */
const QUIET_BEFORE_MS = 700;
const QUIET_AFTER_MS = 500;

interface Config {
  counts: readonly number[];
  streamMs: number;
}

const config = (quick: boolean, replicas?: readonly number[]): Config => ({ counts: replicas ?? (quick ? [4] : [16, 4, 32]), streamMs: quick ? 5_000 : 30_000 });

/** The farm targets (bench/README.md, "Targets"): fam-mirror / lsyncd's best, same run (medians unless p95). */
export const FARM_TARGETS: Record<'p50' | 'p95' | 'cpu', Record<number, { max: number; label: string }>> = {
  p50: { 16: { max: 1 / 4, label: '1/4' }, 4: { max: 1 / 2, label: '1/2' } },
  p95: { 16: { max: 1 / 2, label: '1/2' } },
  cpu: { 4: { max: 1 / 5, label: '1/5' }, 16: { max: 1 / 5, label: '1/5' }, 32: { max: 1 / 5, label: '1/5' } },
};

/** The ratios of one replica count, with the targets that apply to it. Pure. */
export function farmRatios(n: number): Ratio[] {
  const fam = (what: string) => `n${n}-fam-${what}`;
  const lsy = (what: string) => `n${n}-lsyncd-cm-${what}`;
  const t = (k: keyof typeof FARM_TARGETS) => (FARM_TARGETS[k][n] === undefined ? {} : { target: FARM_TARGETS[k][n] });
  return [
    { label: `N=${n}: p50 on all ${n}, fam-mirror / lsyncd best`, numerator: fam('all'), denominator: lsy('all'), ...t('p50') },
    { label: `N=${n}: p95 on all ${n}, fam-mirror / lsyncd best`, numerator: fam('all'), denominator: lsy('all'), stat: 'p95', ...t('p95') },
    { label: `N=${n}: master CPU per change per replica, fam-mirror / lsyncd`, numerator: fam('cpu'), denominator: lsy('cpu'), ...t('cpu') },
  ];
}

export const farm: Scenario = {
  id: 'farm',
  title: 'web farm: 16 / 4 / 32 replicas, latency and master CPU, fam-mirror vs lsyncd',
  describe: (quick) => {
    const c = config(quick);
    return (
      `for N replicas (${c.counts.join(', ')} by default; --replicas), one sshd each on 127.0.0.1: one new ${FILE_BYTES}-byte file every ${INTERVAL_MS} ms for ${c.streamMs / 1000} s; ` +
      'write → complete on each replica (inotify on every replica dir, a 100 ms poll as safety net) and on all N (the slowest); ' +
      'master CPU = user+sys of the contender and all its children (lsyncd: and its ControlMasters), cgroup v2, first write → all visible + 500 ms quiet, / (writes × N); ' +
      'replica-side CPU = the sshd daemons and sessions, the same way. fam-mirror CLI (defaults, --init) vs lsyncd default.rsyncssh delay 0 over warm ControlMasters.'
    );
  },
  // Three replica counts × two contenders × (start-up + 30 s + drain): about 5 minutes.
  watchdogMs: 20 * 60_000,
  run,
};

interface Variant {
  id: 'fam' | 'lsyncd-cm';
  label: string;
  start(hosts: readonly SshdHost[], source: string, dirs: string[]): Promise<Contender>;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick, ctx.replicas);
  const cleanup = new Cleanup();
  const notes: string[] = [];
  const metrics: Metric[] = [];
  const ratios: Ratio[] = [];
  const checks: Record<string, unknown> = {};
  const commands: Record<string, unknown> = {};
  try {
    const { stale } = checkBuilt();
    checks.distStale = stale;
    if (stale) notes.push('dist/cli.js is older than a file under src/ (npm run build?): the CLI measured is the last build');
    const lsyncd = await ensureLsyncd(ctx.log);
    checks.lsyncdAvailable = lsyncd;
    if (!lsyncd.ok) notes.push(skipNote(lsyncd));
    const maxN = Math.max(...c.counts);
    const t0 = performance.now();
    const pool = await startSshdHosts(maxN);
    checks.sshdStartMs = Math.round(performance.now() - t0);
    const replicaSide = createCpuMeter('replica-side');
    cleanup.add('replica-side CPU meter', () => replicaSide.close());
    for (const h of pool) replicaSide.add(h.pid);
    checks.cpuMethod = replicaSide.method;
    if (replicaSide.method !== 'cgroup2') notes.push('no writable cgroup v2: CPU read from the /proc process trees (children reparented to init are missed)');
    const controlPath = join(await makeTempDir('fam-cm-'), 'cm-%p');

    const variants: Variant[] = [
      {
        id: 'fam',
        label: 'fam-mirror (defaults)',
        start: (hosts, source, dirs) => startFam({ hosts, source, dirs, init: true, readyDeadlineMs: READY_DEADLINE_MS }, cleanup, ctx.signal),
      },
    ];
    if (lsyncd.ok) {
      variants.push({
        id: 'lsyncd-cm',
        label: 'lsyncd delay 0, ControlMaster',
        start: (hosts, source, dirs) => startLsyncd({ hosts, source, dirs, setup: { delay: 0, controlPath }, readyDeadlineMs: READY_DEADLINE_MS, id: 'lsyncd-cm' }, cleanup, ctx.signal),
      });
    }

    for (const [j, n] of c.counts.entries()) {
      const hosts = pool.slice(0, n);
      // Other work on the machine drifts over minutes: alternate which contender goes first.
      for (const v of j % 2 === 0 ? variants : [...variants].reverse()) {
        if (ctx.signal.aborted) throw new Error('aborted');
        try {
          const r = await runOne(ctx, c, v, hosts, cleanup, replicaSide, v.id === 'lsyncd-cm' ? controlPath : undefined);
          const key = `n${n}-${v.id}`;
          r.arrivals[0]?.found.forEach((_, i) => {
            metrics.push({ id: `${key}-r${i + 1}`, label: `N=${n} ${v.label}: replica ${i + 1}`, samples: r.arrivals.map((a) => a.found[i]!), inTable: false });
          });
          metrics.push({ id: `${key}-all`, label: `N=${n} ${v.label}: all ${n} replicas`, samples: r.arrivals.map((a) => Math.max(...a.found)) });
          metrics.push({ id: `${key}-cpu`, label: `N=${n} ${v.label}: master CPU / change / replica`, unit: 'µs', samples: [r.cpuUsec / (r.writes * n)] });
          metrics.push({ id: `${key}-replica-cpu`, label: `N=${n} ${v.label}: replica-side (sshd) CPU / change / replica`, unit: 'µs', samples: [r.replicaUsec / (r.writes * n)] });
          notes.push(`N=${n} ${v.label}: ${perReplicaSpread(r.arrivals)}`);
          checks[key] = r.checks;
          if (r.config !== undefined) commands[key] = r.config;
          ctx.log(
            `farm: N=${n} ${v.label}: ${r.writes} writes, all-${n} median ${summarize(r.arrivals.map((a) => Math.max(...a.found))).median.toFixed(1)} ms, CPU ${(r.cpuUsec / (r.writes * n)).toFixed(0)} µs/change/replica`,
          );
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          const why = (err as Error).message.split('\n')[0];
          notes.push(`N=${n} ${v.label}: FAILED (${why}); its rows are missing`);
          checks[`n${n}-${v.id}`] = { error: (err as Error).message.slice(0, 2000) };
          ctx.log(`farm: N=${n} ${v.label} failed: ${(err as Error).message}`);
        }
        // The next contender must not share the CPU with this one's leftovers.
        await delay(300, undefined, { signal: ctx.signal }).catch(() => {});
      }
      if (lsyncd.ok) ratios.push(...farmRatios(n));
    }
    const has = (id: string): boolean => metrics.some((m) => m.id === id);
    return {
      params: { counts: c.counts, streamMs: c.streamMs, intervalMs: INTERVAL_MS, fileBytes: FILE_BYTES, sshdPerReplica: true, cpuMethod: replicaSide.method, targets: FARM_TARGETS, commands },
      metrics,
      ratios,
      checks,
      notes,
      chart: {
        title: `change → visible on all N replicas, one ${FILE_BYTES}-byte file every ${INTERVAL_MS} ms: fam-mirror vs lsyncd (delay 0, ControlMaster)`,
        metricIds: c.counts.flatMap((n) => [`n${n}-fam-all`, `n${n}-lsyncd-cm-all`]).filter(has),
      },
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

interface OneRun {
  arrivals: Arrival[];
  writes: number;
  cpuUsec: number;
  replicaUsec: number;
  config?: string;
  checks: Record<string, unknown>;
}

async function runOne(ctx: ScenarioContext, c: Config, v: Variant, hosts: readonly SshdHost[], cleanup: Cleanup, replicaSide: CpuMeter, controlPath: string | undefined): Promise<OneRun> {
  const n = hosts.length;
  const source = await makeTempDir(`fam-bench-farm-${v.id}-src-`);
  writeFileSync(join(source, 'seed.txt'), 'seeded at start\n');
  const dirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-farm-${v.id}-r${i + 1}-`)));
  // Added before the contender, so the cleanup (last added, first run) stops it before the cgroup goes.
  const meter = createCpuMeter(`${v.id}-${n}`);
  cleanup.add(`CPU meter ${v.id} N=${n}`, () => meter.close());
  ctx.log(`farm: N=${n} ${v.label}: starting`);
  const contender = await v.start(hosts, source, dirs);
  // The same processes read from /proc too: a cross-check of the cgroup figure (it misses what is
  // reparented to init, e.g. a child whose parent died first).
  const tree = meter.method === 'cgroup2' ? createCpuMeter(`${v.id}-${n}`, 'proc-tree') : undefined;
  meter.add(contender.pid);
  tree?.add(contender.pid);
  const masters: number[] = [];
  if (controlPath !== undefined) {
    for (const pid of await Promise.all(hosts.map((h) => controlMasterPid(h, controlPath)))) if (pid !== undefined) masters.push(pid);
    if (masters.length !== n) throw new Error(`${masters.length} of ${n} ControlMasters running`);
    for (const pid of masters) {
      meter.add(pid);
      tree?.add(pid);
    }
  }
  await contender.quiet(QUIET_BEFORE_MS, 60_000, ctx.signal);
  const load0 = loadavg();
  const logins0 = await sumLogins(hosts);
  const activity0 = contender.activity();
  const watch = new VisibilityWatch(dirs);
  try {
    const cpu0 = meter.usec();
    const tree0 = tree?.usec() ?? NaN;
    const rep0 = replicaSide.usec();
    const self0 = process.cpuUsage();
    const writes = await stream(ctx, c, source, watch);
    await contender.quiet(QUIET_AFTER_MS, 30_000, ctx.signal);
    const cpuUsec = meter.usec() - cpu0;
    const treeUsec = (tree?.usec() ?? NaN) - tree0;
    const replicaUsec = replicaSide.usec() - rep0;
    const self = process.cpuUsage(self0);
    const logins = (await sumLogins(hosts)) - logins0;
    const activity1 = contender.activity();
    const hwm = vmHwmKiB(contender.pid);
    const stop = await contender.stop();
    return {
      arrivals: watch.arrivals(),
      writes,
      cpuUsec,
      replicaUsec,
      config: 'config' in contender ? (contender as { config: string }).config : undefined,
      checks: {
        readyMs: Math.round(contender.ready.ms),
        loadavgBeforeAfter: [load0, loadavg()],
        writes,
        cpuMs: Math.round(cpuUsec / 1000),
        ...(tree === undefined ? {} : { cpuMsProcTree: Math.round(treeUsec / 1000) }),
        replicaSideCpuMs: Math.round(replicaUsec / 1000),
        benchProcessCpuMs: Math.round((self.user + self.system) / 1000),
        controlMasters: masters.length,
        inotifyEvents: watch.events,
        foundByPoll: watch.byPoll,
        watchErrors: watch.watchErrors,
        sshdLoginsDuringStream: logins,
        activityDuringStream: Object.fromEntries(Object.entries(activity1).map(([k, x]) => [k, x - (activity0[k] ?? 0)])),
        vmHwmKiB: hwm,
        stop,
      },
    };
  } finally {
    watch.close();
    await contender.stop();
  }
}

/** One new file every INTERVAL_MS for the stream's duration; resolves (with the count) once all are everywhere. */
async function stream(ctx: ScenarioContext, c: Config, source: string, watch: VisibilityWatch): Promise<number> {
  const total = Math.floor(c.streamMs / INTERVAL_MS);
  let writing = true;
  let deadline = performance.now() + c.streamMs + VISIBLE_AFTER_MS;
  let failed: Error | undefined;
  const drained = watch
    .drain(
      () => writing,
      () => deadline,
      ctx.signal,
    )
    .catch((err: Error) => {
      failed = err;
    });
  const writes = await writeStream(
    { source, count: total, intervalMs: INTERVAL_MS, bytes: FILE_BYTES, signal: ctx.signal },
    () => failed !== undefined,
    (name, content, t0) => watch.expect(name, content, t0),
  );
  deadline = performance.now() + VISIBLE_AFTER_MS;
  writing = false;
  await drained;
  if (failed !== undefined) throw failed;
  if (ctx.signal.aborted) throw new Error('aborted');
  return writes;
}

/** "per replica: p50 41–48 ms (fastest r3, slowest r12), p95 …": the spread of the replicas' own figures. */
function perReplicaSpread(arrivals: readonly Arrival[]): string {
  const n = arrivals[0]?.found.length ?? 0;
  if (n === 0) return 'no arrivals';
  const per = Array.from({ length: n }, (_, i) => summarize(arrivals.map((a) => a.found[i]!)));
  const span = (k: 'median' | 'p95'): string => {
    const order = per.map((s, i) => ({ v: s[k], i })).sort((a, b) => a.v - b.v);
    const lo = order[0]!;
    const hi = order[order.length - 1]!;
    return `${k === 'median' ? 'p50' : 'p95'} ${lo.v.toFixed(1)}–${hi.v.toFixed(1)} ms (r${lo.i + 1}–r${hi.i + 1})`;
  };
  return `per replica ${span('median')}, ${span('p95')} (each replica's samples in the JSON)`;
}

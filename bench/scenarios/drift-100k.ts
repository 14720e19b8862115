/**
 * Scenario — the cost of the drift pass (README, Reliability: "Drift is repaired by default") on the
 * 100,000-directory tree of startup-100k (quick: 5,000), one ssh replica (one sshd) made level by a
 * local `rsync -a` first. A library Mirror (no --init, reconcileIntervalSec 3600, the drift quiet
 * period tuned to 100 ms so the start-up pass starts at once) runs:
 *
 *  - the start-up pass on the replica in step: from the pass's rsync start to its end, the loopback
 *    bytes (ssh traffic both ways), the CPU of the local rsync (this process's reaped children), of
 *    the remote `rsync --server` (reaped by the connection's sshd) and of this process;
 *  - the same after DRIFTED files were edited on the replica (it repairs them: `repaired` event);
 *  - a write stream (one file every STREAM_GAP_MS, each timed until it is on the replica) with no
 *    pass (reconcileIntervalSec 0), and with a pending pass that starts in every gap of the stream
 *    that is quiet long enough: the pass is killed by the next write, and waits twice as long next
 *    time. The kills and the time from each kill to the end of the killed run are reported.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mirror, type MirrorOptions, type RepairedEvent } from '../../src/index.js';
import { defaultTransport } from '../../src/transport/transports.js';
import type { RunOptions, TransportFactory } from '../../src/transport/transport.js';
import { startSshdHosts, type SshdHost } from '../../test/helpers/sshd.js';
import { makeTempDir } from '../../test/helpers/tree.js';
import { loRxBytes } from '../lib/cli.js';
import { Cleanup } from '../lib/contenders.js';
import { waitUntil, waitVisible } from '../lib/poll.js';
import { writeWideTree } from '../lib/fsutil.js';
import { runTimed } from '../lib/proc.js';
import { raiseSysctlAtLeast } from '../lib/sysctl.js';
import type { Metric, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';
import { closeQuietly, problemLog, VISIBLE_DEADLINE_MS } from './common.js';

const PASS_DEADLINE_MS = 600_000;
const WATCHES_SYSCTL = 'fs.inotify.max_user_watches';
const WATCH_HEADROOM = 100_000;
const DRIFTED = 10;
const STREAM_GAP_MS = 250;

interface Config {
  top: number;
  perTop: number;
  streamWrites: number;
}
const FULL: Config = { top: 100, perTop: 999, streamWrites: 40 };
const QUICK: Config = { top: 50, perTop: 99, streamWrites: 10 };
const dirCount = (c: Config): number => c.top * (c.perTop + 1);

export const drift100k: Scenario = {
  id: 'drift-100k',
  title: 'drift pass on a big tree: time, bytes, CPU, and a write stream beside it',
  describe: (quick) => {
    const c = quick ? QUICK : FULL;
    return (
      `${dirCount(c)} directories, one small file each, 1 ssh replica already level. The start-up drift pass (full itemized rsync quick check) ` +
      `on the replica in step, then with ${DRIFTED} files edited on it: its rsync's wall time, loopback bytes, CPU (local rsync, remote rsync, node). ` +
      `A stream of ${c.streamWrites} writes one every ${STREAM_GAP_MS} ms, each timed until visible on the replica, without a pass and with one pending (quiet period 100 ms).`
    );
  },
  run: (ctx) => run(ctx, ctx.quick ? QUICK : FULL),
};

/** utime + stime of a process's reaped children, in ms (/proc/PID/stat fields 16 and 17). */
function childCpuMs(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

/** The per-connection sshd processes (children of the listening one): they reap the remote rsyncs. */
function sessionPids(host: SshdHost): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === host.pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const remoteCpuMs = (host: SshdHost): number => sessionPids(host).reduce((sum, pid) => sum + childCpuMs(pid), 0);

interface PassRun {
  startedAt: number;
  endedAt?: number;
  killedAt?: number;
}

/** The real transport, noting each background run (the drift pass's rsync: it alone has a signal). */
function watchedTransport(): { factory: TransportFactory; runs: PassRun[] } {
  const runs: PassRun[] = [];
  const factory: TransportFactory = (replica, ctx) => {
    const t = defaultTransport(replica, ctx);
    const rsync = t.rsync.bind(t);
    t.rsync = async (args: string[], stdin: Buffer | undefined, opts: RunOptions = {}) => {
      if (opts.signal === undefined) return await rsync(args, stdin, opts);
      const r: PassRun = { startedAt: performance.now() };
      runs.push(r);
      opts.signal.addEventListener('abort', () => (r.killedAt = performance.now()), { once: true });
      try {
        return await rsync(args, stdin, opts);
      } finally {
        r.endedAt = performance.now();
      }
    };
    return t;
  };
  return { factory, runs };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
}

async function run(ctx: ScenarioContext, c: Config): Promise<ScenarioResult> {
  const dirs = dirCount(c);
  const cleanup = new Cleanup();
  const checks: Record<string, unknown> = {};
  const notes: string[] = [];
  const metrics: Metric[] = [];
  try {
    const raised = raiseSysctlAtLeast(WATCHES_SYSCTL, dirs + WATCH_HEADROOM);
    cleanup.add(WATCHES_SYSCTL, () => raised.restore());
    const [host] = await startSshdHosts(1);
    const h = host!;
    const source = await makeTempDir('fam-bench-drift-src-');
    const replica = await makeTempDir('fam-bench-drift-dst-');
    ctx.log(`drift: writing ${dirs} directories with one file each`);
    writeWideTree(source, c.top, c.perTop, ctx.signal);
    // A first `rsync -a` leaves directory mtimes that differ within the second (it compares whole
    // seconds); the pass compares them exactly (--modify-window=-1), so level them exactly too.
    for (const extra of [[], ['--modify-window=-1']]) {
      const level = await runTimed('rsync', ['-a', ...extra, `${source}/`, `${replica}/`], PASS_DEADLINE_MS);
      if (level.code !== 0) throw new Error(`local rsync to level the replica exited ${level.code}: ${level.stderr}`);
    }
    const spec = `ssh://${h.user}@127.0.0.1:${h.port}${replica}`;
    const options = (extra: Partial<MirrorOptions>): MirrorOptions => ({ source, replicas: [spec], identityFiles: [h.identityFile], knownHostsFiles: [h.knownHostsFile], ...extra });

    // 1. The start-up pass, in step and then with drift: one Mirror each (a pass runs once per start).
    const passes: Record<string, unknown>[] = [];
    for (const drifted of [0, DRIFTED]) {
      for (let k = 0; k < drifted; k++) writeFileSync(join(replica, `t${String(k).padStart(4, '0')}`, 'f.txt'), `edited on the replica ${k}\n`);
      const { factory, runs } = watchedTransport();
      const mirror = new Mirror(options({ reconcileIntervalSec: 3600 }), { transport: factory, driftTuning: { quietMs: 100 } });
      const problems = problemLog(mirror);
      const repaired: RepairedEvent[] = [];
      mirror.on('repaired', (e) => repaired.push(e));
      try {
        await mirror.start();
        // Measure from just before the pass can start (after the 100 ms quiet period).
        const lo0 = loRxBytes();
        const local0 = childCpuMs('self');
        const remote0 = remoteCpuMs(h);
        const node0 = process.cpuUsage();
        await waitUntil(() => repaired.length > 0, PASS_DEADLINE_MS, 'the drift pass', ctx.signal, 20);
        const node1 = process.cpuUsage(node0);
        const r = runs.at(-1)!;
        const row = {
          drifted,
          passMs: Math.round((r.endedAt ?? r.startedAt) - r.startedAt),
          loopbackKiB: Math.round((loRxBytes() - lo0) / 1024),
          localRsyncCpuMs: Math.round(childCpuMs('self') - local0),
          remoteRsyncCpuMs: Math.round(remoteCpuMs(h) - remote0),
          nodeCpuMs: Math.round((node1.user + node1.system) / 1000),
          repaired: repaired[0]!.repaired,
          sample: repaired[0]!.sample.slice(0, 3),
          runs: runs.length,
          problems,
        };
        passes.push(row);
        ctx.log(`drift: ${JSON.stringify(row)}`);
        const tag = drifted === 0 ? 'in-step' : 'drifted';
        metrics.push({ id: `pass-${tag}-ms`, label: `drift pass, replica ${drifted === 0 ? 'in step' : `with ${drifted} files edited`}: wall time`, samples: [row.passMs] });
        metrics.push({ id: `pass-${tag}-kib`, label: `  loopback bytes (ssh, both ways)`, samples: [row.loopbackKiB], unit: 'KiB' });
        metrics.push({ id: `pass-${tag}-cpu-local`, label: `  CPU: local rsync`, samples: [row.localRsyncCpuMs] });
        metrics.push({ id: `pass-${tag}-cpu-remote`, label: `  CPU: remote rsync`, samples: [row.remoteRsyncCpuMs] });
        metrics.push({ id: `pass-${tag}-cpu-node`, label: `  CPU: fam-mirror (node)`, samples: [row.nodeCpuMs] });
      } finally {
        await closeQuietly(mirror, ctx);
      }
    }
    checks.passes = passes;

    // 2. A write stream without a pass, then with one pending.
    const stream = async (tag: string, mirror: Mirror): Promise<number[]> => {
      const out: number[] = [];
      await mirror.start();
      for (let i = 0; i < c.streamWrites; i++) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const name = `stream-${tag}-${i}.txt`;
        const content = Buffer.from(`${tag} ${i}\n`);
        const t0 = performance.now();
        writeFileSync(join(source, name), content);
        const [ms] = await waitVisible([join(replica, name)], content, t0, VISIBLE_DEADLINE_MS, ctx.signal);
        out.push(ms!);
        await new Promise((r) => setTimeout(r, Math.max(0, STREAM_GAP_MS - ms!)));
      }
      return out;
    };
    const base = new Mirror(options({ reconcileIntervalSec: 0 }));
    let without: number[];
    try {
      without = await stream('nopass', base);
    } finally {
      await closeQuietly(base, ctx);
    }
    const { factory, runs } = watchedTransport();
    const withPass = new Mirror(options({ reconcileIntervalSec: 3600 }), { transport: factory, driftTuning: { quietMs: 100 } });
    let during: number[];
    try {
      during = await stream('pass', withPass);
    } finally {
      await closeQuietly(withPass, ctx);
    }
    const killed = runs.filter((r) => r.killedAt !== undefined);
    const killToEnd = killed.map((r) => Math.round((r.endedAt ?? r.killedAt!) - r.killedAt!));
    metrics.push({ id: 'stream-nopass', label: `write stream (1 per ${STREAM_GAP_MS} ms), no pass: write → on the replica`, samples: without });
    metrics.push({ id: 'stream-pass', label: 'write stream with a drift pass pending (quiet 100 ms)', samples: during });
    if (killToEnd.length > 0) metrics.push({ id: 'kill-to-end', label: '  a killed pass: kill → its rsync ended', samples: killToEnd });
    checks.stream = {
      withoutP50: Math.round(pct(without, 0.5)),
      withoutMax: Math.round(Math.max(...without)),
      withP50: Math.round(pct(during, 0.5)),
      withMax: Math.round(Math.max(...during)),
      passRunsDuringStream: runs.length,
      killedByAWrite: killed.length,
    };
    notes.push(
      `${killed.length} of ${runs.length} drift runs during the stream were killed by a write; each kill doubles the quiet period the next run waits for (so under a steady stream the pass soon stays out of the way)`,
    );
    notes.push(`${WATCHES_SYSCTL}: ${raised.changed ? `raised ${raised.before} → ${raised.now} for the run, restored afterwards` : `${raised.before}, enough (not changed)`}`);
    return {
      params: { dirs, files: dirs, replica: 'ssh (one sshd on 127.0.0.1)', drifted: DRIFTED, streamWrites: c.streamWrites, streamGapMs: STREAM_GAP_MS },
      metrics,
      ratios: [{ label: 'write stream p50 with a pass pending / without', numerator: 'stream-pass', denominator: 'stream-nopass' }],
      checks,
      notes,
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

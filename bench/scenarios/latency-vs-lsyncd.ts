/**
 * Scenario — change→visible latency under a steady trickle, fam-mirror vs lsyncd (issue 4, 1a).
 *
 * One new 64-byte file is written into the source every 200 ms for 30 s (quick: 3 s); the source is
 * mirrored to 4 replicas, one sshd each on 127.0.0.1. For every write, the time from just before the
 * write (writeFileSync: open, write, close in one go) to the first poll that found the file complete on
 * each replica, and on all 4 (the slowest of the 4). Contenders, one after another, each on a fresh
 * source and fresh replica directories, each a separate process:
 *
 *  1. fam-mirror CLI (dist/cli.js), default settings, seeded with --init;
 *  2. lsyncd, default.rsyncssh, delay = 0, plain ssh (a login per rsync);
 *  3. lsyncd, default.rsyncssh, delay = 0, OpenSSH ControlMaster (its best configuration);
 *  4. lsyncd, default.rsyncssh, its default delay (15 s), ControlMaster (full run only).
 *
 * Plus the floor the issue names: a bare `rsync -a FILE host:DIR/` of one 64-byte file over an open
 * connection (a warm ControlMaster), to one host and to the 4 hosts in parallel.
 *
 * The writes keep their 200 ms schedule whatever the replicas do (a stream, not ping-pong), so a slow
 * contender has several files in flight. Polling: every 1 ms (20 ms for the 15 s delay, whose
 * latencies are seconds), `stat` then read and compare, all pending files × all replicas.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startSshdHosts } from '../../test/helpers/sshd.js';
import { makeTempDir } from '../../test/helpers/tree.js';
import { checkBuilt } from '../lib/cli.js';
import { Cleanup, rsyncToHosts, startFam, startLsyncd, warmControlMasters, type Contender, sumLogins } from '../lib/contenders.js';
import { ensureLsyncd, skipNote } from '../lib/lsyncd.js';
import { hasContent, streamContent, writeStream } from '../lib/poll.js';
import { vmHwmKiB } from '../lib/procstat.js';
import type { Metric, Ratio, Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';

const INTERVAL_MS = 200;
const FILE_BYTES = 64;
const HOSTS = 4;
const READY_DEADLINE_MS = 60_000;
/** After the last write, every file must be everywhere within this (plus the contender's delay). */
const VISIBLE_AFTER_MS = 15_000;
const RUN_TIMEOUT_MS = 30_000;

interface Config {
  streamMs: number;
  bareRounds: number;
  defaultDelay: boolean;
}

const config = (quick: boolean): Config => (quick ? { streamMs: 3_000, bareRounds: 3, defaultDelay: false } : { streamMs: 30_000, bareRounds: 20, defaultDelay: true });

export const latencyVsLsyncd: Scenario = {
  id: 'latency-vs-lsyncd',
  title: 'change→visible latency, 4 replicas: fam-mirror vs lsyncd',
  describe: (quick) => {
    const c = config(quick);
    return (
      `one new ${FILE_BYTES}-byte file every ${INTERVAL_MS} ms for ${c.streamMs / 1000} s (${c.streamMs / INTERVAL_MS} writes), 4 replicas (one sshd each); ` +
      'write → complete on each replica / on all 4 (polled every 1 ms; 20 ms for the 15 s delay). fam-mirror CLI with default settings vs lsyncd (Debian package) ' +
      `default.rsyncssh at delay 0 over plain ssh and over an OpenSSH ControlMaster${c.defaultDelay ? ', and at its default 15 s delay (ControlMaster)' : ''}; ` +
      `floor: bare rsync -a of one ${FILE_BYTES}-byte file over a warm ControlMaster (${c.bareRounds} rounds).`
    );
  },
  run,
};

interface StreamResult {
  perReplica: number[][];
  all: number[];
  writes: number;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const c = config(ctx.quick);
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
    const hosts = await startSshdHosts(HOSTS);
    const lsyncd = await ensureLsyncd(ctx.log);
    checks.lsyncdAvailable = lsyncd;
    if (!lsyncd.ok) notes.push(skipNote(lsyncd));
    const controlPath = join(await makeTempDir('fam-cm-'), 'cm-%p');

    const variants: { id: string; label: string; pollMs: number; start(src: string, dirs: string[]): Promise<Contender> }[] = [
      {
        id: 'fam',
        label: 'fam-mirror (defaults)',
        pollMs: 1,
        start: (source, dirs) => startFam({ hosts, source, dirs, init: true, readyDeadlineMs: READY_DEADLINE_MS }, cleanup, ctx.signal),
      },
    ];
    const lsy = (id: string, label: string, setup: { delay?: number; controlPath?: string }, pollMs: number): void => {
      variants.push({
        id,
        label,
        pollMs,
        start: (source, dirs) => startLsyncd({ hosts, source, dirs, setup, readyDeadlineMs: READY_DEADLINE_MS, id }, cleanup, ctx.signal),
      });
    };
    if (lsyncd.ok) {
      lsy('lsyncd-plain', 'lsyncd delay 0, plain ssh', { delay: 0 }, 1);
      lsy('lsyncd-cm', 'lsyncd delay 0, ControlMaster', { delay: 0, controlPath }, 1);
      if (c.defaultDelay) lsy('lsyncd-default', 'lsyncd default delay (15 s), ControlMaster', { controlPath }, 20);
      else notes.push('lsyncd at its default delay (15 s): skipped in quick mode (the full run measures it)');
    }

    for (const v of variants) {
      if (ctx.signal.aborted) throw new Error('aborted');
      const source = await makeTempDir(`fam-bench-lat-${v.id}-src-`);
      writeFileSync(join(source, 'seed.txt'), 'seeded at start\n');
      const dirs = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-lat-${v.id}-r${i + 1}-`)));
      ctx.log(`latency-vs-lsyncd: ${v.label}: starting`);
      const contender = await v.start(source, dirs);
      // Let the seed / startup batches finish and the watcher go idle before the first write.
      await contender.quiet(700, 30_000, ctx.signal);
      const logins0 = await sumLogins(hosts);
      const activity0 = contender.activity();
      const r = await stream(ctx, c, source, dirs, v.pollMs, v.id === 'lsyncd-default' ? 40_000 : VISIBLE_AFTER_MS);
      const logins = (await sumLogins(hosts)) - logins0;
      const activity1 = contender.activity();
      const hwm = vmHwmKiB(contender.pid);
      const stop = await contender.stop();
      r.perReplica.forEach((s, i) => {
        metrics.push({ id: `${v.id}-r${i + 1}`, label: `${v.label}: replica ${i + 1}`, samples: s });
      });
      metrics.push({ id: `${v.id}-all`, label: `${v.label}: all ${HOSTS} replicas`, samples: r.all });
      checks[v.id] = {
        readyMs: Math.round(contender.ready.ms),
        writes: r.writes,
        sshdLoginsDuringStream: logins,
        activityDuringStream: Object.fromEntries(Object.entries(activity1).map(([k, n]) => [k, n - (activity0[k] ?? 0)])),
        vmHwmKiB: hwm,
        stop,
      };
      if ('config' in contender) commands[v.id] = (contender as { config: string }).config;
      const med = [...r.all].sort((a, b) => a - b)[Math.floor(r.all.length / 2)] ?? NaN;
      ctx.log(`latency-vs-lsyncd: ${v.label}: ${r.writes} writes, all-4 median ${med.toFixed(1)} ms, ${logins} sshd logins`);
      // Between contenders: the next one must not share the CPU with this one's leftovers.
      await delay(300, undefined, { signal: ctx.signal }).catch(() => {});
    }

    // The floor: one small file, bare rsync over an open connection.
    ctx.log(`latency-vs-lsyncd: bare rsync of one ${FILE_BYTES}-byte file over a ControlMaster, ${c.bareRounds} rounds`);
    await warmControlMasters(hosts, controlPath, cleanup);
    const bareSrc = await makeTempDir('fam-bench-lat-bare-src-');
    const bareDst = await Promise.all(hosts.map((_, i) => makeTempDir(`fam-bench-lat-bare-r${i + 1}-`)));
    const one: number[] = [];
    const four: number[] = [];
    for (let k = -1; k < c.bareRounds; k++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      const file = join(bareSrc, `bare-${k + 1}.txt`);
      const content = streamContent(`bare ${k}`, FILE_BYTES);
      writeFileSync(file, content);
      const order = k % 2 === 0 ? ['one', 'four'] : ['four', 'one'];
      for (const which of order) {
        const r =
          which === 'one' ? await rsyncToHosts(hosts.slice(0, 1), file, bareDst.slice(0, 1), controlPath, RUN_TIMEOUT_MS) : await rsyncToHosts(hosts, file, bareDst, controlPath, RUN_TIMEOUT_MS);
        if (k >= 0) (which === 'one' ? one : four).push(r.ms);
        if (k === 0) commands[which === 'one' ? 'bare-1' : 'bare-4'] = r.commands;
      }
      for (const d of bareDst) if (!(await hasContent(join(d, `bare-${k + 1}.txt`), content))) throw new Error(`bare rsync: bare-${k + 1}.txt missing on ${d}`);
    }
    metrics.push({ id: 'bare-1', label: `bare rsync -a of the file, 1 host, ControlMaster (spawn→exit)`, samples: one });
    metrics.push({ id: 'bare-4', label: `bare rsync -a of the file, 4 hosts in parallel, ControlMaster`, samples: four });

    const has = (id: string): boolean => metrics.some((m) => m.id === id);
    if (has('lsyncd-cm-all')) ratios.push({ label: 'fam-mirror / lsyncd best (delay 0, ControlMaster), all 4', numerator: 'fam-all', denominator: 'lsyncd-cm-all' });
    if (has('lsyncd-plain-all')) ratios.push({ label: 'fam-mirror / lsyncd plain ssh (delay 0), all 4', numerator: 'fam-all', denominator: 'lsyncd-plain-all' });
    if (has('lsyncd-default-all')) ratios.push({ label: 'fam-mirror / lsyncd default delay (15 s), all 4', numerator: 'fam-all', denominator: 'lsyncd-default-all' });
    ratios.push({ label: 'fam-mirror all 4 / bare rsync of the file, 1 host', numerator: 'fam-all', denominator: 'bare-1' });
    ratios.push({ label: 'fam-mirror all 4 / bare rsync of the file, 4 hosts in parallel', numerator: 'fam-all', denominator: 'bare-4' });

    return {
      params: { streamMs: c.streamMs, intervalMs: INTERVAL_MS, fileBytes: FILE_BYTES, replicas: HOSTS, bareRounds: c.bareRounds, commands },
      metrics,
      ratios,
      checks,
      notes,
      chart: {
        title: `change → visible on all ${HOSTS} replicas, one ${FILE_BYTES}-byte file every ${INTERVAL_MS} ms: fam-mirror vs lsyncd`,
        metricIds: ['fam-all', 'lsyncd-cm-all', 'lsyncd-plain-all', 'lsyncd-default-all', 'bare-1', 'bare-4'].filter(has),
      },
    };
  } finally {
    await cleanup.teardown(ctx.log, checks);
  }
}

interface Pending {
  name: string;
  content: Buffer;
  t0: number;
  found: (number | undefined)[];
}

/**
 * Writes one new file every INTERVAL_MS for the stream's duration while a poller (same process)
 * looks for every pending file on every replica. Resolves once every file is on every replica;
 * rejects when one is not within `afterMs` of the last write.
 */
async function stream(ctx: ScenarioContext, c: Config, source: string, dirs: readonly string[], pollMs: number, afterMs: number): Promise<StreamResult> {
  const n = Math.floor(c.streamMs / INTERVAL_MS);
  const pending: Pending[] = [];
  const done: Pending[] = [];
  let writing = true;
  let hardDeadline = performance.now() + c.streamMs + afterMs;
  let pollError: Error | undefined;
  const poller = (async () => {
    const maxPolls = Math.ceil((c.streamMs + afterMs) / pollMs) + 1000;
    for (let poll = 0; poll < maxPolls; poll++) {
      if (!writing && pending.length === 0) return;
      await Promise.all(
        pending.flatMap((p) =>
          dirs.map(async (d, i) => {
            if (p.found[i] === undefined && (await hasContent(join(d, p.name), p.content))) p.found[i] = performance.now() - p.t0;
          }),
        ),
      );
      for (let k = pending.length - 1; k >= 0; k--) {
        if (pending[k]!.found.every((x) => x !== undefined)) done.push(...pending.splice(k, 1));
      }
      if (ctx.signal.aborted) throw new Error('aborted');
      if (performance.now() > hardDeadline) {
        const late = pending[0];
        throw new Error(
          `${pending.length} file(s) not on every replica in time; oldest ${late?.name} missing on replica(s) ${late?.found.flatMap((f, i) => (f === undefined ? [i + 1] : [])).join(', ')}`,
        );
      }
      await delay(pollMs);
    }
    throw new Error('poll count exhausted');
  })().catch((err: Error) => {
    pollError = err;
  });
  const writes = await writeStream(
    { source, count: n, intervalMs: INTERVAL_MS, bytes: FILE_BYTES, signal: ctx.signal },
    () => pollError !== undefined,
    (name, content, t0) => pending.push({ name, content, t0, found: dirs.map(() => undefined) }),
  );
  writing = false;
  hardDeadline = performance.now() + afterMs;
  await poller;
  if (pollError !== undefined) throw pollError;
  if (ctx.signal.aborted) throw new Error('aborted');
  done.sort((a, b) => a.t0 - b.t0);
  return {
    perReplica: dirs.map((_, i) => done.map((p) => p.found[i]!)),
    all: done.map((p) => Math.max(...(p.found as number[]))),
    writes,
  };
}

/**
 * fam-mirror benchmarks: `npm run bench` (full) or `npm run bench -- --quick` (smoke run).
 *
 * Runs every scenario in scenarios/index.ts one after another (each sets up and tears down its own
 * sshd hosts and temp dirs), prints a table of medians, p95 and ratios to stdout, and writes the
 * figures with their raw samples to bench/results/latest.json (or --out FILE). Progress goes to stderr.
 *
 * Safety: every process is spawned with an argument array, every loop has a count and a deadline,
 * only 127.0.0.1 is contacted. SIGINT/SIGTERM or a scenario's watchdog abort it at its next step;
 * its `finally` closes the Mirror, the ControlMaster and the sshd processes and removes the temp dirs.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { chartFile, latencyCdfSvg } from './lib/svg.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll } from '../test/helpers/sshd.js';
import { cleanupTempDirs } from '../test/helpers/tree.js';
import { parseReplicaCounts } from './lib/args.js';
import { describeEnvironment, loadavg } from './lib/env.js';
import { buildJson, renderTable, type ScenarioOutcome } from './lib/report.js';
import type { ScenarioContext } from './lib/types.js';
import { scenarios } from './scenarios/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = resolve(HERE, 'results', 'latest.json');
/**
 * Budget of each scenario: past it, the scenario is aborted (its `finally` cleans up) and the run goes
 * on with the next one. The comparison scenarios take minutes each in a full run.
 */
const WATCHDOG_MS = { quick: 120_000, full: 600_000 };
/** After an abort, cleanup gets this long before the process exits regardless. */
const CLEANUP_GRACE_MS = 30_000;

const USAGE = `usage: npm run bench [-- [--quick] [--only ID]... [--out FILE] [--replicas N,N…]]
  --quick     a smoke run of a few seconds (few rounds; figures are not meaningful)
  --only ID   run only this scenario (repeatable): ${scenarios.map((s) => (s.optIn === true ? `${s.id} (opt-in)` : s.id)).join(', ')}
  --out FILE  where to write the JSON (default bench/results/latest.json)
  --replicas N,N…  replica counts of the farm scenario, in order (default 16,4,32; quick: 4)`;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let opts: { quick?: boolean; only?: string[]; out?: string; replicas?: string; help?: boolean };
  try {
    opts = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        out: { type: 'string' },
        replicas: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = opts.quick === true;
  let replicas: number[] | undefined;
  try {
    replicas = opts.replicas === undefined ? undefined : parseReplicaCounts(opts.replicas);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const only = opts.only ?? [];
  const unknown = only.filter((id) => !scenarios.some((s) => s.id === id));
  if (unknown.length > 0) {
    console.error(`unknown scenario: ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const selected = scenarios.filter((s) => (only.length === 0 ? s.optIn !== true : only.includes(s.id)));
  const out = opts.out === undefined ? DEFAULT_OUT : resolve(opts.out);

  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (abort.signal.aborted) process.exit(130); // second signal: give up on cleanup
    console.error(`bench: ${sig}: stopping after cleanup (send it again to exit at once)`);
    abort.abort();
    setTimeout(() => process.exit(130), CLEANUP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const env = await describeEnvironment(argv);
  const outcomes: ScenarioOutcome[] = [];
  try {
    for (const scenario of selected) {
      if (abort.signal.aborted) break;
      const budget = quick ? WATCHDOG_MS.quick : (scenario.watchdogMs ?? WATCHDOG_MS.full);
      console.error(`bench: ${scenario.id} …`);
      const own = new AbortController();
      let grace: NodeJS.Timeout | undefined;
      const watchdog = setTimeout(() => {
        console.error(`bench: watchdog: ${scenario.id} exceeded ${budget / 1000} s, aborting it`);
        own.abort();
        grace = setTimeout(() => process.exit(1), CLEANUP_GRACE_MS).unref();
      }, budget);
      watchdog.unref();
      const ctx: ScenarioContext = { quick, replicas, signal: AbortSignal.any([abort.signal, own.signal]), log: (m) => console.error(m) };
      const t0 = performance.now();
      try {
        const result = await scenario.run(ctx);
        outcomes.push({ scenario, result, wallMs: performance.now() - t0 });
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        console.error(`bench: ${scenario.id} failed: ${message}`);
        const why = (err as Error).message ?? String(err);
        outcomes.push({ scenario, error: ctx.signal.aborted ? `aborted (${why})` : why, wallMs: performance.now() - t0 });
      } finally {
        clearTimeout(watchdog);
        clearTimeout(grace);
      }
    }
  } finally {
    // Each scenario cleans up after itself; this is the safety net.
    await stopAll().catch((e: Error) => console.error(`bench: stopAll: ${e.message}`));
    await cleanupTempDirs().catch((e: Error) => console.error(`bench: cleanupTempDirs: ${e.message}`));
  }

  env.machine.loadavgAtEnd = loadavg();
  console.log(renderTable(env, quick, outcomes));
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp`;
  await writeFile(tmp, `${JSON.stringify(buildJson(env, quick, outcomes), null, 2)}\n`);
  await rename(tmp, out);
  console.error(`bench: figures written to ${out}`);
  for (const o of outcomes) {
    const chart = o.result?.chart;
    if (chart === undefined) continue;
    const series = chart.metricIds.flatMap((id) => o.result!.metrics.filter((m) => m.id === id)).map((m) => ({ label: m.label, samples: m.samples }));
    const file = chartFile(out, o.scenario.id);
    await writeFile(file, latencyCdfSvg(chart.title, series));
    console.error(`bench: chart written to ${file}`);
  }
  return outcomes.every((o) => o.result !== undefined) && !abort.signal.aborted ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);

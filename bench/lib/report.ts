/**
 * Turns raw results into the stdout table and the JSON document. Pure (no I/O).
 */
import type { RunEnvironment } from './env.js';
import { round2, summarize, type Summary } from './stats.js';
import type { Ratio, Scenario, ScenarioResult } from './types.js';

export interface ScenarioOutcome {
  scenario: Scenario;
  result?: ScenarioResult;
  error?: string;
  wallMs: number;
}

export interface JsonReport {
  schema: 1;
  quick: boolean;
  environment: RunEnvironment;
  scenarios: unknown[];
}

/** median (or p95, as the ratio says) of the numerator over the same statistic of the denominator. */
export function ratioValue(result: Pick<ScenarioResult, 'metrics'>, r: Pick<Ratio, 'numerator' | 'denominator' | 'stat'>): number {
  const m = (id: string) => result.metrics.find((x) => x.id === id);
  const a = m(r.numerator);
  const b = m(r.denominator);
  if (a === undefined || b === undefined) return NaN;
  const stat = r.stat ?? 'median';
  return summarize(a.samples)[stat] / summarize(b.samples)[stat];
}

/** Whether a ratio meets its target; undefined without a target or a value. */
export function targetMet(r: Pick<Ratio, 'target'>, value: number): boolean | undefined {
  return r.target === undefined || !Number.isFinite(value) ? undefined : value <= r.target.max;
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');

export function renderTable(env: RunEnvironment, quick: boolean, outcomes: readonly ScenarioOutcome[]): string {
  const lines: string[] = [];
  const v = env.versions;
  const m = env.machine;
  lines.push(`fam-mirror bench · ${env.date} · ${quick ? 'quick smoke run' : 'full run'} · ${env.command}`);
  lines.push(
    `node ${v.node} · rsync ${v.rsync} · ${v.ssh} · ssh2 ${v.ssh2} · @parcel/watcher ${v.parcelWatcher} · ` +
      `${m.nproc} CPUs (${m.cpuModel}) · ${m.os} ${m.kernel} · git ${env.git.commit.slice(0, 10)}${env.git.dirty ? ' (uncommitted changes)' : ''}`,
  );
  outcomes.forEach((o, i) => {
    lines.push('');
    lines.push(`${i + 1}. ${o.scenario.title} [${o.scenario.id}] (${(o.wallMs / 1000).toFixed(1)} s)`);
    lines.push(`   ${o.scenario.describe(quick)}`);
    if (o.result === undefined) {
      lines.push(`   FAILED: ${o.error ?? 'unknown error'}`);
      return;
    }
    const mixed = o.result.metrics.some((x) => (x.unit ?? 'ms') !== 'ms');
    const rows = o.result.metrics
      .filter((x) => x.inTable !== false)
      .map((x) => ({
        label: (x.unit ?? 'ms') === 'ms' ? x.label : `${x.label} [${x.unit}]`,
        s: summarize(x.samples),
      }));
    const width = Math.max(34, ...rows.map((r) => r.label.length));
    // 8 characters a column, wider when a figure needs it (so figures never run together).
    const cw = Math.max(8, ...rows.flatMap((r) => row(r.s).map((x) => x.length + 1)));
    const cell = (s: string) => s.padStart(cw);
    const head = mixed ? 'ms, unless [unit] is given' : 'ms';
    lines.push(`   ${head.padEnd(width)} ${'n'.padStart(4)}${['median', 'p95', 'mean', 'min', 'max'].map(cell).join('')}`);
    for (const r of rows) lines.push(`   ${r.label.padEnd(width)} ${String(r.s.n).padStart(4)}${row(r.s).map(cell).join('')}`);
    if (o.result.ratios.length > 0) {
      const plain = o.result.ratios.every((r) => r.stat === undefined && r.target === undefined);
      lines.push(plain ? `   ratios of medians (same run):` : `   ratios (same run; of medians unless the label says p95):`);
      const rw = Math.max(...o.result.ratios.map((r) => r.label.length));
      for (const r of o.result.ratios) {
        const v = ratioValue(o.result, r);
        const text = Number.isFinite(v) ? `${ratioText(v)}×` : '– (not measured)';
        const met = targetMet(r, v);
        const target = r.target === undefined ? '' : `  target ≤ ${r.target.label}${met === undefined ? '' : met ? ': met' : ': MISSED'}`;
        lines.push(`     ${r.label.padEnd(rw)}  ${target === '' ? text : text.padEnd(8)}${target}`);
      }
    }
    for (const n of o.result.notes ?? []) lines.push(`   note: ${n}`);
    const checks = JSON.stringify(o.result.checks);
    lines.push(`   checks: ${checks.length > 300 ? `${checks.slice(0, 300)}… (see JSON)` : checks}`);
  });
  return lines.join('\n');
}

/** Two decimals; small ratios (bytes re-sent / data) keep two significant digits instead of showing 0.00. */
function ratioText(v: number): string {
  return v === 0 || Math.abs(v) >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}

function row(s: Summary): string[] {
  return [ms(s.median), ms(s.p95), ms(s.mean), ms(s.min), ms(s.max)];
}

export function buildJson(env: RunEnvironment, quick: boolean, outcomes: readonly ScenarioOutcome[]): JsonReport {
  return {
    schema: 1,
    quick,
    environment: env,
    scenarios: outcomes.map((o) => ({
      id: o.scenario.id,
      title: o.scenario.title,
      description: o.scenario.describe(quick),
      wallMs: Math.round(o.wallMs),
      ...(o.error !== undefined ? { error: o.error } : {}),
      ...(o.result === undefined
        ? {}
        : {
            params: o.result.params,
            metrics: o.result.metrics.map((x) => {
              const s = summarize(x.samples);
              return {
                id: x.id,
                label: x.label,
                unit: x.unit ?? 'ms',
                n: s.n,
                median: round2(s.median),
                p95: round2(s.p95),
                mean: round2(s.mean),
                min: round2(s.min),
                max: round2(s.max),
                samples: x.samples.map(round2),
              };
            }),
            ratios: o.result.ratios.map((r) => {
              const v = ratioValue(o.result!, r);
              const met = targetMet(r, v);
              return { ...r, value: Number.isFinite(v) ? Number(v.toPrecision(4)) : null, ...(met === undefined ? {} : { met }) };
            }),
            checks: o.result.checks,
            ...(o.result.notes === undefined ? {} : { notes: o.result.notes }),
          }),
    })),
  };
}

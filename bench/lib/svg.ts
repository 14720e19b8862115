/**
 * The latency chart of issue 4: one empirical CDF per contender on a log time axis, so a 35 ms median
 * and a 7.7 s median fit in one picture and the tails (p95, max) stay visible. Pure: samples in, SVG
 * text out; the runner writes it next to the JSON.
 */
import { summarize } from './stats.js';

export interface Series {
  label: string;
  samples: readonly number[];
}

const W = 860;
const PH = 300;
const M = { left: 64, right: 24, top: 48 };
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmtMs = (v: number): string => (v >= 1000 ? `${+(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s` : `${+v.toFixed(v >= 10 ? 0 : 1)} ms`);

/** Where a scenario's chart goes: next to its JSON, `ID.svg` for `ID.json`, else `NAME.ID.svg`. */
export function chartFile(jsonFile: string, scenarioId: string): string {
  const stem = jsonFile.replace(/\.json$/, '');
  return stem.endsWith(`/${scenarioId}`) || stem === scenarioId ? `${stem}.svg` : `${stem}.${scenarioId}.svg`;
}

export function latencyCdfSvg(title: string, input: readonly Series[]): string {
  const series = input.filter((s) => s.samples.some((v) => Number.isFinite(v) && v > 0));
  const all = series.flatMap((s) => s.samples.filter((v) => Number.isFinite(v) && v > 0));
  const lo = all.length === 0 ? 1 : 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = all.length === 0 ? 10 : 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const pw = W - M.left - M.right;
  const ph = PH;
  const H = M.top + ph + 58 + series.length * 16 + 8;
  const x = (v: number): number => M.left + (pw * (Math.log10(v) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const y = (p: number): number => M.top + ph * (1 - p);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  // Grid: decades and their 2× / 5× marks on x, every 10 % on y (50 % and 95 % drawn darker).
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const v = d * k;
      if (v > hi * 1.0001) break;
      out.push(`<line x1="${x(v).toFixed(1)}" y1="${M.top}" x2="${x(v).toFixed(1)}" y2="${M.top + ph}" stroke="${k === 1 ? '#bbb' : '#e5e5e5'}"/>`);
      out.push(`<text x="${x(v).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" fill="#444">${fmtMs(v)}</text>`);
    }
  }
  for (let i = 0; i <= 10; i++) {
    const p = i / 10;
    out.push(`<line x1="${M.left}" y1="${y(p).toFixed(1)}" x2="${M.left + pw}" y2="${y(p).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${(y(p) + 4).toFixed(1)}" text-anchor="end" fill="#444">${i * 10} %</text>`);
  }
  for (const p of [0.5, 0.95]) {
    out.push(`<line x1="${M.left}" y1="${y(p).toFixed(1)}" x2="${M.left + pw}" y2="${y(p).toFixed(1)}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${M.left + pw - 4}" y="${(y(p) - 4).toFixed(1)}" text-anchor="end" fill="#666">p${p * 100}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 36}" text-anchor="middle">change → visible (log scale)</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">share of changes visible</text>`);
  series.forEach((s, i) => {
    const v = s.samples.filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b);
    const color = COLORS[i % COLORS.length];
    // A step function: at each sample the share jumps by 1/n.
    let d = `M${x(v[0]!).toFixed(1)},${y(0).toFixed(1)}`;
    v.forEach((val, k) => {
      d += ` L${x(val).toFixed(1)},${y(k / v.length).toFixed(1)} L${x(val).toFixed(1)},${y((k + 1) / v.length).toFixed(1)}`;
    });
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const sum = summarize(v);
    const ly = M.top + ph + 58 + i * 16;
    out.push(`<line x1="${M.left}" y1="${ly - 4}" x2="${M.left + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${M.left + 32}" y="${ly}">${esc(s.label)} (n ${sum.n}, p50 ${fmtMs(sum.median)}, p95 ${fmtMs(sum.p95)})</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Redraws the latency chart of a saved run: `npx tsx bench/chart.ts bench/results/latency-vs-lsyncd.json`
 * writes bench/results/latency-vs-lsyncd.svg (the same file `npm run bench` writes).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { chartFile, latencyCdfSvg } from './lib/svg.js';

const CHARTS: Record<string, { title: string; metricIds: string[] }> = {
  'latency-vs-lsyncd': {
    title: 'change → visible on all 4 replicas, one 64-byte file every 200 ms: fam-mirror vs lsyncd',
    metricIds: ['fam-all', 'lsyncd-cm-all', 'lsyncd-plain-all', 'lsyncd-default-all', 'bare-1', 'bare-4'],
  },
};

interface SavedScenario {
  id: string;
  metrics: { id: string; label: string; samples: number[] }[];
}

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: npx tsx bench/chart.ts RESULTS.json');
  process.exitCode = 2;
} else {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { scenarios: SavedScenario[] };
  for (const s of doc.scenarios) {
    const chart = CHARTS[s.id];
    if (chart === undefined || !Array.isArray(s.metrics)) continue;
    const series = chart.metricIds.flatMap((id) => s.metrics.filter((m) => m.id === id));
    const out = chartFile(file, s.id);
    await writeFile(out, latencyCdfSvg(chart.title, series));
    console.error(`chart written to ${out}`);
  }
}

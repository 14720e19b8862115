import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chartFile, latencyCdfSvg } from '../bench/lib/svg.js';

describe('bench latency chart', () => {
  it('draws one step curve and one legend line per series, with escaped labels', () => {
    const svg = latencyCdfSvg('a <title> & more', [
      { label: 'fam-mirror', samples: [40, 45, 50, 60] },
      { label: 'lsyncd "best"', samples: [30, 31, 35] },
      { label: 'empty', samples: [] },
    ]);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal(svg.match(/<path /g)?.length, 2, 'a series without samples is left out');
    assert.match(svg, /a &lt;title&gt; &amp; more/);
    assert.match(svg, /lsyncd &quot;best&quot; \(n 3, p50 31 ms, p95 35 ms\)/);
    // 4 samples: the curve rises in 4 steps to 100 %.
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    assert.equal(d.split(' L').length - 1, 8);
  });

  it('puts the chart next to the JSON', () => {
    assert.equal(chartFile('bench/results/latest.json', 'latency-vs-lsyncd'), 'bench/results/latest.latency-vs-lsyncd.svg');
    assert.equal(chartFile('bench/results/latency-vs-lsyncd.json', 'latency-vs-lsyncd'), 'bench/results/latency-vs-lsyncd.svg');
  });
});

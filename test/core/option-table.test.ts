/**
 * The option table is the one place options are described: README.md's table is generated from it
 * (and must be current), its flags are unique, and what it says about reloading is what
 * Mirror.reconfigure() does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LIBRARY_OPTIONS, flagRows, optionRows } from '../../src/core/option-table.js';
import { README_BEGIN, README_END, optionsMarkdown, usageRows, withOptionsTable, wrap } from '../../src/core/option-docs.js';
import { normalizeOptions } from '../../src/options.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

describe('option table', () => {
  it('README.md holds the current options table (npm run docs:options writes it)', () => {
    const readme = readFileSync(README, 'utf8');
    assert.ok(readme.includes(README_BEGIN) && readme.includes(README_END), 'README.md has the markers');
    assert.equal(withOptionsTable(readme), readme, 'README.md is out of date: run npm run docs:options');
  });

  it('a README without the markers is reported, not overwritten', () => {
    assert.equal(withOptionsTable('# fam-mirror\n'), undefined);
  });

  it('every flag and short flag is given once', () => {
    const flags = flagRows().map((r) => r.cli.flag);
    const shorts = flagRows().flatMap((r) => (r.cli.short === undefined ? [] : [r.cli.short]));
    assert.equal(new Set(flags).size, flags.length, flags.join(' '));
    assert.equal(new Set(shorts).size, shorts.length, shorts.join(' '));
  });

  it('every row is documented, and every flag is in --help and in the README table', () => {
    const usage = usageRows();
    const table = optionsMarkdown();
    for (const row of optionRows()) assert.ok(row.doc.length > 0);
    for (const row of flagRows()) {
      assert.match(usage, new RegExp(`--${row.cli.flag}\\b`), `--${row.cli.flag} in --help`);
      assert.ok(table.includes(`\`--${row.cli.flag}`), `--${row.cli.flag} in README`);
    }
    for (const key of Object.keys(LIBRARY_OPTIONS)) assert.ok(table.includes(`| \`${key}\` |`), `${key} in README`);
  });

  it('only the replica list is applied live (as Mirror.reconfigure() does); every other option needs a restart', () => {
    const live = Object.entries(LIBRARY_OPTIONS)
      .filter(([, row]) => row.reload === 'live')
      .map(([key]) => key);
    assert.deepEqual(live, ['replicas']);
  });

  it('the table defaults are what normalizeOptions gives', () => {
    const o = normalizeOptions({ source: '/s', replicas: ['/r'] }, { cwd: '/', homeDir: '/home/u', userName: 'u' }) as unknown as Record<string, unknown>;
    for (const [key, { value }] of Object.entries(LIBRARY_OPTIONS)) {
      if ('default' in value && value.type !== 'paths') assert.deepEqual(o[key], value.default, key);
    }
    assert.deepEqual(o.identityFiles, ['/home/u/.ssh/id_ecdsa', '/home/u/.ssh/id_ed25519', '/home/u/.ssh/id_rsa']);
    assert.equal('homeDir' in o, false, 'homeDir only serves the defaults');
  });

  it('--help rows: a long flag gets its text on the next line, text wrapped at the width', () => {
    const lines = usageRows(100).split('\n');
    for (const line of lines) assert.ok(line.length <= 100 || !line.includes(' ', 26), line);
    const i = lines.findIndex((l) => l.startsWith('  --strict-host-key-checking'));
    assert.equal(lines[i], '  --strict-host-key-checking yes|accept-new|no');
    assert.match(lines[i + 1]!, /^ {25}host-key policy/);
    assert.ok(lines.includes('  -q, --quiet            log errors and warnings only'));
  });

  const wraps: Array<{ text: string; width: number; want: string[] }> = [
    { text: 'a b c', width: 10, want: ['a b c'] },
    { text: 'aaa bbb ccc', width: 7, want: ['aaa bbb', 'ccc'] },
    { text: 'averylongword b', width: 4, want: ['averylongword', 'b'] },
    { text: '', width: 4, want: [''] },
  ];
  for (const w of wraps) {
    it(`wrap(${JSON.stringify(w.text)}, ${w.width})`, () => assert.deepEqual(wrap(w.text, w.width), w.want));
  }
});

/**
 * The option table is the one place options are described: README.md's table is generated from it
 * (and must be current), its flags are unique, and what it says about reloading is what
 * Mirror.reconfigure() does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LIBRARY_OPTIONS, MARKER_COMMANDS, flagRows, optionRows } from '../../src/core/option-table.js';
import { README_BLOCKS, blockMarkers, commandRows, optionsMarkdown, usageRows, withGeneratedBlocks, wrap } from '../../src/core/option-docs.js';
import { COMMAND_ROWS, commandWords } from '../../src/core/command-table.js';
import { EVENT_DOCS, STATE_DOCS } from '../../src/core/api-docs.js';
import { manPage, roff } from '../../src/core/man-page.js';
import { usage } from '../../src/cli/usage.js';
import { normalizeOptions } from '../../src/options.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const MAN = fileURLToPath(new URL('../../man/fam-mirror.1', import.meta.url));

describe('option table', () => {
  it('README.md holds the current generated blocks: commands, options table, events and states (npm run docs:options writes them)', () => {
    const readme = readFileSync(README, 'utf8');
    const { text, missing } = withGeneratedBlocks(readme);
    assert.deepEqual(missing, [], 'README.md has the markers of every block');
    assert.equal(text, readme, 'README.md is out of date: run npm run docs:options');
  });

  it('man/fam-mirror.1 is current (npm run docs:options writes it), for the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(readFileSync(MAN, 'utf8'), manPage(pkg.version), 'man/fam-mirror.1 is out of date: run npm run docs:options');
  });

  it('a README without the markers is reported, not overwritten', () => {
    const { text, missing } = withGeneratedBlocks('# fam-mirror\n');
    assert.equal(text, '# fam-mirror\n');
    assert.deepEqual(
      missing,
      README_BLOCKS.map((b) => b.name),
    );
    assert.equal(blockMarkers(README_BLOCKS[1]!)[1], '<!-- options:end -->');
  });

  it('--help, the README and the man page name the same flags and commands, every one of the tables', () => {
    const help = usage();
    const readme = readFileSync(README, 'utf8');
    const man = manPage('0');
    // The flags a --help text lists: those that start a row (a description may mention rsync's).
    const flagsIn = (text: string) => new Set([...text.matchAll(/^ {2}(?:-\w, )?--([a-z][a-z-]*[a-z])/gm)].map((m) => m[1]!));
    const tableFlags = new Set(flagRows().map((r) => r.cli.flag));
    const optionsBlock = readme.slice(readme.indexOf(blockMarkers(README_BLOCKS[1]!)[0]), readme.indexOf(blockMarkers(README_BLOCKS[1]!)[1]));
    const helpOptions = help.slice(help.indexOf('Options:'));
    assert.deepEqual(
      [...flagsIn(usageRows())].filter((f) => !tableFlags.has(f)),
      [],
      'no flag in --help that the table lacks',
    );
    for (const flag of tableFlags) {
      assert.ok(flagsIn(helpOptions).has(flag), `--${flag} in --help`);
      assert.ok(optionsBlock.includes(`\`--${flag}`), `--${flag} in README`);
      assert.ok(man.includes(`\\fB\\-\\-${flag.replace(/-/g, '\\-')}\\fR`), `--${flag} in the man page`);
    }
    for (const row of COMMAND_ROWS) {
      for (const line of row.synopsis) {
        assert.ok(help.includes(`fam-mirror ${line}`), `${line} in --help`);
        assert.ok(readme.includes(`fam-mirror ${line}`), `${line} in README`);
      }
      if (row.word !== undefined) {
        assert.match(commandRows(), new RegExp(`^  ${row.word} `, 'm'), `${row.word} in --help's Commands`);
        assert.ok(readme.includes(`| \`${row.word}\` |`), `${row.word} in README's commands table`);
        assert.ok(man.includes(`.B ${row.word}\n`), `${row.word} in the man page`);
      }
    }
  });

  it('the command table names every command once, and its words are what the parser takes', () => {
    assert.deepEqual(
      COMMAND_ROWS.map((r) => r.name),
      ['mirror', 'verify', 'status', ...MARKER_COMMANDS],
    );
    assert.deepEqual(commandWords(), ['verify', 'status', ...MARKER_COMMANDS]);
  });

  it('the README documents every event and every replica state (EVENT_DOCS/STATE_DOCS satisfy src/types.ts)', () => {
    const readme = readFileSync(README, 'utf8');
    for (const name of Object.keys(EVENT_DOCS)) assert.ok(readme.includes(`| \`${name}\` |`), `event ${name}`);
    for (const name of Object.keys(STATE_DOCS)) assert.ok(readme.includes(`| \`${name}\` |`), `state ${name}`);
    for (const name of ['progress', 'planned', 'catching-up', 'checking']) assert.ok(readme.includes(`| \`${name}\` |`), name);
  });

  const roffs: Array<[string, string]> = [
    ['plain', 'plain'],
    ['a `--flag` here', 'a \\fB\\-\\-flag\\fR here'],
    ['a *file* named', 'a \\fIfile\\fR named'],
    ['back\\slash', 'back\\eslash'],
    ['.starts with a dot', '\\&.starts with a dot'],
    ["'quote first", "\\&'quote first"],
  ];
  for (const [text, want] of roffs) it(`roff(${JSON.stringify(text)})`, () => assert.equal(roff(text), want));

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

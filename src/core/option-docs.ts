/**
 * The option table (core/option-table.ts) as text: the option rows of `--help` and the options table
 * of README.md, and the other generated blocks of README.md (written between their markers by
 * `npm run docs:options`). Pure.
 */
import { flagRows, optionRows, type OptionValue } from './option-table.js';
import { COMMAND_ROWS } from './command-table.js';
import { eventsMarkdown } from './api-docs.js';

const HELP_COLUMN = 25;

/** The `Options:` rows of `--help`, each description wrapped to `width` columns. */
export function usageRows(width = 100): string {
  const lines: string[] = [];
  for (const row of flagRows()) {
    if (row.help === undefined) continue;
    const { flag, short, arg } = row.cli;
    const left = `  ${short === undefined ? '' : `-${short}, `}--${flag}${arg === undefined ? '' : ` ${arg}`}`;
    const text = wrap(row.help, width - HELP_COLUMN);
    if (left.length < HELP_COLUMN - 1) lines.push(`${left.padEnd(HELP_COLUMN)}${text.shift()}`);
    else lines.push(left);
    for (const rest of text) lines.push(`${' '.repeat(HELP_COLUMN)}${rest}`);
  }
  return lines.join('\n');
}

/** The usage lines: what follows `fam-mirror`, every command's synopsis in table order. */
export function synopsisLines(): string[] {
  return COMMAND_ROWS.flatMap((row) => [...row.synopsis]);
}

/** The `Commands:` rows of `--help`: each command word (or `(none)` for the default) and its doc. */
export function commandRows(width = 100): string {
  const lines: string[] = [];
  for (const row of COMMAND_ROWS) {
    const text = wrap(plain(row.doc), width - HELP_COLUMN);
    lines.push(`${`  ${row.word ?? '(no command)'}`.padEnd(HELP_COLUMN)}${text.shift()}`);
    for (const rest of text) lines.push(`${' '.repeat(HELP_COLUMN)}${rest}`);
  }
  return lines.join('\n');
}

/** README.md's commands block: the usage lines and a table of what each command does. */
export function commandsMarkdown(): string {
  const lines = ['```', ...synopsisLines().map((line) => `fam-mirror ${line}`), '```', '', '| command | what it does |', '| --- | --- |'];
  for (const row of COMMAND_ROWS) lines.push(`| ${row.word === undefined ? '(none)' : `\`${row.word}\``} | ${cell(row.doc)} |`);
  return lines.join('\n');
}

/** Markdown code spans as plain text (for --help). */
export function plain(text: string): string {
  return text.replace(/`([^`]*)`/g, '$1');
}

/** The blocks of README.md written by `npm run docs:options`, each between its two marker comments. */
export const README_BLOCKS: ReadonlyArray<{ name: string; source: string; body: () => string }> = [
  { name: 'commands', source: 'src/core/command-table.ts', body: commandsMarkdown },
  { name: 'options', source: 'src/core/option-table.ts', body: optionsMarkdown },
  { name: 'events', source: 'src/core/api-docs.ts', body: eventsMarkdown },
];

export function blockMarkers(block: { name: string; source: string }): [string, string] {
  return [`<!-- ${block.name}:begin (generated from ${block.source} by npm run docs:options; edit there) -->`, `<!-- ${block.name}:end -->`];
}

/** README.md with every generated block replaced by its current text; the names of blocks whose markers are missing. */
export function withGeneratedBlocks(readme: string): { text: string; missing: string[] } {
  let text = readme;
  const missing: string[] = [];
  for (const block of README_BLOCKS) {
    const [begin, end] = blockMarkers(block);
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) missing.push(block.name);
    else text = `${text.slice(0, i)}${begin}\n${block.body()}\n${text.slice(j)}`;
  }
  return { text, missing };
}

/** README.md's options table (Markdown), without the markers. */
export function optionsMarkdown(): string {
  const lines = ['| option (CLI) | library option | default | meaning | on SIGHUP |', '| --- | --- | --- | --- | --- |'];
  for (const row of optionRows()) {
    const cli = row.cli;
    let given = '';
    if (cli?.flag !== undefined) given = `${cli.short === undefined ? '' : `\`-${cli.short}\`, `}\`--${cli.flag}${cli.arg === undefined ? '' : ` ${cli.arg}`}\``;
    else if (cli?.positional !== undefined) given = `\`${cli.positional}\``;
    else if (cli?.env !== undefined) given = `(env \`${cli.env}\`)`;
    const key = row.key === undefined ? '' : `\`${row.key}\``;
    const fallback = row.value === undefined ? '' : defaultText(row.value);
    const reload = row.reload === 'live' ? 'applied' : row.reload === 'restart' ? 'restart' : '';
    lines.push(`| ${[given, key, row.defaultDoc ?? fallback, row.doc, reload].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

function defaultText(value: OptionValue): string {
  switch (value.type) {
    case 'boolean':
    case 'choice':
    case 'string':
      return value.default === undefined ? 'none' : `\`${String(value.default)}\``;
    case 'integer':
      return value.default === undefined ? 'none' : `\`${value.default}\``;
    case 'paths':
      return value.default.map((p) => `\`${p}\``).join(', ');
    default:
      return 'none';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Words into lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

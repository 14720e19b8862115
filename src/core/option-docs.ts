/**
 * The option table (core/option-table.ts) as text: the option rows of `--help` and the options table
 * of README.md (written between the markers below by `npm run docs:options`). Pure.
 */
import { flagRows, optionRows, type OptionValue } from './option-table.js';

export const README_BEGIN = '<!-- options:begin (generated from src/core/option-table.ts by npm run docs:options; edit there) -->';
export const README_END = '<!-- options:end -->';

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

/** README.md with its options table replaced by the current one; undefined when a marker is missing. */
export function withOptionsTable(readme: string): string | undefined {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) return undefined;
  return `${readme.slice(0, begin)}${README_BEGIN}\n${optionsMarkdown()}\n${readme.slice(end)}`;
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

/**
 * Writes the options table of README.md from the option table (src/core/option-table.ts), between
 * its marker comments. `--check` writes nothing and exits 1 when README.md is out of date.
 * Usage: npm run docs:options [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { README_BEGIN, README_END, withOptionsTable } from '../src/core/option-docs.js';

const file = fileURLToPath(new URL('../README.md', import.meta.url));
const readme = readFileSync(file, 'utf8');
const next = withOptionsTable(readme);
if (next === undefined) {
  process.stderr.write(`README.md lacks the markers ${README_BEGIN} … ${README_END}: put them where the options table belongs.\n`);
  process.exitCode = 1;
} else if (process.argv.includes('--check')) {
  if (next !== readme) process.stderr.write("README.md's options table is out of date: run npm run docs:options.\n");
  process.exitCode = next === readme ? 0 : 1;
} else if (next !== readme) {
  writeFileSync(file, next);
  process.stdout.write('README.md: options table written\n');
} else process.stdout.write('README.md: options table already up to date\n');

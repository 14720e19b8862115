/**
 * Writes the generated blocks of README.md (commands, options table, events and states) and the man
 * page man/fam-mirror.1 from the tables in src/core. `--check` writes nothing and exits 1 when
 * either is out of date.
 * Usage: npm run docs:options [-- --check]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { blockMarkers, README_BLOCKS, withGeneratedBlocks } from '../src/core/option-docs.js';
import { manPage } from '../src/core/man-page.js';

const readmeFile = fileURLToPath(new URL('../README.md', import.meta.url));
const manFile = fileURLToPath(new URL('../man/fam-mirror.1', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const readme = readFileSync(readmeFile, 'utf8');
const { text, missing } = withGeneratedBlocks(readme);
const man = manPage(pkg.version);
let oldMan = '';
try {
  oldMan = readFileSync(manFile, 'utf8');
} catch {}
if (missing.length > 0) {
  for (const name of missing) {
    const [begin, end] = blockMarkers(README_BLOCKS.find((b) => b.name === name)!);
    process.stderr.write(`README.md lacks the markers ${begin} … ${end}: put them where the ${name} belong.\n`);
  }
  process.exitCode = 1;
} else if (process.argv.includes('--check')) {
  if (text !== readme) process.stderr.write('README.md is out of date: run npm run docs:options.\n');
  if (man !== oldMan) process.stderr.write('man/fam-mirror.1 is out of date: run npm run docs:options.\n');
  process.exitCode = text === readme && man === oldMan ? 0 : 1;
} else {
  if (text !== readme) writeFileSync(readmeFile, text);
  mkdirSync(fileURLToPath(new URL('../man', import.meta.url)), { recursive: true });
  if (man !== oldMan) writeFileSync(manFile, man);
  process.stdout.write(`README.md: ${text === readme ? 'already up to date' : 'written'}; man/fam-mirror.1: ${man === oldMan ? 'already up to date' : 'written'}\n`);
}

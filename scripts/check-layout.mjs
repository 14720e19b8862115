#!/usr/bin/env node
// The rules of README.md's "Architecture" section that a linter cannot express: files stay small, the
// pure core neither reads the clock nor starts timers, and comments cite only documents that are in
// this repository. Prints every breach and exits 1 when there is one.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const MAX_LINES = 300;
const root = new URL('..', import.meta.url).pathname;
const breaches = [];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(ts|sh)$/.test(entry.name)) yield path;
  }
}

for (const file of files(join(root, 'src'))) {
  const rel = relative(root, file);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) breaches.push(`${rel}: ${lines} lines (at most ${MAX_LINES}: split it along the flow)`);
  text.split('\n').forEach((line, i) => {
    const at = `${rel}:${i + 1}`;
    if (/\bdesign\.md\b|field-notes|\bshared\//.test(line)) breaches.push(`${at}: cites a document that is not in the repository (cite docs/internals.md or README.md)`);
    if (/\(issues? \d|\bissue \d+[,;:)]/.test(line)) breaches.push(`${at}: cites a tracker issue, which is not in the repository (say why in the comment, or cite docs/internals.md)`);
    for (const [, doc] of line.matchAll(/\b((?:docs|bench)\/[\w./-]+\.md)\b/g)) {
      if (!existsSync(join(root, doc))) breaches.push(`${at}: cites ${doc}, which does not exist`);
    }
    if (rel.startsWith('src/core/') && /\b(setTimeout|setInterval|setImmediate|Date\.now|performance\.now|process\.)/.test(line.replace(/\/\/.*|^\s*\*.*/, ''))) {
      breaches.push(`${at}: src/core is pure: take the time or the process fact as an argument`);
    }
  });
}

if (breaches.length > 0) {
  console.error(`check-layout: ${breaches.length} breach(es):\n  ${breaches.join('\n  ')}`);
  process.exit(1);
}
console.log('check-layout: ok');

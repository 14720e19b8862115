/** "Did you mean": edit distances and the suggestion each typo gets (a table, no I/O). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, suggest } from '../../src/core/suggest.js';

describe('editDistance', () => {
  const cases: Array<[string, string, number]> = [
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['watch-list', 'watch-list', 0],
    ['wach-list', 'watch-list', 1],
    ['watch-lsit', 'watch-list', 1],
    ['wathc-list', 'watch-list', 1],
    ['exclude', 'exlcude', 1],
    ['kitten', 'sitting', 3],
    ['ab', 'ba', 1],
  ];
  for (const [a, b, want] of cases) it(`${JSON.stringify(a)} → ${JSON.stringify(b)}: ${want}`, () => assert.equal(editDistance(a, b), want));
});

describe('suggest', () => {
  const flags = ['watch-list', 'exclude', 'exclude-from', 'identity', 'known-hosts', 'reconcile-every', 'init', 'json', 'quiet'];
  const keys = ['source', 'replicas', 'initMirror', 'exclude', 'identityFiles', 'knownHostsFiles', 'stateDir', 'concurrency'];
  const cases: Array<[string, readonly string[], string | undefined]> = [
    ['wach-list', flags, 'watch-list'],
    ['exlude', flags, 'exclude'],
    ['exclude-frm', flags, 'exclude-from'],
    ['known-host', flags, 'known-hosts'],
    ['reconcile', flags, 'reconcile-every'],
    ['INIT', flags, 'init'],
    ['jsno', flags, 'json'],
    ['xyzzy', flags, undefined],
    ['q', flags, undefined],
    ['', flags, undefined],
    ['replica', keys, 'replicas'],
    ['initmirror', keys, 'initMirror'],
    ['init_mirror', keys, 'initMirror'],
    ['statedir', keys, 'stateDir'],
    ['identityFile', keys, 'identityFiles'],
    ['concurency', keys, 'concurrency'],
    ['colour', keys, undefined],
  ];
  for (const [word, candidates, want] of cases) it(`${JSON.stringify(word)} → ${String(want)}`, () => assert.equal(suggest(word, candidates), want));
});

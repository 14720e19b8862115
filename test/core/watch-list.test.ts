/** Watch lists as data: parsing, where each root lands on each replica, never-lists and per-root excludes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMirrorError } from '../../src/errors.js';
import { escapePattern, neverExcludes, parseListText, parseWatchList, placeRoot, rootOptions, type WatchRoot } from '../../src/core/watch-list.js';

describe('parseListText', () => {
  const rows: Array<{ name: string; text: string; want: string[] }> = [
    { name: 'one entry a line', text: 'a\nb\n', want: ['a', 'b'] },
    { name: 'blank lines and # or ; comments dropped', text: '# c\n\n; c\n  \na\n', want: ['a'] },
    { name: 'CRLF line ends and surrounding blanks trimmed', text: ' a \r\nb\r\n', want: ['a', 'b'] },
    { name: 'a # inside an entry is kept', text: 'a#b\n', want: ['a#b'] },
    { name: 'empty', text: '', want: [] },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(parseListText(row.text), row.want));
});

describe('parseWatchList', () => {
  const rows: Array<{ name: string; text: string; want: WatchRoot[] }> = [
    {
      name: 'roots, one a line',
      text: '/var/www\n/srv/up\n',
      want: [
        { source: '/var/www', exclude: [] },
        { source: '/srv/up', exclude: [] },
      ],
    },
    {
      name: '- PATTERN lines belong to the root above',
      text: '/a\n- *.tmp\n-  cache/ \n/b\n- /x\n',
      want: [
        { source: '/a', exclude: ['*.tmp', 'cache/'] },
        { source: '/b', exclude: ['/x'] },
      ],
    },
    {
      name: 'a relative root is relative to cwd; a trailing slash goes',
      text: 'site/\n../other\n',
      want: [
        { source: '/w/site', exclude: [] },
        { source: '/other', exclude: [] },
      ],
    },
    {
      name: 'a root whose name starts with a dash (no space) is a root',
      text: '/a\n-dir\n',
      want: [
        { source: '/a', exclude: [] },
        { source: '/w/-dir', exclude: [] },
      ],
    },
    { name: 'comments only', text: '# nothing\n', want: [] },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(parseWatchList(row.text, '/w'), row.want));

  it('an exclude above every root → ERR_WATCH_LIST naming it', () => {
    assert.throws(
      () => parseWatchList('- *.tmp\n/a\n', '/w'),
      (e: unknown) => isMirrorError(e, 'ERR_WATCH_LIST') && e.message.includes('"- *.tmp" comes before any root'),
    );
  });
});

describe('placeRoot: root R on replica spec', () => {
  const rows: Array<{ spec: string; root: string; want: string }> = [
    { spec: 'web2', root: '/var/www', want: 'web2' },
    { spec: 'deploy@web2', root: '/var/www', want: 'deploy@web2' },
    { spec: 'web2:/backup', root: '/var/www', want: 'ssh://web2:22/backup/var/www' },
    { spec: 'deploy@web2:/backup/', root: '/srv/up', want: 'ssh://deploy@web2:22/backup/srv/up' },
    { spec: 'ssh://u@h:2222/b', root: '/var/www', want: 'ssh://u@h:2222/b/var/www' },
    { spec: 'ssh://[::1]:2222/b', root: '/r', want: 'ssh://[::1]:2222/b/r' },
    { spec: '/mnt/backup', root: '/var/www', want: '/mnt/backup/var/www' },
    { spec: './backup', root: '/var/www', want: '/w/backup/var/www' },
    { spec: '../b', root: '/r', want: '/b/r' },
  ];
  for (const row of rows) it(`${row.spec} + ${row.root} → ${row.want}`, () => assert.equal(placeRoot(row.spec, row.root, '/w'), row.want));

  it('a spec the library would refuse is refused here too (ERR_REPLICA_SPEC)', () => {
    assert.throws(
      () => placeRoot('web2:rel', '/r', '/w'),
      (e: unknown) => isMirrorError(e, 'ERR_REPLICA_SPEC'),
    );
  });
});

describe('neverExcludes and escapePattern', () => {
  const rows: Array<{ name: string; never: string[]; root: string; want: string[] }> = [
    { name: 'a path inside the root, anchored', never: ['/var/www/db'], root: '/var/www', want: ['/db'] },
    { name: 'paths in other roots left out', never: ['/var/www/db', '/srv/x'], root: '/srv', want: ['/x'] },
    { name: 'a sibling named like the root is not inside it', never: ['/var/www2/db'], root: '/var/www', want: [] },
    { name: 'the root itself is not an exclude of it', never: ['/var/www'], root: '/var/www', want: [] },
    { name: 'wildcard characters are escaped', never: ['/r/a*b[1]?'], root: '/r', want: ['/a\\*b\\[1\\]\\?'] },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(neverExcludes(row.never, row.root), row.want));

  const patterns: Array<[string, string]> = [
    ['plain/path', 'plain/path'],
    ['back\\slash', 'back\\slash'],
    ['star*\\x', 'star\\*\\\\x'],
  ];
  for (const [literal, want] of patterns) it(`escapePattern(${literal})`, () => assert.equal(escapePattern(literal), want));
});

describe('rootOptions: the options of one root', () => {
  const roots: WatchRoot[] = [
    { source: '/var/www', exclude: [] },
    { source: '/srv/up', exclude: ['*.cache'] },
  ];
  const shared = { replicas: ['web2', 'web3:/b', './local'], exclude: ['*.tmp'], concurrency: 2 };

  it('several roots: each replica with a path gets the root below it; a bare host keeps its path', () => {
    assert.deepEqual(rootOptions(shared, roots, [], '/var/www', '/w'), { ...shared, source: '/var/www', replicas: ['web2', 'ssh://web3:22/b/var/www', '/w/local/var/www'] });
  });

  it('per-root excludes and never paths join the shared excludes of that root only', () => {
    assert.deepEqual(rootOptions(shared, roots, ['/var/www/db', '/srv/up/raw'], '/srv/up', '/w').exclude, ['*.tmp', '*.cache', '/raw']);
    assert.deepEqual(rootOptions(shared, roots, ['/srv/up/raw'], '/var/www', '/w').exclude, ['*.tmp']);
  });

  it('one root alone keeps the replicas as given', () => {
    assert.deepEqual(rootOptions(shared, [roots[0]!], [], '/var/www', '/w').replicas, shared.replicas);
  });

  it('a replica that is no string is left for the library to refuse by name', () => {
    const odd = { replicas: [2 as unknown as string, 'web2'] };
    assert.deepEqual(rootOptions(odd, roots, [], '/var/www', '/w').replicas, [2, 'web2']);
  });
});

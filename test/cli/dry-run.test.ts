/** What a dry run prints, as data: rsync's itemized lines in words, the call's lines, the hand command of a replica. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeItem, describePlanned, handCommand } from '../../src/cli/dry-run.js';
import { normalizeOptions } from '../../src/options.js';
import type { PlannedEvent } from '../../src/types.js';

describe('describeItem: rsync says what it would do, in words', () => {
  const rows: Array<[string, string]> = [
    ['*deleting   0 old.txt', 'would delete "old.txt"'],
    ['*deleting   0 gone dir/', 'would delete "gone dir/"'],
    ['>f+++++++++ 0 a', 'would send "a" (new)'],
    ['>f.st...... 0 www/index.html', 'would send "www/index.html"'],
    ['<f+++++++++ 0 x', 'would send "x" (new)'],
    ['cd+++++++++ 0 sub/', 'would create directory "sub/"'],
    ['cL+++++++++ 0 link -> ../target', 'would create symlink "link" -> "../target"'],
    ['hf+++++++++ 0 b => a', 'would hard-link "b" to "a"'],
    ['.d..t...... 0 ./', 'would update the attributes of "./"'],
    ['.f...p..... 0 run.sh', 'would update the attributes of "run.sh"'],
    ["cd+++++++++ 0 it's\\#012new/", 'would create directory "it\'s\\\\#012new/"'],
    ['created directory /srv/new', 'would create the replica directory "/srv/new"'],
    ['something else', 'something else'],
  ];
  for (const [line, want] of rows) it(line, () => assert.equal(describeItem(line), want));
});

describe('describePlanned: "would", never "synced"', () => {
  const base: PlannedEvent = { replica: 'r', paths: 'full', args: [], items: [], changes: 0, files: 0, deletions: 0 };
  const rows: Array<{ name: string; e: Partial<PlannedEvent>; line: string; details: string }> = [
    { name: 'a full pass that changes nothing', e: {}, line: 'dry run: r, a full pass: nothing would change', details: '  by hand: rsync -a\n' },
    {
      name: 'a full pass with changes',
      e: { items: ['*deleting   0 x', '>f+++++++++ 0 y'], changes: 2, files: 1, deletions: 1 },
      line: 'dry run: r, a full pass: would send 1 file, would delete 1 entry, 2 changes in all',
      details: '  would delete "x"\n  would send "y" (new)\n  by hand: rsync -a\n',
    },
    {
      name: 'listed paths (names are data: quoted), more changes than kept',
      e: { paths: ['a b', 'new\nline'], items: ['>f+++++++++ 0 a b'], changes: 3, files: 3, deletions: 0 },
      line: 'dry run: r, 2 listed paths: would send 3 files, would delete 0 entries, 3 changes in all',
      details: '  path "a b"\n  path "new\\nline"\n  would send "a b" (new)\n  … and 2 more\n  by hand (the listed paths NUL-separated on stdin): rsync -a\n',
    },
  ];
  for (const r of rows) it(r.name, () => assert.deepEqual(describePlanned({ ...base, ...r.e }, 'rsync -a'), { line: r.line, details: r.details }));
});

describe('handCommand: the replica as OpenSSH reaches it', () => {
  const env = { cwd: '/work', homeDir: '/home/u', userName: 'u' };
  const planned = (replica: string): PlannedEvent => ({
    replica,
    paths: 'full',
    args: ['-a', "--rsh=sh '/opt/bridge.sh'", '--', '/srv/www/', 'fam-mirror:/srv/www/'],
    items: [],
    changes: 0,
    files: 0,
    deletions: 0,
  });
  const rows: Array<{ name: string; options: Record<string, unknown>; want: string }> = [
    { name: 'OpenSSH defaults are not named', options: { replicas: ['web2:/srv/www'] }, want: `rsync -a -e ssh -- '/srv/www/' 'web2:/srv/www/'` },
    {
      name: 'a port, a key, a known_hosts file',
      options: { replicas: ['ssh://deploy@web2:2222/srv/www'], identityFiles: ['/k/id'], knownHostsFiles: ['/k/kh'] },
      want: `rsync -a -e 'ssh -p 2222 -i /k/id -o UserKnownHostsFile=/k/kh' -- '/srv/www/' 'deploy@web2:/srv/www/'`,
    },
    {
      name: 'accept-new',
      options: { replicas: ['web2:/srv/www'], strictHostKeyChecking: 'accept-new' },
      want: `rsync -a -e 'ssh -o StrictHostKeyChecking=accept-new' -- '/srv/www/' 'web2:/srv/www/'`,
    },
    { name: 'a local rsync elsewhere', options: { replicas: ['web2:/srv/www'], rsyncPath: '/opt/rsync/bin/rsync' }, want: `'/opt/rsync/bin/rsync' -a -e ssh -- '/srv/www/' 'web2:/srv/www/'` },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const o = normalizeOptions({ source: '/srv/www', ...r.options } as never, env);
      assert.equal(handCommand(planned(o.replicas[0]!.id), o, '/home/u'), r.want);
    });
  }
});

/**
 * The fast path's decision (core/fast-path.ts) as a table: which batches it takes and which go to
 * rsync, and why; the ops and parents it plans; owners as rsync's receiver sets them. And the shell
 * it sends (core/fast-script.ts): every name quoted, the guard first, checks before any change.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideFastPath, FAST_LIMITS, rsyncByShape, type FastCaps, type SourceEntry } from '../../src/core/fast-path.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterScript, beforeScript, FAST_UNSURE, printfFormat, tempsScript } from '../../src/core/fast-script.js';
import type { Plan } from '../../src/core/plan.js';

const root: SourceEntry = { type: 'dir', mode: 0o755, mtime: '1.000000001', user: 'root', group: 'root', empty: false };
const d: SourceEntry = { type: 'dir', mode: 0o750, mtime: '2.000000002', user: 'www', group: 'web', empty: false };
const file = (size = 3, extra: Partial<Extract<SourceEntry, { type: 'file' }>> = {}): SourceEntry => ({
  type: 'file',
  mode: 0o644,
  mtime: '3.000000003',
  user: 'www',
  group: 'web',
  links: 1,
  size,
  data: Buffer.alloc(size),
  ...extra,
});
const paths = (...p: string[]): Plan => ({ kind: 'paths', paths: p, deleted: 0 });
const asRoot: FastCaps = { uid: 0, groups: ['root'] };

const rows: Array<{ name: string; plan: Plan; entries: Record<string, SourceEntry>; caps?: FastCaps | undefined; want: 'fast' | RegExp }> = [
  { name: 'one small file', plan: paths('d/f'), entries: { '': root, d, 'd/f': file() }, want: 'fast' },
  { name: 'a delete', plan: paths('d/gone'), entries: { '': root, d, 'd/gone': { type: 'gone' } }, want: 'fast' },
  { name: 'an empty directory', plan: paths('e'), entries: { '': root, e: { ...d, empty: true } as SourceEntry }, want: 'fast' },
  { name: 'a symlink', plan: paths('l'), entries: { '': root, l: { type: 'symlink', mtime: '4.0', user: 'root', group: 'root', target: 'x' } }, want: 'fast' },
  { name: 'no caps', plan: paths('f'), entries: { '': root, f: file() }, caps: undefined, want: /no fast path/ },
  { name: 'a full pass', plan: { kind: 'full' }, entries: {}, want: /full/ },
  { name: 'a one-level sync', plan: { kind: 'paths', paths: [], deleted: 1, shallow: ['d'] }, entries: {}, want: /one-level/ },
  { name: 'a directory with content', plan: paths('d'), entries: { '': root, d }, want: /content/ },
  { name: 'a big file', plan: paths('f'), entries: { '': root, f: file(FAST_LIMITS.fileBytes + 1) }, want: /bigger/ },
  { name: 'a file that changed while read', plan: paths('f'), entries: { '': root, f: file(3, { data: undefined }) }, want: /bigger/ },
  { name: 'a hard link', plan: paths('f'), entries: { '': root, f: file(3, { links: 2 }) }, want: /hard-linked/ },
  { name: 'a fifo', plan: paths('p'), entries: { '': root, p: { type: 'other' } }, want: /not a file/ },
  { name: 'the owner record', plan: paths('.fam-mirror-owner'), entries: { '': root, '.fam-mirror-owner': file() }, want: /rsync's/ },
  { name: 'too many paths', plan: paths(...Array.from({ length: FAST_LIMITS.paths + 1 }, (_, i) => `f${i}`)), entries: { '': root }, want: /more than/ },
  {
    name: 'too many bytes',
    plan: paths('a', 'b', 'c', 'd', 'e'),
    entries: { '': root, a: file(FAST_LIMITS.fileBytes), b: file(FAST_LIMITS.fileBytes), c: file(FAST_LIMITS.fileBytes), d: file(FAST_LIMITS.fileBytes), e: file(FAST_LIMITS.fileBytes) },
    want: /bytes/,
  },
  { name: 'a parent gone meanwhile', plan: paths('d/f'), entries: { '': root, d: { type: 'gone' }, 'd/f': file() }, want: /not a directory/ },
  { name: 'a long name', plan: paths('x'.repeat(241)), entries: { '': root, ['x'.repeat(241)]: file() }, want: /long name/ },
];

describe('decideFastPath', () => {
  for (const row of rows) {
    it(row.name, () => {
      const got = decideFastPath({ plan: row.plan, entries: new Map(Object.entries(row.entries)), caps: 'caps' in row ? row.caps : asRoot, excludes: false });
      if (row.want === 'fast') assert.equal(got.kind, 'fast', got.kind === 'rsync' ? got.reason : '');
      else {
        assert.equal(got.kind, 'rsync');
        assert.match(got.kind === 'rsync' ? got.reason : '', row.want);
      }
    });
  }

  it('plans the ops, then every parent deepest first with the root last', () => {
    const got = decideFastPath({
      plan: paths('d/e/f', 'g'),
      entries: new Map(Object.entries({ '': root, d, 'd/e': d, 'd/e/f': file(), g: { type: 'gone' } as SourceEntry })),
      caps: asRoot,
      excludes: false,
    });
    assert.ok(got.kind === 'fast');
    assert.deepEqual(
      got.batch.ops.map((op) => `${op.kind} ${op.path}`),
      ['write d/e/f', 'delete g'],
    );
    assert.deepEqual(
      got.batch.parents.map((p) => p.path),
      ['d/e', 'd', ''],
    );
    assert.equal(got.batch.bytes, 3);
  });

  it('owners as rsync sets them: user and group as root, a member group otherwise, nothing else', () => {
    const attrs = (caps: FastCaps) => {
      const got = decideFastPath({ plan: paths('f'), entries: new Map(Object.entries({ '': root, f: file() })), caps, excludes: false });
      const op = got.kind === 'fast' ? got.batch.ops[0] : undefined;
      assert.ok(op?.kind === 'write');
      return op.attrs.owner;
    };
    assert.equal(attrs({ uid: 0, groups: [] }), 'www:web');
    assert.equal(attrs({ uid: 1000, groups: ['deploy', 'web'] }), ':web');
    assert.equal(attrs({ uid: 1000, groups: ['deploy'] }), undefined);
  });
});

describe('rsyncByShape: what goes to rsync before the source is read', () => {
  const shapes: Array<[name: string, plan: Plan, want: RegExp | undefined]> = [
    ['a few paths: read them, then decide', paths('a', 'b'), undefined],
    ['a burst of 10,000 paths: no file is opened', paths(...Array.from({ length: 10_000 }, (_, i) => `f${i}`)), /more than 16 paths/],
    ['listed and rechecked add up', { kind: 'paths', paths: Array.from({ length: 10 }, (_, i) => `p${i}`), recheck: Array.from({ length: 7 }, (_, i) => `r${i}`), deleted: 0 }, /more than/],
    ['a full pass', { kind: 'full' }, /full pass/],
    ['a one-level sync', { kind: 'paths', paths: [], deleted: 1, shallow: ['d'] }, /one-level/],
  ];
  for (const [name, plan, want] of shapes) {
    it(name, () => {
      const got = rsyncByShape(plan);
      if (want === undefined) assert.equal(got, undefined);
      else assert.match(got ?? '', want);
    });
  }
});

describe('fast-path shell', () => {
  const odd = "-a 'b'\nc $(x)";
  const got = decideFastPath({
    plan: paths(odd, 'gone', 'l'),
    entries: new Map(
      Object.entries({ '': root, [odd]: file(), gone: { type: 'gone' } as SourceEntry, l: { type: 'symlink', mtime: '5.5', user: 'root', group: 'root', target: '$(rm -rf /)' } as SourceEntry }),
    ),
    caps: asRoot,
    excludes: true,
  });
  assert.ok(got.kind === 'fast');
  const batch = got.batch;
  const write = batch.ops.find((op) => op.kind === 'write')!;
  const tempOf = (temp: string) => [{ temp, attrs: write.kind === 'write' ? write.attrs : { path: '', mtime: '0' } }];

  it('quotes every name and value, never splices one', () => {
    const all = [beforeScript(batch, '/r oot', undefined), tempsScript('/r oot', tempOf(`.${odd}.abcdef`)), afterScript(batch, '/r oot')].join('\n');
    assert.ok(all.includes(`'./-a '\\''b'\\''\nc $(x)'`), all);
    assert.ok(all.includes(`'$(rm -rf /)'`));
    assert.ok(all.includes(`cd -- '/r oot'`));
    assert.ok(!/[^']\$\(x\)/.test(all.replace(/'[^']*'/g, '')), 'no unquoted $(x)');
  });

  it('runs the guard first, and every check before any change', () => {
    const s = beforeScript(batch, '/r', { root: '/r', owner: 'm:/s', expectMount: false, seeded: true, takeOver: false, write: true });
    const lines = s.split('\n');
    const lastCheck = lines.length - 1 - [...lines].reverse().findIndex((l) => l.includes(`exit ${FAST_UNSURE}`));
    const firstChange = lines.findIndex((l) => /\b(rm|ln|mkdir) -/.test(l) && !l.includes('.fam-mirror'));
    assert.ok(lines[0]!.startsWith("r='/r'"), 'guard first');
    assert.ok(lastCheck >= 0 && lastCheck < firstChange, s);
    // With exclude rules, a directory the batch would remove goes to rsync (it keeps excluded names).
    assert.ok(s.includes(`if [ -d './gone' ] && [ ! -L './gone' ]; then exit ${FAST_UNSURE}; fi`));
  });

  it('sets times with touch -d @SEC.NSEC, symlinks with -h, owners with chown -h', () => {
    assert.match(tempsScript('/r', tempOf('.t')), /chown -h -- 'www:web' '\.\/\.t'/);
    assert.match(tempsScript('/r', tempOf('.t')), /touch -m -d '@3\.000000003' -- '\.\/\.t'/);
    assert.match(afterScript(batch, '/r'), /touch -h -m -d '@5\.5' -- '\.\/l'/);
    assert.match(afterScript(batch, '/r'), /touch -m -d '@1\.000000001' -- '\.'/);
  });

  it("tests an owner that is the login's own before setting it (no chown process when it is already right)", () => {
    const mine = afterScript(batch, '/r', { user: 'root', group: 'root' });
    // The root is root:root on the source: tested with the shell's -O/-G, chown only where one lacks it.
    assert.ok(mine.includes(`c=; for f in '.'; do { [ -O "$f" ] && [ -G "$f" ]; } || c=1; done\nif [ -n "$c" ]; then chown -h -- 'root:root' '.' || exit`), mine);
    // A symlink's owner is always set: test follows links.
    assert.match(mine, /^chown -h -- 'root:root' '\.\/l'/m);
    // Someone else's owner: set, as before.
    assert.match(tempsScript('/r', tempOf('.t'), { user: 'root', group: 'root' }), /^chown -h -- 'www:web' '\.\/\.t'/m);
    assert.match(afterScript(batch, '/r'), /^chown -h -- 'root:root' '\.'/m);
  });

  it('writes small files inside the first step, after every check, privately and never through an existing name', () => {
    const s = beforeScript(batch, '/r', undefined, { inline: [{ temp: '.t.abcdef', data: Buffer.from("%s'\\\n-"), attrs: { path: '.t.abcdef', mtime: '3.5', owner: 'www:web', mode: 0o644 } }] });
    const lines = s.split('\n');
    const lastCheck = lines.length - 1 - [...lines].reverse().findIndex((l) => l.includes(`exit ${FAST_UNSURE}`));
    const printf = lines.findIndex((l) => l.startsWith('printf '));
    assert.ok(lastCheck < lines.indexOf('umask 077') && lines.indexOf('umask 077') < printf && lines.includes('set -C'), s);
    assert.equal(lines[printf], "printf '\\045s\\047\\134\\012\\055' > './.t.abcdef' || exit 87");
    assert.ok(lines.slice(printf).some((l) => l.startsWith("touch -m -d '@3.5' -- './.t.abcdef'")));
  });
});

describe('the last step waits for the renames it follows', () => {
  const got = decideFastPath({ plan: paths('f'), entries: new Map(Object.entries({ '': root, f: file() })), caps: asRoot, excludes: false });
  assert.ok(got.kind === 'fast');
  it('waits for every temporary name before any touch', () => {
    const lines = afterScript(got.batch, '/r', undefined, ['.f.abcdef']).split('\n');
    const wait = lines.findIndex((l) => l.startsWith("wg './.f.abcdef' || exit 87"));
    const touch = lines.findIndex((l) => l.startsWith('touch '));
    assert.ok(wait > 0 && wait < touch, lines.join('\n'));
    assert.ok(!afterScript(got.batch, '/r').includes('wg '), 'no wait without renames');
  });
  it('with a real sh: returns once the name is gone (renamed by someone else meanwhile)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fam-wg-'));
    try {
      await writeFile(join(dir, '.f.abcdef'), 'x');
      const script = afterScript(got.batch, dir, undefined, ['.f.abcdef'])
        .split('\n')
        .filter((l) => !l.startsWith('touch ') && !l.includes('chown'));
      const run = spawn('sh', ['-c', `${script.join('\n')}\necho waited`]);
      let out = '';
      run.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const done = new Promise<number | null>((resolve) => run.on('close', resolve));
      setTimeout(() => void rename(join(dir, '.f.abcdef'), join(dir, 'f')), 100);
      assert.equal(await done, 0);
      assert.equal(out, 'waited\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('printfFormat', () => {
  const cases: Array<[string, Buffer]> = [
    ['every byte value', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['empty', Buffer.alloc(0)],
    ['a conversion and escapes', Buffer.from('%s %d %% \\c \\n \\0101 %b')],
    ['a leading dash', Buffer.from('-v x')],
    ['quotes and a command', Buffer.from(`'"$(rm -rf /)"' \`x\``)],
    ['NULs and high bytes', Buffer.from([0, 0, 0xff, 0x80, 0, 0x30])],
    ['digits after an escape', Buffer.from('\n1234\t567')],
  ];
  for (const [name, data] of cases) {
    it(`${name}: the real sh prints exactly those bytes`, () => {
      const r = spawnSync('sh', ['-c', `printf ${printfFormat(data)}`]);
      assert.equal(r.status, 0, r.stderr.toString());
      assert.deepEqual(r.stdout, data);
    });
  }
});

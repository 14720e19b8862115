/**
 * The replica guard: its rules as a table over facts (pure), and the shell prefix checked against the
 * same table by running it with a real `sh` on directories made to hold those facts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalGuard } from '../../src/transport/local-guard.js';
import { FENCE_FILE, GUARD_EXIT, OWNER_FILE, OWNER_PREFIX, guardCommand, guardDecision, guardRefusal, ownerFromStderr, type GuardFacts, type GuardSpec } from '../../src/core/replica-guard.js';

const ME = "m1:/srv/it's www";
const spec = (over: Partial<GuardSpec> = {}): GuardSpec => ({ root: '/r', owner: ME, expectMount: false, seeded: false, takeOver: false, write: true, ...over });
const facts = (over: Partial<GuardFacts> = {}): GuardFacts => ({ rootExists: true, parentExists: true, sameDeviceAsParent: true, fenced: false, ownerRecord: ME, ...over });

type Row = [name: string, Partial<GuardSpec>, Partial<GuardFacts>, ReturnType<typeof guardDecision>];
const go = (mkdir = false, writeOwner = false) => ({ kind: 'go', mkdir, writeOwner }) as const;
const ROWS: Row[] = [
  ['own record: go', {}, {}, go()],
  ['own record, seeded: go', { seeded: true }, {}, go()],
  ['mount expected, still mounted: go', { expectMount: true }, { sameDeviceAsParent: false }, go()],
  ['mount expected, on its parent device: unmounted', { expectMount: true }, {}, { kind: 'refuse', refusal: 'unmounted' }],
  ['mount expected, root gone: unmounted', { expectMount: true }, { rootExists: false, ownerRecord: undefined }, { kind: 'refuse', refusal: 'unmounted' }],
  ['unmounted before fenced', { expectMount: true }, { fenced: true }, { kind: 'refuse', refusal: 'unmounted' }],
  ['fenced', {}, { fenced: true }, { kind: 'refuse', refusal: 'fenced' }],
  ['fenced before owned', {}, { fenced: true, ownerRecord: 'm2:/x' }, { kind: 'refuse', refusal: 'fenced' }],
  ['fenced even when taking over', { takeOver: true }, { fenced: true }, { kind: 'refuse', refusal: 'fenced' }],
  ['another owner: owned, naming it', {}, { ownerRecord: 'm2:/srv/www' }, { kind: 'refuse', refusal: 'owned', owner: 'm2:/srv/www' }],
  ['another owner, taking over: rewrite', { takeOver: true }, { ownerRecord: 'm2:/srv/www' }, go(false, true)],
  ['another owner, seeded: still owned', { seeded: true }, { ownerRecord: 'm2:/srv/www' }, { kind: 'refuse', refusal: 'owned', owner: 'm2:/srv/www' }],
  ['no record, first batch: write it', {}, { ownerRecord: undefined }, go(false, true)],
  ['no record, dry run: write nothing', { write: false }, { ownerRecord: undefined }, go(false, false)],
  ['no root, first batch: create it and the record', {}, { rootExists: false, ownerRecord: undefined }, go(true, true)],
  ['no record, seeded: reseed', { seeded: true }, { ownerRecord: undefined }, { kind: 'refuse', refusal: 'reseed' }],
  ['no root, seeded: reseed', { seeded: true }, { rootExists: false, ownerRecord: undefined }, { kind: 'refuse', refusal: 'reseed' }],
  ['no root and no parent, seeded: go (rsync fails and retries; no re-seed that cannot land)', { seeded: true }, { rootExists: false, parentExists: false, ownerRecord: undefined }, go()],
  ['no root and no parent, first batch: nothing created', {}, { rootExists: false, parentExists: false, ownerRecord: undefined }, go()],
];

describe('guardDecision', () => {
  for (const [name, s, f, want] of ROWS) {
    it(name, () => assert.deepEqual(guardDecision(spec(s), facts(f)), want));
  }
  it('exit codes are ones rsync never uses, and map back', () => {
    const rsyncCodes = [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 30, 35, 124, 125, 126, 127, 255];
    for (const [refusal, code] of Object.entries(GUARD_EXIT)) {
      assert.ok(!rsyncCodes.includes(code), `${code} is rsync's`);
      assert.equal(guardRefusal(code), refusal);
    }
    assert.equal(guardRefusal(12), undefined);
    assert.equal(ownerFromStderr(`noise\n${OWNER_PREFIX}m2:/a b\n`), 'm2:/a b');
  });
});

function sh(command: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', `${command}exit 0`], (err, _stdout, stderr) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stderr }));
  });
}

const RUNNERS = {
  'guardCommand run by sh': async (g: GuardSpec) => sh(guardCommand(g)),
  'runLocalGuard (fs calls)': async (g: GuardSpec) => {
    const refused = await runLocalGuard(g);
    return { code: refused?.exitCode ?? 0, stderr: refused?.stderr ?? '' };
  },
};

for (const [title, runGuard] of Object.entries(RUNNERS))
  describe(title, () => {
    // The mount cases need a mount point: the real-sshd test covers them with a tmpfs.
    for (const [name, s, f, want] of ROWS.filter(([, s2, f2]) => s2.expectMount !== true || f2.sameDeviceAsParent !== false)) {
      it(name, async () => {
        const dir = await mkdtemp(join(tmpdir(), "guard 'q' "));
        try {
          const fx = facts(f);
          const root = fx.parentExists ? join(dir, 'replica $x') : join(dir, 'gone', 'replica $x');
          if (fx.rootExists) {
            await mkdir(root);
            if (fx.fenced) await writeFile(join(root, FENCE_FILE), 'fenced\n');
            if (fx.ownerRecord !== undefined) await writeFile(join(root, OWNER_FILE), `${fx.ownerRecord}\n`);
          }
          const { code, stderr } = await runGuard(spec({ ...s, root: `${root}/` }));
          if (want.kind === 'refuse') {
            assert.equal(code, GUARD_EXIT[want.refusal]);
            if (want.owner !== undefined) assert.equal(ownerFromStderr(stderr), want.owner);
            return;
          }
          assert.equal(code, 0, stderr);
          const record = await readFile(join(root, OWNER_FILE), 'utf8').catch(() => undefined);
          if (want.writeOwner) assert.equal(record, `${ME}\n`);
          else assert.equal(record, fx.ownerRecord === undefined ? undefined : `${fx.ownerRecord}\n`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    }
  });

describe('the shell guard reads the owner record as $(cat) did', () => {
  // The whole content, trailing newlines aside, must be this master's line: anything else is another owner.
  const contents = [`${ME}`, `${ME}\n`, `${ME}\n\n\n`, `${ME}\nx`, `${ME}\n\nx\n`, `${ME}\r\n`, '', '\n', `\n${ME}`, ` ${ME}`, `${ME} `, `${ME}x`, `${ME}\\`, 'm2:/other\n'];
  for (const content of contents) {
    const same = content.replace(/\n+$/, '') === ME;
    it(`${JSON.stringify(content)}: ${same ? 'this master' : 'another owner'}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'guard-read-'));
      try {
        await writeFile(join(dir, OWNER_FILE), content);
        const { code } = await sh(guardCommand(spec({ root: dir, seeded: true })));
        assert.equal(code, same ? 0 : GUARD_EXIT.owned);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

/**
 * The journal (the durable state): its record format and checksums (pure), its files (temp dir), what a restart
 * does with damaged state (never trusts it), its bound while a replica is down, and the promise it
 * exists for: a mirror killed with SIGKILL mid-batch, with changes made while it was down, restarted
 * without --init, brings the replica level with the source.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, truncate, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal } from '../../src/sync/journal.js';
import { decodeCleanStop, decodeJournal, decodeMark, encodeCleanStop, encodeHeader, encodeMark, encodeRecord, hashName, type JournalRecord } from '../../src/sync/journal-format.js';
import { Mirror, type MirrorOptions, type ProblemEvent, type SyncedEvent } from '../../src/index.js';
import { startSshdHosts, stopAll } from '../helpers/sshd.js';
import { assertTreesEqual, cleanupTempDirs, diffTrees, makeTempDir, waitFor } from '../helpers/tree.js';
import { startCli } from '../helpers/cli.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

describe('journal records', () => {
  const hostile = ['a', 'with space', 'new\nline', '', 'ü/名前', '-rf', 'R', '0', 'J'];
  const records: JournalRecord[] = [
    { seq: 8, paths: hostile },
    { seq: 9, paths: [''], at: 1_796_000_000_123 },
    { seq: 10, paths: [''], replica: hashName('web2:/srv/www'), at: 1_796_000_000_456 },
    { seq: 11, paths: [] },
  ];
  const whole = Buffer.concat([encodeHeader(7), ...records.map(encodeRecord)]);

  it('round-trip any names, several records, records for one replica', () => {
    assert.deepEqual(decodeJournal(whole), { base: 7, records, damage: undefined });
    assert.deepEqual(decodeJournal(encodeHeader(42)), { base: 42, records: [], damage: undefined });
  });

  it('a torn tail (crash mid-write) is dropped, the records before it kept, and is no damage', () => {
    const firstTwo = Buffer.concat([encodeHeader(7), ...records.slice(0, 2).map(encodeRecord)]).length;
    for (let cut = firstTwo + 1; cut < firstTwo + encodeRecord(records[2]!).length; cut++) {
      assert.deepEqual(decodeJournal(whole.subarray(0, cut)), { base: 7, records: records.slice(0, 2), damage: undefined }, `cut at ${cut}`);
    }
  });

  const at = (n: number) => Buffer.concat([encodeHeader(7), ...records.slice(0, n).map(encodeRecord)]).length;
  const damaged: Array<{ name: string; bytes: () => Buffer; kept: number; damage: RegExp }> = [
    { name: 'a byte of a path changed', bytes: () => patch(whole, at(0) + 12, 'X'), kept: 0, damage: /checksum mismatch in the record with seq 8/ },
    { name: 'a seq changed', bytes: () => patch(whole, at(1) + 2, '7'), kept: 1, damage: /checksum mismatch/ },
    { name: 'a checksum changed', bytes: () => patch(whole, at(3) - 3, 'z'), kept: 2, damage: /checksum mismatch in the record with seq 10/ },
    { name: 'a record cut out of the middle', bytes: () => Buffer.concat([whole.subarray(0, at(1)), whole.subarray(at(2))]), kept: 1, damage: /seq 10 where 9 was due/ },
    {
      name: 'garbage between records',
      bytes: () => Buffer.concat([whole.subarray(0, at(2)), Buffer.from('\0garbage\0\0\0\0'), whole.subarray(at(2))]),
      kept: 2,
      damage: /unreadable record after seq 9/,
    },
    { name: 'garbage instead of the header', bytes: () => patch(whole, 0, 'Q'), kept: 0, damage: /header is unreadable/ },
    { name: 'the previous format (no header, no checksums)', bytes: () => Buffer.from('R\x001\x001\x00a\x00'), kept: 0, damage: /header is unreadable/ },
    { name: 'another format version', bytes: () => reHeader(whole, '2'), kept: 0, damage: /format version 2, this fam-mirror reads 3/ },
    { name: 'an empty file', bytes: () => Buffer.alloc(0), kept: 0, damage: /empty/ },
  ];
  for (const c of damaged) {
    it(`damage is reported, not trusted: ${c.name}`, () => {
      const got = decodeJournal(c.bytes());
      assert.deepEqual(got.records, records.slice(0, c.kept));
      assert.match(got.damage ?? '(none)', c.damage);
    });
  }

  it("a watermark checks out only intact and under its own replica's name", () => {
    const key = hashName('web2:/srv/www');
    const good = encodeMark(41, 'web2:/srv/www');
    assert.equal(decodeMark(good, key), 41);
    const cases: Array<[string, string]> = [
      ['truncated', good.slice(0, good.length - 5)],
      ['empty', ''],
      ['a digit changed', good.replace('41', '47')],
      ['garbage', '999999\nweb2:/srv/www\n'],
      ['the previous format', '41\nweb2:/srv/www\n'],
      ["another replica's mark", encodeMark(41, 'web3:/srv/www')],
    ];
    for (const [name, text] of cases) assert.equal(decodeMark(text, key), undefined, name);
  });

  it('the clean-stop record round-trips and is refused when damaged', () => {
    const marks = new Map([
      [hashName('a'), 3],
      [hashName('b'), 5],
    ]);
    const text = encodeCleanStop(5, marks);
    assert.deepEqual(decodeCleanStop(text), { lastSeq: 5, marks });
    assert.equal(decodeCleanStop(text.replace('\n5\n', '\n6\n')), undefined);
    assert.equal(decodeCleanStop(text.slice(0, -2)), undefined);
    assert.equal(decodeCleanStop(''), undefined);
  });
});

function patch(buf: Buffer, at: number, text: string): Buffer {
  const out = Buffer.from(buf);
  out.write(text, at, 'latin1');
  return out;
}

/** The same journal under a header of another version, with a valid header checksum. */
function reHeader(buf: Buffer, version: string): Buffer {
  const old = encodeHeader(7);
  const body = `J\0${version}\0${7}\0`;
  const sum = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return Buffer.concat([Buffer.from(`${body}${sum}\0`), buf.subarray(old.length)]);
}

describe('Journal files', () => {
  it('keep what a replica has not confirmed across a clean reopen, per replica', async () => {
    const dir = await makeTempDir('fam-journal-');
    const j = new Journal(dir, '/srv/www');
    assert.equal(j.known, false);
    j.confirm('r1', 0);
    j.confirm('r2', 0);
    j.append({ seq: 1, paths: ['a'] });
    j.append({ seq: 2, paths: ['b\nc'] });
    j.append({ seq: 3, paths: [''], replica: hashName('r1') });
    j.confirm('r1', 2);
    j.confirm('r2', 1);
    j.close({ clean: true });
    const again = new Journal(dir, '/srv/www');
    assert.equal(again.known, true);
    assert.equal(again.cleanStop, true);
    assert.equal(again.lastSeq, 3);
    assert.deepEqual(again.resume('r1'), { kind: 'records', records: [{ seq: 3, paths: [''], replica: hashName('r1') }] });
    assert.deepEqual(again.resume('r2'), { kind: 'records', records: [{ seq: 2, paths: ['b\nc'] }] }, 'a record for r1 only is not for r2');
    assert.deepEqual(again.resume('never-seen'), { kind: 'new' });
    again.close();
    const st = await stat(join(dir, hashName('/srv/www')));
    assert.equal(st.mode & 0o777, 0o700);
    const third = new Journal(dir, '/srv/www');
    assert.equal(third.cleanStop, false, 'the clean-stop record is consumed at open: a run closed without it was not clean');
    third.close();
  });

  it('a watermark is rewritten in place (same file), also when it gets shorter, and reads back exactly', async () => {
    const dir = await makeTempDir('fam-journal-mark-');
    const j = new Journal(dir, '/srv/www');
    for (let seq = 1; seq <= 120; seq++) j.append({ seq, paths: [`p${seq}`] });
    j.confirm('r1', 5);
    const file = join(dir, hashName('/srv/www'), 'marks', hashName('r1'));
    const ino = (await stat(file)).ino;
    j.confirm('r1', 110);
    assert.equal((await stat(file)).ino, ino, 'no rename: the same inode');
    assert.equal(decodeMark(await readFile(file, 'utf8'), hashName('r1')), 110);
    // Downwards (a full pass journaled right above 9): three digits to one, no bytes left behind.
    j.setMark('r1', 9);
    assert.equal(decodeMark(await readFile(file, 'utf8'), hashName('r1')), 9);
    j.close();
    const again = new Journal(dir, '/srv/www');
    const resume = again.resume('r1');
    assert.ok(resume.kind === 'records' && resume.records[0]?.seq === 10 && resume.records.length === 111, JSON.stringify(resume).slice(0, 200));
    again.close();
  });

  const damages: Array<{ name: string; damage: (d: string) => Promise<void>; r1: string; r2: RegExp }> = [
    { name: 'journal cut short', damage: async (d) => truncate(join(d, 'journal'), (await stat(join(d, 'journal'))).size - 10), r1: 'records', r2: /the journal ends at seq 3, but seq 4 was used/ },
    { name: 'journal lost', damage: (d) => rm(join(d, 'journal')), r1: 'records', r2: /journal is missing/ },
    { name: 'watermark garbage', damage: (d) => writeFile(join(d, 'marks', hashName('r2')), '4\nr2\n0123456789abcdef\n'), r1: 'records', r2: /watermark file is damaged/ },
    { name: 'watermark lost', damage: (d) => rm(join(d, 'marks', hashName('r2'))), r1: 'records', r2: /watermark file is missing/ },
    { name: 'watermark rolled back to an older, intact one', damage: (d) => writeFile(join(d, 'marks', hashName('r2')), encodeMark(0, 'r2')), r1: 'records', r2: /the clean stop recorded 1/ },
  ];
  for (const c of damages) {
    it(`after a clean stop, ${c.name}: the replica behind gets a full pass, the one in step nothing`, async () => {
      const dir = await makeTempDir('fam-journal-damage-');
      const j = new Journal(dir, '/srv/www');
      j.confirm('r1', 0);
      j.confirm('r2', 0);
      for (let seq = 1; seq <= 4; seq++) j.append({ seq, paths: [`f${seq}`] });
      j.confirm('r1', 4);
      j.confirm('r2', 1);
      j.close({ clean: true });
      await c.damage(join(dir, hashName('/srv/www')));
      const again = new Journal(dir, '/srv/www');
      assert.deepEqual(again.resume('r1'), { kind: 'records', records: [] });
      const r2 = again.resume('r2');
      assert.equal(r2.kind, 'full', JSON.stringify(r2));
      assert.match((r2 as { reason: string }).reason, c.r2);
      assert.equal(again.lastSeq, 4, 'seqs continue above every seq used');
      again.close();
    });
  }

  it('a replica past the limit is named; its full pass lets the journal shrink to what is left', async () => {
    const dir = await makeTempDir('fam-journal-limit-');
    const j = new Journal(dir, '/srv/www', { limitBytes: 2048 });
    j.confirm('up', 0);
    j.confirm('down', 0);
    const journal = join(dir, hashName('/srv/www'), 'journal');
    let seq = 0;
    while (!j.compactionDue && seq < 1000) {
      j.append({ seq: ++seq, paths: [`file-${'x'.repeat(100)}-${seq}`] });
      j.confirm('up', seq);
    }
    assert.ok(j.compactionDue, 'the journal grew past the limit');
    assert.deepEqual(j.behindBeyond(['up', 'down']), ['down']);
    j.append({ seq: ++seq, paths: [''], replica: hashName('down') });
    j.setMark('down', seq - 1);
    j.compact(['up', 'down']);
    assert.ok((await stat(journal)).size < 300, `journal compacted to ${(await stat(journal)).size} bytes`);
    j.close({ clean: true });
    const again = new Journal(dir, '/srv/www', { limitBytes: 2048 });
    assert.deepEqual(again.resume('down'), { kind: 'records', records: [{ seq, paths: [''], replica: hashName('down') }] });
    assert.deepEqual(again.resume('up'), { kind: 'records', records: [] });
    again.close();
  });
});

/** A Mirror over two local replicas where the second is left behind (its parent directory renamed away). */
async function behindRig(extra: Partial<MirrorOptions> = {}) {
  const src = await makeTempDir('fam-behind-src-');
  const r1 = await makeTempDir('fam-behind-r1-');
  const box = await makeTempDir('fam-behind-box-');
  const r2 = join(box, 'r2');
  const state = await makeTempDir('fam-behind-state-');
  for (let i = 0; i < 30; i++) await writeFile(join(src, `seeded-${i}.txt`), `${i}\n`);
  const options: MirrorOptions = { source: src, replicas: [r1, r2], stateDir: state, retryMinMs: 50, retryMaxMs: 300, ...extra };
  const events = { synced: [] as SyncedEvent[], problems: [] as ProblemEvent[] };
  const open = (init: boolean) => {
    const m = new Mirror({ ...options, initMirror: init });
    m.on('synced', (e) => events.synced.push(e));
    m.on('problem', (e) => events.problems.push(e));
    m.on('error', () => {});
    return m;
  };
  return {
    src,
    r1,
    r2,
    state,
    events,
    open,
    /** rsync cannot create r2 while its parent is away (exit 11, retried with backoff). */
    breakR2: () => rename(box, `${box}.off`),
    fixR2: () => rename(`${box}.off`, box),
    stateDir: join(state, hashName(src)),
  };
}

/** 19 files that r2 lacks, 11 it has too many, 3 it has in an old version. */
async function changeWhileR2IsAway(src: string): Promise<void> {
  for (let i = 0; i < 19; i++) await writeFile(join(src, `new-${i}.txt`), `new ${i}\n`);
  for (let i = 0; i < 11; i++) await rm(join(src, `seeded-${i}.txt`));
  for (let i = 20; i < 23; i++) await writeFile(join(src, `seeded-${i}.txt`), `changed ${i}\n`);
}

describe('a damaged state directory is never trusted', () => {
  const cases: Array<{ name: string; damage: (stateDir: string, r2: string) => Promise<void> }> = [
    { name: 'the journal cut short', damage: async (d) => truncate(join(d, 'journal'), Math.floor((await stat(join(d, 'journal'))).size / 2)) },
    {
      name: 'the journal overwritten with garbage',
      damage: async (d) => {
        const size = (await stat(join(d, 'journal'))).size;
        const fd = await open(join(d, 'journal'), 'r+');
        await fd.write(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) % 256)), 0, 64, Math.floor(size / 2));
        await fd.close();
      },
    },
    { name: 'the watermark cut short', damage: async (d, r2) => truncate(join(d, 'marks', hashName(r2)), 3) },
    { name: 'the watermark overwritten with garbage', damage: async (d, r2) => writeFile(join(d, 'marks', hashName(r2)), '99999999\ngarbage\n') },
  ];
  for (const c of cases) {
    it(`stopped cleanly with a replica behind, then ${c.name}: the restart reconciles that replica`, async () => {
      const rig = await behindRig();
      const first = rig.open(true);
      await first.start();
      const r2 = first.options.replicas[1]!.id;
      await rig.breakR2();
      await changeWhileR2IsAway(rig.src);
      assert.deepEqual((await first.flush({ healthyOnly: true })).behind, [r2]);
      await first.close();
      await rig.fixR2();
      await c.damage(rig.stateDir, r2);

      rig.events.synced.length = 0;
      const second = rig.open(false);
      await second.start();
      try {
        assert.deepEqual(await second.flush({ timeoutMs: 15_000 }), { complete: true, behind: [], problems: [] });
        await assertTreesEqual(rig.src, rig.r1, 'the replica in step');
        await assertTreesEqual(rig.src, rig.r2, 'the replica that was behind');
        assert.deepEqual(
          rig.events.problems.filter((p) => p.code === 'ERR_STATE_DAMAGED').map((p) => p.replica),
          [r2],
        );
        assert.deepEqual(
          rig.events.synced.filter((e) => e.full).map((e) => e.replica),
          [r2],
          'a full pass for the replica concerned only',
        );
      } finally {
        await second.close();
      }
    });
  }
});

describe('the journal is bounded while a replica is down', () => {
  it('past journalLimitBytes the replica behind gets one full pass instead of its records; the journal is compacted', async () => {
    const limit = 4096;
    const rig = await behindRig({ journalLimitBytes: limit });
    const m = rig.open(true);
    await m.start();
    const r2 = m.options.replicas[1]!.id;
    const journal = join(rig.stateDir, 'journal');
    try {
      await rig.breakR2();
      let largest = 0;
      for (let round = 0; round < 30; round++) {
        for (let i = 0; i < 5; i++) await writeFile(join(rig.src, `round-${round}-${i}-${'long-name-'.repeat(15)}`), `${round}\n`);
        await m.flush({ healthyOnly: true });
        largest = Math.max(largest, (await stat(journal)).size);
      }
      assert.ok(largest <= 2 * limit, `the journal grew to ${largest} bytes (limit ${limit})`);
      rig.events.synced.length = 0;
      await rig.fixR2();
      assert.deepEqual(await m.flush({ timeoutMs: 15_000 }), { complete: true, behind: [], problems: [] });
      await assertTreesEqual(rig.src, rig.r2, 'the replica that was down');
      assert.deepEqual(
        rig.events.synced.filter((e) => e.replica === r2).map((e) => e.full),
        [true],
        'one full pass caught it up',
      );
    } finally {
      await m.close();
    }
  });
});

describe('restart after SIGKILL', () => {
  it('resends what no replica confirmed and reconciles what changed while down', async () => {
    const [h] = await startSshdHosts(1);
    const src = await makeTempDir('fam-restart-src-');
    const dst = await makeTempDir('fam-restart-dst-');
    const state = await makeTempDir('fam-restart-state-');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(src, `d${d}`));
      for (let i = 0; i < 10; i++) await writeFile(join(src, `d${d}/f${i}`), `${d}/${i}\n`.repeat(100));
    }
    const args = ['--state-dir', state, '--identity', h!.identityFile, '--known-hosts', h!.knownHostsFile, src, `ssh://${h!.user}@127.0.0.1:${h!.port}${dst}`];
    const first = startCli(['--init', ...args]);
    await waitFor(() => /seeded and watching/.test(first.out()), { what: 'seed', timeoutMs: 30_000 });
    await assertTreesEqual(src, dst, 'seeded');

    // The replica hangs, so the next batch is stuck in flight when the mirror is killed.
    h!.pause();
    await writeFile(join(src, 'd0/f0'), 'changed while the replica hung\n');
    await rm(join(src, 'd1'), { recursive: true });
    await mkdir(join(src, 'fresh'));
    await writeFile(join(src, 'fresh/new.txt'), 'new\n');
    const journal = join(state, hashName(src), 'journal');
    await waitFor(
      async () => {
        const paths = decodeJournal(await readFile(journal)).records.flatMap((r) => r.paths);
        return ['d0/f0', 'd1', 'fresh'].every((p) => paths.includes(p));
      },
      { what: 'the changes to be journaled' },
    );
    first.child.kill('SIGKILL');
    await first.exit;
    h!.resume();

    // Changes while no mirror runs.
    await writeFile(join(src, 'd2/f2'), 'changed while the mirror was down\n');
    await rename(join(src, 'd3'), join(src, 'd3-renamed'));
    await rm(join(src, 'd4/f4'));
    assert.ok((await diffTrees(src, dst)).length > 0, 'the replica is behind before the restart');

    const second = startCli(args);
    try {
      await waitFor(() => /watching \(ready in/.test(second.out()), { what: 'restart', timeoutMs: 30_000 });
      await waitFor(async () => (await diffTrees(src, dst)).length === 0, { what: 'the replica to catch up', timeoutMs: 30_000 });
      await assertTreesEqual(src, dst, 'after restart');
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exit, 0, second.out());
    // Killed, so what changed after its last snapshot is unknown: an itemized full pass (test/restart.test.ts
    // shows it sends no unchanged data, and that a clean stop needs none).
    assert.match(second.out(), /did not stop cleanly/);
    assert.match(second.out(), /full pass \(unclean stop\) on /);
    // The fault matrix ends every scenario the same way: rsync's checksum comparison finds nothing.
    const verify = startCli(['verify', ...args]);
    assert.equal(await verify.exit, 0, verify.out());
    assert.match(verify.out(), /: identical\n/);
  });
});

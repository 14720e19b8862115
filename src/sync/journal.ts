/**
 * The durable state: what no replica has confirmed yet survives a SIGKILL of the mirror, and a
 * damaged state directory is never trusted.
 *
 * Layout, under `<stateDir>/<hash of the source path>/`:
 * - `journal`: a header `J\0<version>\0<base>\0<check>\0`, then append-only records
 *   `R\0<seq>\0<replica key or ''>\0<epoch ms>\0<count>\0<path>\0…<check>\0`, one per watcher
 *   delivery ('' = a full pass; a replica key = for that replica only; the time it was journaled),
 *   written with one write(2) before the change is handed to any lane. NUL separators keep any file
 *   name intact; `check` is a checksum of the bytes before it. Seqs are contiguous from base + 1, so
 *   a record cut out of the middle shows.
 * - `marks/<replica key>`: the replica's watermark `<seq>\n<id>\n<check>\n`, rewritten in place after
 *   each successful batch (one pwrite; a rename over the old file made ext4 write the new one's
 *   data out first, ≈ 1.8 ms on the event loop per replica and batch: bench/README.md, "Full run
 *   with the fast path"). A mark torn by a crash fails its check and costs that replica a full
 *   pass, never a wrong resume. A lane takes *all* its backlog in one batch, so success means
 *   every change with a seq ≤ the highest seq it had been given is on that replica.
 * - `clean`: written by a clean stop (last seq and every watermark, checksummed), removed at open. Its
 *   absence means the last run was killed: what changed after its last snapshot is unknown.
 * - `snapshot`: @parcel/watcher's tree snapshot, for the changes made while no mirror ran.
 *
 * On start, records above a replica's watermark go back into its backlog. Whatever does not check out
 * (a bad checksum, a gap, an unknown version, a journal shorter than the clean stop recorded, a mark
 * that is garbage or missing) is answered with a full pass of the replicas concerned, never trusted.
 * The journal is rewritten without the records every replica has confirmed once it grows past a
 * threshold; a replica more than `limitBytes` of journal behind gets a full pass instead (the caller
 * asks `behindBeyond()`), so a replica down for days does not grow the journal without bound.
 */
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import createDebug from 'debug';
import { decodeCleanStop, decodeJournal, decodeMark, encodeCleanStop, encodeHeader, encodeMark, encodeRecord, hashName, type JournalRecord } from './journal-format.js';

const debug = createDebug('fam-mirror:journal');
const COMPACT_BYTES = 8 * 1024 * 1024;
export const DEFAULT_JOURNAL_LIMIT_BYTES = 64 * 1024 * 1024;

/** What a restart owes one replica. */
export type Resume =
  /** This state has never seen the replica. */
  | { kind: 'new' }
  /** Send these records again (possibly none). */
  | { kind: 'records'; records: JournalRecord[] }
  /** What it lacks is not known for sure: a full pass, and why. */
  | { kind: 'full'; reason: string };

export class Journal {
  readonly dir: string;
  readonly snapshotFile: string;
  readonly #journalFile: string;
  readonly #marksDir: string;
  readonly #cleanFile: string;
  readonly #limitBytes: number;
  #fd: number;
  #base: number;
  #records: JournalRecord[];
  /** Encoded size of each record, by seq, for `behindBeyond()`. */
  #sizes = new Map<number, number>();
  #marks = new Map<string, number>();
  /** Open watermark files by key, and the length each holds now. */
  #markFiles = new Map<string, { fd: number; length: number }>();
  /** Replica keys whose mark did not check out (or went missing after a clean stop), and why. */
  #damagedMarks = new Map<string, string>();
  #journalDamage: string | undefined;
  #lastSeq = 0;
  #written = 0;
  readonly #compactBase: number;
  #compactAt: number;

  /** Opens (or creates, mode 0700) the state for `source`; reads and checks the journal and the watermarks. */
  constructor(stateDir: string, source: string, opts: { limitBytes?: number } = {}) {
    this.dir = join(stateDir, hashName(source));
    this.#journalFile = join(this.dir, 'journal');
    this.#marksDir = join(this.dir, 'marks');
    this.#cleanFile = join(this.dir, 'clean');
    this.snapshotFile = join(this.dir, 'snapshot');
    this.#limitBytes = opts.limitBytes ?? DEFAULT_JOURNAL_LIMIT_BYTES;
    this.#compactBase = Math.min(COMPACT_BYTES, this.#limitBytes);
    this.#compactAt = this.#compactBase;
    mkdirSync(this.#marksDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, 'source'), `${source}\n`, { mode: 0o600 });

    // Consumed at once: if this run is killed, the next start must not find it.
    const cleanText = existsSync(this.#cleanFile) ? readFileSync(this.#cleanFile, 'utf8') : undefined;
    if (cleanText !== undefined) unlinkSync(this.#cleanFile);
    const clean = cleanText === undefined ? undefined : decodeCleanStop(cleanText);
    const hasJournal = existsSync(this.#journalFile);
    const journal = hasJournal ? decodeJournal(readFileSync(this.#journalFile)) : { base: 0, records: [], damage: 'the journal is missing' };
    this.#records = journal.records;
    const journalLast = journal.records.length === 0 ? journal.base : journal.records[journal.records.length - 1]!.seq;
    let lastSeq = journalLast;
    for (const name of readdirSync(this.#marksDir)) {
      if (name.endsWith('.tmp')) continue;
      const seq = decodeMark(readFileSync(join(this.#marksDir, name), 'utf8'), name);
      if (seq === undefined) this.#damagedMarks.set(name, 'its watermark file is damaged');
      else {
        this.#marks.set(name, seq);
        lastSeq = Math.max(lastSeq, seq);
      }
    }
    this.known = hasJournal || this.#marks.size > 0 || this.#damagedMarks.size > 0 || cleanText !== undefined;
    this.cleanStop = clean !== undefined;
    if (cleanText !== undefined && clean === undefined) debug('the clean-stop record is damaged: treated as an unclean stop');
    if (clean !== undefined) {
      lastSeq = Math.max(lastSeq, clean.lastSeq);
      // A clean stop knows every watermark: one missing or different is damage.
      for (const [key, seq] of clean.marks) {
        if (!this.#marks.has(key) && !this.#damagedMarks.has(key)) this.#damagedMarks.set(key, 'its watermark file is missing');
        else if (this.#marks.has(key) && this.#marks.get(key) !== seq) this.#damagedMarks.set(key, `its watermark says ${this.#marks.get(key)}, the clean stop recorded ${seq}`);
      }
    }
    // Every seq a watermark or the clean stop names was journaled first: a journal that ends below
    // them lost its tail.
    if (journal.damage === undefined && lastSeq > journalLast) journal.damage = `the journal ends at seq ${journalLast}, but seq ${lastSeq} was used`;
    for (const key of this.#damagedMarks.keys()) this.#marks.delete(key);
    this.#base = journal.base;
    if (journal.damage !== undefined && this.known) {
      this.#journalDamage = journal.damage;
      debug('journal damaged: %s', journal.damage);
      // The records are not to be trusted: replicas behind the last seq get a full pass instead.
      this.#records = [];
    }
    if (this.#records.length === 0) this.#base = lastSeq;
    this.#lastSeq = lastSeq;
    for (const r of this.#records) this.#sizes.set(r.seq, encodeRecord(r).length);
    // Rewrite on open: drops a torn tail, so new records never follow garbage.
    this.#fd = this.#rewrite();
  }

  /** True when an earlier run left state here (a restart, not a first start); fixed at open. */
  readonly known: boolean;
  /** True when the earlier run stopped cleanly (its snapshot then covers every change it saw). */
  readonly cleanStop: boolean;

  /** Why the journal was not trusted at open, if it was not. */
  get journalDamage(): string | undefined {
    return this.#journalDamage;
  }

  /** The highest seq ever used, so a new run continues above it. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** What a restart owes this replica, decided from the state as it was at open. */
  resume(replicaId: string): Resume {
    const key = hashName(replicaId);
    const damaged = this.#damagedMarks.get(key);
    if (damaged !== undefined) return { kind: 'full', reason: damaged };
    const mark = this.#marks.get(key);
    if (mark === undefined) return { kind: 'new' };
    if (mark >= this.#lastSeq) return { kind: 'records', records: [] };
    if (this.#journalDamage !== undefined) return { kind: 'full', reason: `the journal is damaged (${this.#journalDamage})` };
    if (mark < this.#base) return { kind: 'full', reason: 'its journal records were dropped while it was not configured' };
    return { kind: 'records', records: this.#records.filter((r) => r.seq > mark && (r.replica === undefined || r.replica === key)) };
  }

  append(record: JournalRecord): void {
    const buf = encodeRecord(record);
    writeAll(this.#fd, buf, undefined);
    this.#records.push(record);
    this.#sizes.set(record.seq, buf.length);
    if (record.seq > this.#lastSeq) this.#lastSeq = record.seq;
    this.#written += buf.length;
  }

  /** Moves the watermark up (never down): every change with a seq ≤ `seq` is on the replica. */
  confirm(replicaId: string, seq: number): void {
    const key = hashName(replicaId);
    if ((this.#marks.get(key) ?? -1) >= seq) return;
    this.#writeMark(replicaId, seq);
  }

  /**
   * Sets the watermark to exactly `seq`, also downwards. Only right when a full pass for this replica
   * is journaled right above `seq`: that pass stands for everything the replica lacked.
   */
  setMark(replicaId: string, seq: number): void {
    this.#damagedMarks.delete(hashName(replicaId));
    this.#writeMark(replicaId, seq);
  }

  /** True once the journal is big enough for `behindBeyond()` and `compact()` to be worth it. */
  get compactionDue(): boolean {
    return this.#written >= this.#compactAt;
  }

  /** Replicas of `replicaIds` whose unconfirmed records take more than the limit. */
  behindBeyond(replicaIds: readonly string[]): string[] {
    return replicaIds.filter((id) => {
      const key = hashName(id);
      const mark = this.#marks.get(key) ?? this.#base;
      let bytes = 0;
      for (const r of this.#records) {
        if (r.seq > mark && (r.replica === undefined || r.replica === key)) bytes += this.#sizes.get(r.seq) ?? 0;
      }
      return bytes > this.#limitBytes;
    });
  }

  /** Drops what every current replica has confirmed, once the journal is big enough to matter. */
  compact(replicaIds: readonly string[]): void {
    if (!this.compactionDue) return;
    const floor = Math.min(this.#lastSeq, ...replicaIds.map((id) => this.#marks.get(hashName(id)) ?? this.#base));
    const keep = this.#records.filter((r) => r.seq > floor);
    debug('compacting journal: %d of %d records kept', keep.length, this.#records.length);
    for (const r of this.#records) if (r.seq <= floor) this.#sizes.delete(r.seq);
    closeSync(this.#fd);
    this.#records = keep;
    this.#base = Math.max(this.#base, floor);
    this.#fd = this.#rewrite();
    // A replica down for long keeps its records: do not rewrite on every append while it catches up.
    this.#compactAt = Math.max(this.#compactBase, 2 * this.#written);
  }

  /**
   * Closes the journal. `clean`: this run's snapshot covers every change it saw, so the next start
   * may trust journal + snapshot; without it the next start reconciles every replica.
   */
  close(opts: { clean?: boolean } = {}): void {
    closeSync(this.#fd);
    for (const { fd } of this.#markFiles.values()) closeSync(fd);
    this.#markFiles.clear();
    if (opts.clean !== true) return;
    try {
      writeFileSync(`${this.#cleanFile}.tmp`, encodeCleanStop(this.#lastSeq, this.#marks), { mode: 0o600 });
      renameSync(`${this.#cleanFile}.tmp`, this.#cleanFile);
    } catch (e) {
      // Without the record the next start reconciles every replica: slower, never wrong.
      debug('clean-stop record not written: %s', (e as Error).message);
    }
  }

  #writeMark(replicaId: string, seq: number): void {
    const key = hashName(replicaId);
    this.#marks.set(key, seq);
    let file = this.#markFiles.get(key);
    // Removed under us (the state directory cleaned away?): open it again by name, which fails loudly
    // when its directory is gone too, rather than write to a file no restart will read.
    if (file !== undefined && fstatSync(file.fd).nlink === 0) {
      closeSync(file.fd);
      this.#markFiles.delete(key);
      file = undefined;
    }
    if (file === undefined) {
      // Not truncated at open: until the first write below, the file keeps the last good mark.
      const fd = openSync(join(this.#marksDir, key), constants.O_RDWR | constants.O_CREAT, 0o600);
      file = { fd, length: fstatSync(fd).size };
      this.#markFiles.set(key, file);
    }
    const buf = Buffer.from(encodeMark(seq, replicaId));
    writeAll(file.fd, buf, 0);
    if (file.length > buf.length) ftruncateSync(file.fd, buf.length);
    file.length = buf.length;
  }

  #rewrite(): number {
    const tmp = `${this.#journalFile}.tmp`;
    writeFileSync(tmp, Buffer.concat([encodeHeader(this.#base), ...this.#records.map(encodeRecord)]), { mode: 0o600 });
    renameSync(tmp, this.#journalFile);
    const fd = openSync(this.#journalFile, 'a', 0o600);
    this.#written = fstatSync(fd).size;
    return fd;
  }
}

/**
 * One write(2) of all of `buf` (at `position`, or appended), or an error: a full disk takes what fits
 * and answers with the count, and a record cut short must be reported, not taken as written.
 */
function writeAll(fd: number, buf: Buffer, position: number | undefined): void {
  const n = writeSync(fd, buf, 0, buf.length, position);
  if (n !== buf.length) throw Object.assign(new Error(`only ${n} of ${buf.length} bytes written (ENOSPC: no space left on device?)`), { code: 'ENOSPC' });
}

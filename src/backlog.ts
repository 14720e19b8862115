/**
 * The durable backlog: what no replica has confirmed yet survives a SIGKILL of the mirror.
 *
 * Layout, under `<stateDir>/<hash of the source path>/`:
 * - `journal`: append-only records `R\0<seq>\0<count>\0<path>\0…`, one per watcher delivery (''
 *   = a full pass), written with one write(2) before the change is handed to any lane. NUL
 *   separators keep any file name intact; a record cut short by a crash is ignored.
 * - `marks/<hash of replica id>`: the replica's watermark `<seq>\n<id>\n`, replaced atomically after
 *   each successful batch. A lane takes *all* its backlog in one batch, so success means every
 *   change with a seq ≤ the highest seq it had been given is on that replica.
 * - `snapshot`: @parcel/watcher's tree snapshot, for the changes made while no mirror ran.
 * On start, records above a replica's watermark go back into its backlog; the journal is rewritten
 * without the records every replica has confirmed once it grows past a threshold.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import createDebug from 'debug';

const debug = createDebug('fam-mirror:backlog');
const COMPACT_BYTES = 8 * 1024 * 1024;

export interface JournalRecord {
  seq: number;
  paths: string[];
}

export function encodeRecord(r: JournalRecord): Buffer {
  return Buffer.from(`R\0${r.seq}\0${r.paths.length}\0${r.paths.map((p) => `${p}\0`).join('')}`, 'utf8');
}

/** Parses a journal; stops at the first incomplete or malformed record (a crash's torn tail). Pure. */
export function decodeJournal(buf: Buffer): JournalRecord[] {
  const out: JournalRecord[] = [];
  let pos = 0;
  const field = (): string | undefined => {
    const nul = buf.indexOf(0, pos);
    if (nul === -1) return undefined;
    const text = buf.subarray(pos, nul).toString('utf8');
    pos = nul + 1;
    return text;
  };
  while (pos < buf.length) {
    if (field() !== 'R') break;
    const seq = Number(field());
    const count = Number(field());
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(count) || count < 0) break;
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const p = field();
      if (p === undefined) return out;
      paths.push(p);
    }
    out.push({ seq, paths });
  }
  return out;
}

export function hashName(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

export class Backlog {
  readonly dir: string;
  readonly snapshotFile: string;
  readonly #journalFile: string;
  readonly #marksDir: string;
  #fd: number;
  #records: JournalRecord[];
  #marks = new Map<string, number>();
  #written = 0;
  #compactAt = COMPACT_BYTES;

  /** Opens (or creates, mode 0700) the state for `source`; reads the journal and the watermarks. */
  constructor(stateDir: string, source: string) {
    this.dir = join(stateDir, hashName(source));
    this.#journalFile = join(this.dir, 'journal');
    this.#marksDir = join(this.dir, 'marks');
    this.snapshotFile = join(this.dir, 'snapshot');
    mkdirSync(this.#marksDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, 'source'), `${source}\n`, { mode: 0o600 });
    this.#records = existsSync(this.#journalFile) ? decodeJournal(readFileSync(this.#journalFile)) : [];
    for (const name of readdirSync(this.#marksDir)) {
      if (name.endsWith('.tmp')) continue;
      const [seq] = readFileSync(join(this.#marksDir, name), 'utf8').split('\n');
      if (seq !== undefined && /^\d+$/.test(seq)) this.#marks.set(name, Number(seq));
    }
    this.known = this.#records.length > 0 || this.#marks.size > 0;
    // Rewrite on open: drops a torn tail, so new records never follow garbage.
    this.#fd = this.#rewrite(this.#records);
  }

  /** True when an earlier run left state here (a restart, not a first start); fixed at open. */
  readonly known: boolean;

  /** The highest seq ever used, so a new run continues above it. */
  get lastSeq(): number {
    let max = 0;
    for (const r of this.#records) if (r.seq > max) max = r.seq;
    for (const m of this.#marks.values()) if (m > max) max = m;
    return max;
  }

  /** Records a replica has not confirmed; undefined for a replica this state has never seen. */
  unconfirmed(replicaId: string): JournalRecord[] | undefined {
    const mark = this.#marks.get(hashName(replicaId));
    if (mark === undefined) return undefined;
    return this.#records.filter((r) => r.seq > mark);
  }

  append(record: JournalRecord): void {
    const buf = encodeRecord(record);
    writeSync(this.#fd, buf);
    this.#records.push(record);
    this.#written += buf.length;
  }

  confirm(replicaId: string, seq: number): void {
    const name = hashName(replicaId);
    if ((this.#marks.get(name) ?? -1) >= seq) return;
    this.#marks.set(name, seq);
    const file = join(this.#marksDir, name);
    writeFileSync(`${file}.tmp`, `${seq}\n${replicaId}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  /** Drops what every current replica has confirmed, once the journal is big enough to matter. */
  compact(replicaIds: readonly string[]): void {
    if (this.#written < this.#compactAt) return;
    const floor = Math.min(...replicaIds.map((id) => this.#marks.get(hashName(id)) ?? 0));
    const keep = this.#records.filter((r) => r.seq > floor);
    debug('compacting journal: %d of %d records kept', keep.length, this.#records.length);
    closeSync(this.#fd);
    this.#records = keep;
    this.#fd = this.#rewrite(keep);
    // A replica down for long keeps its records: do not rewrite on every append while it catches up.
    this.#compactAt = Math.max(COMPACT_BYTES, 2 * this.#written);
  }

  close(): void {
    closeSync(this.#fd);
  }

  #rewrite(records: JournalRecord[]): number {
    const tmp = `${this.#journalFile}.tmp`;
    writeFileSync(tmp, Buffer.concat(records.map(encodeRecord)), { mode: 0o600 });
    renameSync(tmp, this.#journalFile);
    const fd = openSync(this.#journalFile, 'a', 0o600);
    this.#written = fstatSync(fd).size;
    return fd;
  }
}

/**
 * The bytes of the durable state (journal records, watermarks, the clean-stop record) and their
 * checks, as pure encode/decode functions; journal.ts owns the files. The layout is described there.
 */
import { createHash } from 'node:crypto';

/** 3: each record carries the time it was journaled (what a restart lists a replica as lacking since). */
export const JOURNAL_VERSION = 3;

export interface JournalRecord {
  seq: number;
  /** '' stands for a full pass of the root. */
  paths: string[];
  /** The key (`hashName(id)`) of the one replica this record is for; undefined: every replica. */
  replica?: string;
  /** Epoch ms when it was journaled; undefined when not given. */
  at?: number;
}

export interface DecodedJournal {
  /** Seq below the first record: records ≤ base were compacted away. */
  base: number;
  records: JournalRecord[];
  /** Why the journal cannot be trusted (after the valid records); undefined when it is sound. */
  damage: string | undefined;
}

/** A short checksum of `text`: it detects a damaged record, it does not authenticate one. */
export function check(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

export function encodeHeader(base: number): Buffer {
  const body = `J\0${JOURNAL_VERSION}\0${base}\0`;
  return Buffer.from(`${body}${check(body)}\0`, 'utf8');
}

export function encodeRecord(r: JournalRecord): Buffer {
  const body = Buffer.from(`R\0${r.seq}\0${r.replica ?? ''}\0${r.at ?? ''}\0${r.paths.length}\0${r.paths.map((p) => `${p}\0`).join('')}`, 'utf8');
  return Buffer.concat([body, Buffer.from(`${check(body)}\0`, 'utf8')]);
}

/**
 * Parses a journal. A record cut short at the very end (a crash mid-write) is dropped silently; a
 * record that is complete but wrong (checksum, fields, a gap in the seqs), an unknown header or
 * version is damage: the records before it are returned with the reason. Pure.
 */
export function decodeJournal(buf: Buffer): DecodedJournal {
  let pos = 0;
  const field = (): string | undefined => {
    const nul = buf.indexOf(0, pos);
    if (nul === -1) return undefined;
    const text = buf.subarray(pos, nul).toString('utf8');
    pos = nul + 1;
    return text;
  };
  const number = (text: string | undefined): number | undefined => (text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined);
  const tag = field();
  const version = field();
  const base = number(field());
  const headerEnd = pos;
  const headerCheck = field();
  if (tag !== 'J' || base === undefined || headerCheck !== check(buf.subarray(0, headerEnd))) {
    return { base: 0, records: [], damage: buf.length === 0 ? 'the journal is empty (no header)' : 'the journal header is unreadable' };
  }
  if (version !== String(JOURNAL_VERSION)) return { base, records: [], damage: `the journal has format version ${version}, this fam-mirror reads ${JOURNAL_VERSION}` };
  const records: JournalRecord[] = [];
  let expected = base + 1;
  while (pos < buf.length) {
    const start = pos;
    const fields = [field(), field(), field(), field(), field()];
    if (fields.some((f) => f === undefined)) break; // torn tail
    const [r, seqText, replica, atText, countText] = fields as string[];
    const seq = number(seqText);
    const at = number(atText);
    const count = number(countText);
    if (r !== 'R' || seq === undefined || count === undefined || (atText !== '' && at === undefined)) return { base, records, damage: `unreadable record after seq ${expected - 1}` };
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const p = field();
      if (p === undefined) return { base, records, damage: undefined }; // torn tail
      paths.push(p);
    }
    const bodyEnd = pos;
    const sum = field();
    if (sum === undefined) break; // torn tail
    if (sum !== check(buf.subarray(start, bodyEnd))) return { base, records, damage: `checksum mismatch in the record with seq ${seq}` };
    if (seq !== expected) return { base, records, damage: `seq ${seq} where ${expected} was due (records are missing)` };
    expected++;
    const record: JournalRecord = replica === '' ? { seq, paths } : { seq, paths, replica };
    if (at !== undefined) record.at = at;
    records.push(record);
  }
  return { base, records, damage: undefined };
}

export function hashName(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

export function encodeMark(seq: number, replicaId: string): string {
  const body = `${seq}\n${replicaId}\n`;
  return `${body}${check(body)}\n`;
}

/** The seq of a mark file, or undefined when it does not check out (for the replica named `key`). Pure. */
export function decodeMark(text: string, key: string): number | undefined {
  const m = /^(\d{1,15})\n([^\n]*)\n([0-9a-f]{16})\n$/.exec(text);
  if (m === null || m[3] !== check(`${m[1]}\n${m[2]}\n`) || hashName(m[2]!) !== key) return undefined;
  return Number(m[1]);
}

export function encodeCleanStop(lastSeq: number, marks: ReadonlyMap<string, number>): string {
  const body = `clean ${JOURNAL_VERSION}\n${lastSeq}\n${[...marks].map(([k, s]) => `${k} ${s}\n`).join('')}`;
  return `${body}${check(body)}\n`;
}

export function decodeCleanStop(text: string): { lastSeq: number; marks: Map<string, number> } | undefined {
  const lines = text.split('\n');
  if (lines.pop() !== '') return undefined;
  const sum = lines.pop();
  if (sum !== check(lines.map((l) => `${l}\n`).join('')) || lines[0] !== `clean ${JOURNAL_VERSION}` || !/^\d{1,15}$/.test(lines[1] ?? '')) return undefined;
  const marks = new Map<string, number>();
  for (const line of lines.slice(2)) {
    const m = /^([0-9a-f]{20}) (\d{1,15})$/.exec(line);
    if (m === null) return undefined;
    marks.set(m[1]!, Number(m[2]));
  }
  return { lastSeq: Number(lines[1]), marks };
}

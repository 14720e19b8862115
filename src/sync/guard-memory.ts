/**
 * What the replica guard (core/replica-guard.ts) learned about one replica, kept in the state
 * directory so that a restart of the master does not forget it: that this master had seeded the
 * replica (so a root or owner record gone missing while the master was stopped means re-imaged or
 * emptied: re-seed, README.md "Failover: fence and owner") and that its root was a mount point (so an
 * unmount while the master was stopped is refused, not written into). One small file per replica,
 * `<state>/guard/<replica key>`: `seeded <0|1> mount <0|1>\n<replica id>\n<check>\n`, replaced
 * atomically, written only when a fact changes. A file that does not check out is ignored: the guard
 * then learns afresh, as on a first start.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import createDebug from 'debug';
import { check, hashName } from './journal-format.js';

const debug = createDebug('fam-mirror:journal');

export interface GuardMemo {
  /** This master's own owner record was on the replica at a batch that succeeded. */
  seeded: boolean;
  /** The replica root was a mount point. */
  mount: boolean;
}

export interface GuardMemory {
  recall(): GuardMemo | undefined;
  remember(memo: GuardMemo): void;
  /** Where it is kept (named in the error that tells an operator how to forget it). */
  readonly file: string;
}

export function encodeGuardMemo(memo: GuardMemo, replicaId: string): string {
  const body = `seeded ${memo.seeded ? 1 : 0} mount ${memo.mount ? 1 : 0}\n${replicaId}\n`;
  return `${body}${check(body)}\n`;
}

/** The memo of a guard file, or undefined when it does not check out for `replicaId`. Pure. */
export function decodeGuardMemo(text: string, replicaId: string): GuardMemo | undefined {
  const m = /^seeded ([01]) mount ([01])\n([^\n]*)\n([0-9a-f]{16})\n$/.exec(text);
  if (m === null || m[4] !== check(`seeded ${m[1]} mount ${m[2]}\n${m[3]}\n`) || m[3] !== replicaId) return undefined;
  return { seeded: m[1] === '1', mount: m[2] === '1' };
}

/** The guard memory of one replica under the journal's directory. Never throws: a write that fails is logged (the guard then relearns at the next start). */
export function guardMemoryFile(stateDir: string, replicaId: string): GuardMemory {
  const dir = join(stateDir, 'guard');
  const file = join(dir, hashName(replicaId));
  return {
    file,
    recall() {
      try {
        return decodeGuardMemo(readFileSync(file, 'utf8'), replicaId);
      } catch {
        return undefined;
      }
    },
    remember(memo) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(`${file}.tmp`, encodeGuardMemo(memo, replicaId), { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
      } catch (e) {
        debug('guard memory of %s not written: %s', replicaId, (e as Error).message);
      }
    },
  };
}

/**
 * The per-batch guard of a replica root: before rsync touches a replica, one check that it is still
 * the replica this master may write (README.md, "Failover: fence and owner"). Pure. The same rules
 * two ways: `guardDecision` over facts (LocalTransport gathers them with fs calls, the test fake
 * from its script) and `guardCommand`, a shell prefix of the remote command the ssh bridge already
 * runs, so the check costs no extra round trip. In this order:
 *
 * 1. the root was a mount point and no longer is (or is gone): `unmounted`, nothing is written into
 *    the bare mount point;
 * 2. the fence marker exists: `fenced`;
 * 3. the owner record names another master: `owned` (unless taking over, which rewrites it);
 * 4. the root or the owner record is missing on a replica this master had seeded (re-imaged,
 *    emptied): `reseed`; but not while the root's parent is missing too: a full pass could not
 *    land, rsync's own error keeps the lane retrying, and the check is made again then;
 * 5. otherwise go on, writing the owner record first where it is missing (creating the root when
 *    its parent exists, as rsync's --mkpath would not: one level only).
 *
 * The exit codes are ones rsync never uses (its errcode.h: 0-6, 10-14, 20-25, 30, 35; 124-127 and
 * 255 come from its remote shell).
 */
import { shellQuote } from './shell-quote.js';

/** At the replica root: marks a replica no master may write (`fam-mirror fence`). */
export const FENCE_FILE = '.fam-mirror-fence';
/** At the replica root: which master (host and source) feeds this replica. */
export const OWNER_FILE = '.fam-mirror-owner';
/** Never sent, never deleted, never listed as a difference: rsync excludes them in every call. */
export const MARKER_FILES = [FENCE_FILE, OWNER_FILE] as const;

export const GUARD_EXIT = { unmounted: 81, fenced: 82, owned: 83, reseed: 84 } as const;
export type GuardRefusal = keyof typeof GUARD_EXIT;

/** The longest owner record shown in an error (a record is one short line; anything else is noise). */
export const OWNER_SHOWN = 512;
/** What the shell guard prints on stderr before the owner it found. */
export const OWNER_PREFIX = 'fam-mirror owner: ';

export interface GuardSpec {
  /** The replica root as its host spells it. */
  root: string;
  /** This master: `host:source`, the whole content of the owner record it writes. */
  owner: string;
  /** The root was a mount point when this master first looked: a root on its parent's device is refused. */
  expectMount: boolean;
  /** This master has seen its own record on this replica before, and this is not a full pass. */
  seeded: boolean;
  /** Rewrite another master's record rather than refuse (takeOver). */
  takeOver: boolean;
  /** Write the owner record where it is missing (false for a dry run). */
  write: boolean;
}

export interface GuardFacts {
  rootExists: boolean;
  /** The directory that holds the root (lexically) exists. */
  parentExists: boolean;
  /** The root's device equals that of root/.. (not a mount point). */
  sameDeviceAsParent: boolean;
  fenced: boolean;
  /** The owner record's content without its trailing newlines; undefined when there is none. */
  ownerRecord: string | undefined;
}

export type GuardAnswer = { kind: 'refuse'; refusal: GuardRefusal; owner?: string } | { kind: 'go'; mkdir: boolean; writeOwner: boolean };

export function guardDecision(spec: GuardSpec, facts: GuardFacts): GuardAnswer {
  if (spec.expectMount && (!facts.rootExists || facts.sameDeviceAsParent)) return { kind: 'refuse', refusal: 'unmounted' };
  if (facts.rootExists && facts.fenced) return { kind: 'refuse', refusal: 'fenced' };
  const record = facts.rootExists ? facts.ownerRecord : undefined;
  if (record !== undefined && record !== spec.owner) {
    if (!spec.takeOver) return { kind: 'refuse', refusal: 'owned', owner: record.slice(0, OWNER_SHOWN) };
    return { kind: 'go', mkdir: false, writeOwner: spec.write };
  }
  if (!facts.rootExists && !facts.parentExists) return { kind: 'go', mkdir: false, writeOwner: false };
  if (record === undefined && spec.seeded) return { kind: 'refuse', refusal: 'reseed' };
  return { kind: 'go', mkdir: !facts.rootExists && spec.write, writeOwner: record === undefined && spec.write };
}

/** Which refusal a guard exit code stands for, or undefined for any other code. */
export function guardRefusal(exitCode: number): GuardRefusal | undefined {
  for (const [refusal, code] of Object.entries(GUARD_EXIT)) if (code === exitCode) return refusal as GuardRefusal;
  return undefined;
}

/** The owner named on the guard's stderr (the shell guard prints it before exiting `owned`). */
export function ownerFromStderr(stderr: string): string | undefined {
  const line = stderr.split('\n').find((l) => l.startsWith(OWNER_PREFIX));
  return line?.slice(OWNER_PREFIX.length);
}

/**
 * The same rules as guardDecision, as POSIX sh run before the remote command: it ends in `; ` so the
 * command follows it. GNU stat's spelling first, BSD's where that fails. Failing to write the
 * record is not an error: rsync's own answer about the root says more. The record is compared with
 * the shell's own `read` (`$(cat …)` cost a fork and a process on every batch), with the same
 * meaning: the whole content, trailing newlines aside, must be this master's line.
 */
export function guardCommand(spec: GuardSpec): string {
  const r = shellQuote(spec.root.replace(/(.)\/+$/, '$1'));
  const me = shellQuote(spec.owner);
  const parts = [`r=${r}`, `o="$r"/${OWNER_FILE}`];
  if (spec.expectMount) {
    parts.push(`d() { stat -L -c %d -- "$1" 2>/dev/null || stat -L -f %d -- "$1"; }`);
    parts.push(`if [ ! -d "$r" ] || [ "$(d "$r")" = "$(d "$r/..")" ]; then exit ${GUARD_EXIT.unmounted}; fi`);
  }
  parts.push(`if [ -d "$r" ] && [ -e "$r"/${FENCE_FILE} ]; then exit ${GUARD_EXIT.fenced}; fi`);
  const write = spec.write ? `{ printf '%s\\n' ${me} > "$o"; } 2>/dev/null` : ':';
  const other = spec.takeOver ? write : `{ printf '${OWNER_PREFIX}%s\\n' "$(head -c ${OWNER_SHOWN} "$o")" >&2; exit ${GUARD_EXIT.owned}; }`;
  const missing = spec.seeded ? `exit ${GUARD_EXIT.reseed}` : spec.write ? `{ [ -d "$r" ] || mkdir -- "$r" 2>/dev/null; ${write}; }` : ':';
  parts.push(`case "$r" in */*) p="\${r%/*}";; *) p=.;; esac`);
  parts.push('sm() { IFS= read -r l || [ -n "$l" ] || return 1; [ "$l" = "$1" ] || return 1; while IFS= read -r l || [ -n "$l" ]; do [ -z "$l" ] || return 1; done; }');
  parts.push(`if [ -d "$r" ] && [ -f "$o" ]; then if ! sm ${me} < "$o"; then ${other}; fi; elif [ -d "$r" ] || [ -d "\${p:-/}" ]; then ${missing}; fi`);
  return `${parts.join('; ')}; `;
}

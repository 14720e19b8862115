/**
 * Host key verification against OpenSSH known_hosts files, with OpenSSH's matching rules
 * (`man sshd`, SSH_KNOWN_HOSTS FILE FORMAT; hostfile.c and match.c in the OpenSSH sources).
 *
 * ssh2 accepts any host key unless given a `hostVerifier` and reads no known_hosts of its own
 * (docs/internals.md, "ssh2"), so this module is what keeps invariant 6 ("host keys are verified").
 * Everything here is pure except `loadKnownHosts`; a verdict is data, never a throw, so the caller
 * decides which error to raise and what to tell the user.
 *
 * Deliberate differences from OpenSSH, all on the strict side:
 * - an `@revoked` key is refused whatever the line's host patterns say;
 * - a host known only under other key types counts as 'changed' (OpenSSH would prompt as for a
 *   new host), because an unattended mirror cannot ask anyone;
 * - `@cert-authority` lines are ignored: host certificates are not supported.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  hosts: string;
  keyType: string;
  /** Raw SSH wire-format key blob, decoded from the line's base64 field. */
  key: Buffer;
  source?: string;
  line?: number;
}

export type HostKeyVerdict =
  | { ok: true }
  | {
      ok: false;
      reason: 'unknown' | 'changed' | 'revoked';
      fingerprint: string;
      knownFingerprints: string[];
    };

const DEFAULT_SSH_PORT = 22;
const HASH_MAGIC = '|1|';
const BASE64_FIELD = /^[A-Za-z0-9+/]+={0,2}$/;
const MARKERS: Record<string, KnownHostEntry['marker']> = {
  '@revoked': 'revoked',
  '@cert-authority': 'cert-authority',
};

/** Parses known_hosts text; a line OpenSSH would reject is skipped, so this never throws. */
export function parseKnownHosts(text: string, source?: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const entry = parseLine(raw, index + 1, source);
    if (entry) entries.push(entry);
  });
  return entries;
}

function parseLine(raw: string, line: number, source: string | undefined): KnownHostEntry | undefined {
  const fields = raw.trim().split(/[ \t]+/);
  if (fields[0] === '' || fields[0]?.startsWith('#')) return undefined;
  let marker: KnownHostEntry['marker'];
  if (fields[0]?.startsWith('@')) {
    marker = MARKERS[fields[0]];
    // An unknown marker could be a restriction we do not understand: dropping the line is safer.
    if (!marker) return undefined;
    fields.shift();
  }
  const [hosts, keyType, keyField] = fields;
  if (!hosts || !keyType || !keyField || !BASE64_FIELD.test(keyField)) return undefined;
  const key = Buffer.from(keyField, 'base64');
  // Like sshkey_read, refuse a blob whose embedded type disagrees with the type field; this also
  // drops legacy SSH1 "bits exponent modulus" lines.
  if (keyTypeOf(key) !== keyType) return undefined;
  if (hosts.startsWith(HASH_MAGIC) && !parseHashedHost(hosts)) return undefined;
  const entry: KnownHostEntry = { hosts, keyType, key, line };
  if (marker) entry.marker = marker;
  if (source !== undefined) entry.source = source;
  return entry;
}

/** The name OpenSSH looks up and hashes: the bare host on port 22, else `[host]:port`. */
export function hostToken(host: string, port: number): string {
  return port === DEFAULT_SSH_PORT ? host : `[${host}]:${port}`;
}

/** The fingerprint exactly as `ssh-keygen -l` prints it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The key type named at the start of an SSH wire-format key blob (RFC 4253 §6.6), or '' when the
 * blob is too short to hold one: a server's key is untrusted input, so no throw here.
 */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return '';
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || length > keyBlob.length - 4) return '';
  return keyBlob.toString('latin1', 4, 4 + length);
}

/** Verifies a presented host key against parsed entries; see the module comment for the rules. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  // ssh lowercases the host name before any lookup, and ssh-keygen -H hashes lowercased names.
  const token = hostToken(host.toLowerCase(), port);
  const keyType = keyTypeOf(keyBlob);
  const known = entries.filter((entry) => entry.marker === undefined && matchesHostField(entry.hosts, token));
  const fail = (reason: 'unknown' | 'changed' | 'revoked'): HostKeyVerdict => ({
    ok: false,
    reason,
    fingerprint: fingerprintSha256(keyBlob),
    knownFingerprints: listFingerprints(known),
  });
  // Checked first because a revoked key may also sit on a matching line, as in OpenSSH.
  if (entries.some((entry) => entry.marker === 'revoked' && isSameKey(entry, keyType, keyBlob))) {
    return fail('revoked');
  }
  if (known.some((entry) => isSameKey(entry, keyType, keyBlob))) return { ok: true };
  return fail(known.length > 0 ? 'changed' : 'unknown');
}

function isSameKey(entry: KnownHostEntry, keyType: string, keyBlob: Buffer): boolean {
  return entry.keyType === keyType && entry.key.equals(keyBlob);
}

function listFingerprints(entries: KnownHostEntry[]): string[] {
  return [...new Set(entries.map((entry) => fingerprintSha256(entry.key)))];
}

/** A hashed field stands alone (ssh-keygen -H writes one line per name); otherwise a pattern list. */
function matchesHostField(hosts: string, token: string): boolean {
  if (hosts.startsWith(HASH_MAGIC)) return matchesHashedHost(hosts, token);
  return matchPatternList(token, hosts.toLowerCase()) === 'match';
}

function parseHashedHost(hosts: string): { salt: Buffer; hash: Buffer } | undefined {
  const [saltField, hashField, ...rest] = hosts.slice(HASH_MAGIC.length).split('|');
  if (!saltField || !hashField || rest.length > 0) return undefined;
  if (!BASE64_FIELD.test(saltField) || !BASE64_FIELD.test(hashField)) return undefined;
  const salt = Buffer.from(saltField, 'base64');
  const hash = Buffer.from(hashField, 'base64');
  // HMAC-SHA1 output and OpenSSH's salt are both 20 bytes (hostfile.c, extract_salt).
  if (salt.length !== 20 || hash.length !== 20) return undefined;
  return { salt, hash };
}

function matchesHashedHost(hosts: string, token: string): boolean {
  const parsed = parseHashedHost(hosts);
  if (!parsed) return false;
  return createHmac('sha1', parsed.salt).update(token).digest().equals(parsed.hash);
}

/**
 * match.c's match_pattern_list: any matching negated pattern vetoes the whole list, otherwise one
 * positive match is enough. Both sides arrive lowercased.
 */
function matchPatternList(name: string, patterns: string): 'match' | 'negated' | 'none' {
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (!matchWildcard(name, pattern)) continue;
    if (negated) return 'negated';
    matched = true;
  }
  return matched ? 'match' : 'none';
}

/** `*` and `?` globbing; every other character, brackets included, is literal as in OpenSSH. */
function matchWildcard(name: string, pattern: string): boolean {
  let n = 0;
  let p = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      n++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starN = n;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Reads and parses known_hosts files in order; a missing file is an empty one, as for ssh. */
export async function loadKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const texts = await Promise.all(files.map(readIfPresent));
  return texts.flatMap((text, index) => parseKnownHosts(text, files[index]));
}

async function readIfPresent(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/**
 * OpenSSH client configuration applied to one host, as ssh_config(5) reads it: entries are taken in
 * file order (~/.ssh/config before /etc/ssh/ssh_config) and the first value of a keyword wins, except
 * IdentityFile, whose values add up. `Host` patterns (`*`, `?`, `!` negation) are matched against the
 * name the replica spec gives (the alias), case-insensitively. What the replica spec and the options
 * the user gave say beats the files. Pure: the files are read and parsed at the edge
 * (transport/ssh-config-file.ts); this module only decides.
 *
 * Keywords that fam-mirror does not honour are returned as notes (logged once), never half-applied;
 * a `Match` block other than `Match all` is skipped and named the same way.
 */
import { MirrorError } from '../errors.js';

export type HostKeyPolicy = 'yes' | 'accept-new' | 'no';

export type SshConfigCondition = { kind: 'all' } | { kind: 'host'; patterns: readonly string[] } | { kind: 'match'; criteria: string };

export interface SshConfigEntry {
  /** The keyword, lower-cased: ssh_config keywords are case-insensitive. */
  key: string;
  value: string;
  file: string;
  line: number;
  when: SshConfigCondition;
}

/** A host as the replica spec (or a ProxyJump hop) names it; absent user/port: not given. */
export interface SshHostRequest {
  alias: string;
  user?: string | undefined;
  port?: number | undefined;
}

/** Options the user gave explicitly (flags, config JSON, library options): they beat the files. */
export interface SshGiven {
  identityFiles?: readonly string[];
  knownHostsFiles?: readonly string[];
  strictHostKeyChecking?: HostKeyPolicy;
  connectTimeoutMs?: number;
}

export interface SshDefaults {
  homeDir: string;
  localUser: string;
  identityFiles: readonly string[];
  /** The user's known_hosts first, then the global ones (UserKnownHostsFile / GlobalKnownHostsFile replace each part). */
  knownHostsFiles: readonly string[];
  strictHostKeyChecking: HostKeyPolicy;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

/** Everything needed to log in to one host. */
export interface SshEndpoint {
  alias: string;
  hostName: string;
  port: number;
  user: string;
  identityFiles: readonly string[];
  /** IdentitiesOnly yes: the agent is not asked (ssh2 cannot filter its keys by file). */
  identitiesOnly: boolean;
  knownHostsFiles: readonly string[];
  strictHostKeyChecking: HostKeyPolicy;
  hostKeyAlias: string | undefined;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

/** The target and the hops to reach it through, first hop first. */
export interface SshRoute {
  target: SshEndpoint;
  jumps: readonly SshEndpoint[];
  /** Keywords and Match blocks that applied but are not honoured, with file:line. */
  notes: readonly string[];
}

const MAX_HOPS = 8;
const HONOURED = new Set([
  'hostname',
  'user',
  'port',
  'identityfile',
  'identitiesonly',
  'userknownhostsfile',
  'globalknownhostsfile',
  'stricthostkeychecking',
  'hostkeyalias',
  'connecttimeout',
  'serveraliveinterval',
  'serveralivecountmax',
  'proxyjump',
]);

/** The route to `req`: its own settings and those of each ProxyJump hop (each with its own config). */
export function resolveSshRoute(req: SshHostRequest, entries: readonly SshConfigEntry[], given: SshGiven, defaults: SshDefaults): SshRoute {
  const notes = new Set<string>();
  const jumps: SshEndpoint[] = [];
  const seen = new Set<string>();
  const walk = (r: SshHostRequest, followJumps: boolean): SshEndpoint => {
    if (seen.has(r.alias.toLowerCase()) || seen.size > MAX_HOPS) {
      throw new MirrorError('ERR_SSH_CONFIG', `ProxyJump loop or chain longer than ${MAX_HOPS} hops at ${r.alias}: check the ProxyJump lines of your ssh config.`, { host: r.alias });
    }
    seen.add(r.alias.toLowerCase());
    const picked = pick(r.alias, entries, notes);
    const endpoint = endpointOf(r, picked, given, defaults);
    const jump = picked.get('proxyjump')?.[0];
    if (followJumps && jump !== undefined && jump.value.toLowerCase() !== 'none') {
      const hops = parseJumps(jump);
      for (const [i, hop] of hops.entries()) jumps.push(walk(hop, i === 0));
    }
    return endpoint;
  };
  const target = walk(req, true);
  return { target, jumps, notes: [...notes] };
}

/** Does a `Host` line's pattern list match `name`? A matching `!pattern` excludes it whatever else matches. */
export function hostMatches(patterns: readonly string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (globMatches(negated ? p.slice(1) : p, name)) {
      if (negated) return false;
      hit = true;
    }
  }
  return hit;
}

function globMatches(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** The entries that apply to `alias`, per keyword, in file order. */
function pick(alias: string, entries: readonly SshConfigEntry[], notes: Set<string>): Map<string, SshConfigEntry[]> {
  const out = new Map<string, SshConfigEntry[]>();
  for (const e of entries) {
    if (e.when.kind === 'host' && !hostMatches(e.when.patterns, alias)) continue;
    if (e.when.kind === 'match' && e.when.criteria.trim().toLowerCase() !== 'all') {
      notes.add(`Match ${e.when.criteria} (${e.file}) is not supported: its block is skipped`);
      continue;
    }
    if (!HONOURED.has(e.key)) {
      notes.add(`${e.key} (${e.file}:${e.line}) is not supported by fam-mirror and is ignored`);
      continue;
    }
    const list = out.get(e.key) ?? [];
    list.push(e);
    out.set(e.key, list);
  }
  return out;
}

function endpointOf(req: SshHostRequest, picked: Map<string, SshConfigEntry[]>, given: SshGiven, d: SshDefaults): SshEndpoint {
  const first = (key: string) => picked.get(key)?.[0];
  const portEntry = first('port');
  const port = req.port ?? (portEntry === undefined ? 22 : integer(portEntry, 1, 65535));
  const userEntry = first('user');
  const user = req.user ?? (userEntry === undefined ? d.localUser : name(userEntry, expand(userEntry, { h: req.alias, n: req.alias, d: d.homeDir, u: d.localUser, p: String(port) })));
  const hostEntry = first('hostname');
  const tokens = { h: req.alias, n: req.alias, d: d.homeDir, u: d.localUser, r: user, p: String(port) };
  const hostName = hostEntry === undefined ? req.alias : name(hostEntry, expand(hostEntry, tokens));
  const hostTokens = { ...tokens, h: hostName };
  const path = (e: SshConfigEntry, text: string) => expand({ ...e, value: text.replace(/^~(?=\/|$)/, d.homeDir) }, hostTokens);
  const fromFile = (picked.get('identityfile') ?? []).filter((e) => e.value.toLowerCase() !== 'none').map((e) => path(e, e.value));
  const identityFiles = [...(given.identityFiles ?? []), ...fromFile];
  const files = (key: string) => {
    const e = first(key);
    return e === undefined
      ? undefined
      : e.value
          .split(/\s+/)
          .filter((f) => f !== '' && f.toLowerCase() !== 'none')
          .map((f) => path(e, f));
  };
  const known = given.knownHostsFiles ?? [...(files('userknownhostsfile') ?? d.knownHostsFiles.slice(0, 1)), ...(files('globalknownhostsfile') ?? d.knownHostsFiles.slice(1))];
  const strict = first('stricthostkeychecking');
  const timeout = first('connecttimeout');
  const alive = first('serveraliveinterval');
  const aliveSec = alive === undefined ? 0 : integer(alive, 0, 86_400);
  const countMax = first('serveralivecountmax');
  const keyAlias = first('hostkeyalias');
  return {
    alias: req.alias,
    hostName,
    port,
    user,
    identityFiles: identityFiles.length > 0 ? identityFiles : d.identityFiles,
    identitiesOnly: first('identitiesonly') === undefined ? false : yesNo(first('identitiesonly')!),
    knownHostsFiles: known,
    strictHostKeyChecking: given.strictHostKeyChecking ?? (strict === undefined ? d.strictHostKeyChecking : policy(strict)),
    hostKeyAlias: keyAlias === undefined ? undefined : name(keyAlias, expand(keyAlias, hostTokens)),
    connectTimeoutMs: given.connectTimeoutMs ?? (timeout === undefined ? d.connectTimeoutMs : integer(timeout, 1, 600) * 1000),
    // ServerAliveInterval 0 turns OpenSSH's keepalive off; ours stays on (a hung peer must be noticed).
    keepaliveIntervalMs: aliveSec > 0 ? aliveSec * 1000 : d.keepaliveIntervalMs,
    keepaliveCountMax: countMax === undefined ? d.keepaliveCountMax : integer(countMax, 1, 1000),
  };
}

/** `[user@]host[:port]` hops, comma-separated, optionally as `ssh://` URLs (ssh_config(5), ProxyJump). */
export function parseJumps(e: SshConfigEntry): SshHostRequest[] {
  return e.value.split(',').map((raw) => {
    const m = /^(?:ssh:\/\/)?(?:([^@\s/]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?\/?$/.exec(raw.trim());
    if (m === null || m[2]!.startsWith('-')) bad(e, `"${raw.trim()}" is not a hop (write [user@]host[:port], hops separated by commas)`);
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) bad(e, `port ${m[3]} is out of range`);
    return { alias: m[2]!.replace(/^\[|\]$/g, ''), user: m[1], port };
  });
}

const TOKEN_NAMES = 'h (host), n (alias), p (port), r (remote user), u (local user), d (home), %';

/** OpenSSH's `%` tokens; an unknown one is an error rather than a path with a `%x` in it. */
function expand(e: SshConfigEntry, tokens: Record<string, string>): string {
  return e.value.replace(/%(.?)/g, (_, t: string) => {
    if (t === '%') return '%';
    const v = tokens[t];
    if (v === undefined) bad(e, `the token %${t} is not supported (supported: ${TOKEN_NAMES})`);
    return v;
  });
}

function name(e: SshConfigEntry, v: string): string {
  if (v === '' || v.startsWith('-') || /\s/.test(v)) bad(e, `"${v}" is not a usable name`);
  return v;
}

function integer(e: SshConfigEntry, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(e.value) ? Number(e.value) : NaN;
  if (!(n >= min && n <= max)) bad(e, `"${e.value}" is not a whole number from ${min} to ${max}`);
  return n;
}

function yesNo(e: SshConfigEntry): boolean {
  const v = e.value.toLowerCase();
  if (v !== 'yes' && v !== 'no') bad(e, `"${e.value}" is not yes or no`);
  return v === 'yes';
}

/** `ask` needs a terminal a mirror does not have: it refuses unknown keys, as `yes` does. */
function policy(e: SshConfigEntry): HostKeyPolicy {
  const v = e.value.toLowerCase();
  if (v === 'yes' || v === 'ask') return 'yes';
  if (v === 'no' || v === 'off') return 'no';
  if (v === 'accept-new') return 'accept-new';
  return bad(e, `"${e.value}" is not yes, accept-new, no or ask`);
}

function bad(e: SshConfigEntry, why: string): never {
  throw new MirrorError('ERR_SSH_CONFIG', `${e.file}:${e.line}: ${e.key}: ${why}. Fix that line, or pass --ssh-config none to ignore the ssh config files.`, { path: e.file });
}

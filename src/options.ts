/**
 * Every option of the library is defaulted and validated here, once, and the result is frozen:
 * the rest of the code never re-checks or re-defaults. Which options there are, their defaults and
 * ranges come from the option table (core/option-table.ts); only the checks that span options
 * (replica loops and duplicates, retryMinMs ≤ retryMaxMs) are written out here. Pure: no fs, no
 * environment reads (the caller passes the home directory and user name; the CLI reads INIT_MIRROR /
 * SSH_AUTH_SOCK).
 */
import { homedir, userInfo } from 'node:os';
import { posix as path } from 'node:path';
import { MirrorError } from './errors.js';
import { parseReplicaSpec, sshReplicaId } from './replica-spec.js';
import { bad, optBoolean, optChoice, optExcludes, optInteger, optString, optStrings } from './option-values.js';
import { LIBRARY_OPTIONS, type OptionValue } from './core/option-table.js';
import { suggest } from './core/suggest.js';
import type { Replica } from './types.js';
import { realPathOfExisting } from './watch/real-path.js';

export interface MirrorOptions {
  /** The master directory tree (absolute, or relative to the current directory). */
  source: string;
  /** Replica specs: `host`, `host:/path`, `user@host:/path`, `ssh://user@host:port/path`, `/local/path`. */
  replicas: string[];
  /** Seed every replica with a full `rsync --delete` pass at start (fam_mirror's INIT_MIRROR=1). */
  initMirror?: boolean;
  /** rsync exclude patterns (rsync filter syntax), applied to events and to every rsync run. */
  exclude?: string[];
  /** Private key files to try, in order. Default: OpenSSH's (~/.ssh/id_ecdsa, id_ed25519, id_rsa). */
  identityFiles?: string[];
  /** Passphrase for encrypted identity files. Never logged. */
  passphrase?: string;
  /** ssh-agent socket path (the CLI passes $SSH_AUTH_SOCK). Tried before identity files. */
  agent?: string;
  /** known_hosts files. Default: ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. */
  knownHostsFiles?: string[];
  /**
   * Like OpenSSH's StrictHostKeyChecking. 'yes' (default): only keys in known_hosts; 'accept-new':
   * trust a host's first key and append it to the first knownHostsFiles entry; 'no': accept any key
   * (insecure; every connection warns).
   */
  strictHostKeyChecking?: 'yes' | 'accept-new' | 'no';
  /** OpenSSH client config files, first value wins; the spec and options given beat them. `[]`: none. Default: ~/.ssh/config, /etc/ssh/ssh_config. */
  sshConfigFiles?: string[];
  /**
   * Directory for the durable state (journal, per-replica watermarks, tree snapshot), created 0700.
   * Default: none, each replica's backlog lives in memory only (the CLI defaults to $XDG_STATE_HOME/fam-mirror).
   */
  stateDir?: string;
  /**
   * How much journal (bytes) a replica may be behind, while it is down, before its journal records
   * are replaced by one full pass (itemized: only what differs is sent) and the journal is compacted.
   * Default 64 MiB.
   */
  journalLimitBytes?: number;
  /**
   * Plan and show, send nothing: every rsync runs with --dry-run and each batch is reported as a
   * 'planned' event (argv, paths, what rsync would change). No durable state is written.
   */
  dryRun?: boolean;
  /**
   * inotify watches this mirror may assume are available in all (default: read from
   * fs.inotify.max_user_watches, minus those this user already holds). For tests and odd kernels.
   */
  watchLimit?: number;
  /** Let an empty source root empty the replicas (default false: held back as ERR_SOURCE_EMPTY). */
  allowEmptySource?: boolean;
  /** Small changes to ssh replicas over SFTP and one long-lived shell instead of rsync (default true; README.md, "How it works"). */
  fastPath?: boolean;
  /** Feed replicas whose owner record names another master, rewriting it (default false: ERR_REPLICA_OWNED). */
  takeOver?: boolean;
  /** Full reconcile pass of every replica every this many seconds (0 = never, the default). */
  reconcileIntervalSec?: number;
  /** Global cap on rsync processes in flight, all replicas together. Default 8. */
  concurrency?: number;
  /** Wait this long after the last change before a batch starts (ms). Default 10. */
  quietMs?: number;
  /** Never hold a change longer than this waiting for quiet (ms). Default 1000. */
  maxWaitMs?: number;
  /** rsync `--timeout` (s) and the ssh keepalive budget. Default 30. */
  timeoutSec?: number;
  /** ssh connect + auth deadline (ms). Default 15000. */
  connectTimeoutMs?: number;
  /** Retry backoff bounds (ms). Defaults 500 and 30000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Local rsync binary. Default 'rsync'. */
  rsyncPath?: string;
  /** Command that starts rsync on the replicas. Default 'rsync'. */
  remoteRsyncPath?: string;
  /** Used for defaults (identity and known_hosts files, ssh user). Default: os.homedir()/userInfo(). */
  homeDir?: string;
  userName?: string;
}

export interface NormalizedOptions {
  readonly source: string;
  readonly replicas: readonly Replica[];
  readonly initMirror: boolean;
  readonly exclude: readonly string[];
  readonly identityFiles: readonly string[];
  readonly passphrase: string | undefined;
  readonly agent: string | undefined;
  readonly knownHostsFiles: readonly string[];
  readonly strictHostKeyChecking: 'yes' | 'accept-new' | 'no';
  readonly sshConfigFiles: readonly string[];
  readonly stateDir: string | undefined;
  readonly journalLimitBytes: number;
  readonly dryRun: boolean;
  readonly watchLimit: number | undefined;
  readonly allowEmptySource: boolean;
  readonly fastPath: boolean;
  readonly takeOver: boolean;
  readonly reconcileIntervalSec: number;
  readonly concurrency: number;
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly timeoutSec: number;
  readonly connectTimeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly rsyncPath: string;
  readonly remoteRsyncPath: string;
  readonly userName: string;
  /** For the ssh config files: the home directory (`~`, `%d`), the ssh options given (they beat the files). */
  readonly ssh: { readonly homeDir: string; readonly given: readonly SshGivenKey[] };
}

/** The options that, when given, beat an ssh config file's value (core/ssh-config.ts). */
export type SshGivenKey = 'identityFiles' | 'knownHostsFiles' | 'strictHostKeyChecking' | 'connectTimeoutMs';
const SSH_GIVEN_KEYS: readonly SshGivenKey[] = ['identityFiles', 'knownHostsFiles', 'strictHostKeyChecking', 'connectTimeoutMs'];

export interface Environment {
  cwd: string;
  homeDir: string;
  userName: string;
  /**
   * An absolute normalized path with the symlinks of its existing part resolved (watch/real-path.ts does
   * it on the real file system). Absent: paths are compared as written.
   */
  resolvePath?: (path: string) => string;
}

/** This process's environment facts (no environment variable: those are the CLI's to read). */
export function hostEnvironment(): Environment {
  return { cwd: process.cwd(), homeDir: homedir(), userName: userInfo().username, resolvePath: realPathOfExisting };
}

const KNOWN_KEYS = new Set<string>(Object.keys(LIBRARY_OPTIONS));

export function normalizeOptions(raw: MirrorOptions, env: Environment): NormalizedOptions {
  if (raw === null || typeof raw !== 'object') bad('options', 'must be an object');
  for (const key of Object.keys(raw)) {
    if (KNOWN_KEYS.has(key)) continue;
    const near = suggest(key, [...KNOWN_KEYS]);
    bad(key, `is not a known option (${near === undefined ? 'check its spelling' : `did you mean "${near}"?`})`);
  }
  const home = optString(raw, 'homeDir') ?? env.homeDir;
  const userName = optString(raw, 'userName') ?? env.userName;
  const source = normalizeSource(raw.source, env.cwd);
  const replicas = normalizeReplicas(raw.replicas, source, userName, env);
  // Checked above, before the rest: the replicas need the source and the user name, the defaults the home.
  const done: Record<string, unknown> = { source, replicas: Object.freeze(replicas), userName };
  const out: Record<string, unknown> = {};
  for (const [key, { value }] of Object.entries(LIBRARY_OPTIONS) as Array<[string, { value: OptionValue }]>) {
    if (value.type === 'source' || value.type === 'replicas' || value.type === 'environment') {
      if (key in done) out[key] = done[key];
    } else out[key] = normalizeValue(raw, key, value, home, env.cwd);
  }
  out.ssh = Object.freeze({ homeDir: home, given: Object.freeze(SSH_GIVEN_KEYS.filter((k) => raw[k] !== undefined)) });
  if ((out.retryMinMs as number) > (out.retryMaxMs as number)) bad('retryMinMs', `(${String(out.retryMinMs)}) must not exceed retryMaxMs (${String(out.retryMaxMs)})`);
  return Object.freeze(out) as unknown as NormalizedOptions;
}

/** One option's value checked against its row of the table (core/option-table.ts), or its default. */
function normalizeValue(raw: object, key: string, value: Exclude<OptionValue, { type: 'source' | 'replicas' | 'environment' }>, home: string, cwd: string): unknown {
  switch (value.type) {
    case 'boolean':
      return optBoolean(raw, key) ?? value.default;
    case 'integer':
      return optInteger(raw, key, value.min, value.max) ?? value.default;
    case 'string':
      return optString(raw, key) ?? value.default;
    case 'path':
      return ((d) => (d === undefined ? undefined : path.resolve(cwd, d)))(optString(raw, key));
    case 'paths':
      return Object.freeze((optStrings(raw, key) ?? value.default.map((f) => (f.startsWith('~/') ? path.join(home, f.slice(2)) : f))).map((f) => path.resolve(cwd, f)));
    case 'choice':
      return optChoice(raw, key, value.choices) ?? value.default;
    case 'excludes':
      return Object.freeze(optExcludes(raw));
  }
}

/** The options whose normalized values differ between `a` and `b` (a reload names them). Pure. */
export function changedOptions(a: NormalizedOptions, b: NormalizedOptions): Array<keyof NormalizedOptions> {
  // `ssh` is derived from the options themselves: a change there shows as theirs.
  const keys = (Object.keys(a) as Array<keyof NormalizedOptions>).filter((key) => key !== 'ssh');
  return keys.filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
}

function normalizeSource(source: unknown, cwd: string): string {
  if (typeof source !== 'string' || source === '') bad('source', 'must be a directory path');
  if (source.includes('\0')) bad('source', 'contains a NUL byte');
  const abs = path.resolve(cwd, source);
  if (abs === '/') {
    throw new MirrorError('ERR_SOURCE_IS_ROOT', 'The source is "/": mirroring the whole file system is refused. Give the directory tree to mirror, e.g. /var/www.', { path: abs });
  }
  return abs;
}

/**
 * A local replica that is the source, or lies inside or around it, feeds the mirror its own output
 * and its --delete passes delete source files. Both checks (loop, duplicate) compare the paths rsync
 * will really write to: normalized, with the symlinks of their existing part resolved.
 */
function normalizeReplicas(specs: unknown, source: string, userName: string, env: Environment): Replica[] {
  if (!Array.isArray(specs) || specs.length === 0) {
    bad('replicas', 'must list at least one replica (e.g. web2, web3:/srv/www or /tmp/replica)');
  }
  const real = env.resolvePath ?? ((p: string) => p);
  const realSource = real(source);
  const seen = new Map<string, string>();
  return specs.map((spec) => {
    if (typeof spec !== 'string') bad('replicas', 'must be a list of strings');
    const parsed = parseReplicaSpec(spec, env.cwd);
    const replica: Replica = parsed.kind === 'local' ? parsed : { ...parsed, path: parsed.path ?? source, id: sshReplicaId(parsed.user, parsed.host, parsed.port, parsed.path ?? source) };
    let key: string;
    if (replica.kind === 'local') {
      key = real(replica.path);
      checkNoLoop(spec, key, realSource, source);
    } else key = `${replica.user ?? userName}@${replica.host}:${replica.port}:${replica.path}`;
    const twin = seen.get(key);
    if (twin !== undefined) {
      throw new MirrorError('ERR_REPLICA_DUPLICATE', `Replica "${spec}" names the same target as "${twin}". Remove one of them.`);
    }
    seen.set(key, spec);
    return Object.freeze(replica);
  });
}

function checkNoLoop(spec: string, target: string, realSource: string, source: string): void {
  const inside = (a: string, b: string) => a === b || a.startsWith(b === '/' ? b : `${b}/`);
  if (inside(target, realSource) || inside(realSource, target)) {
    const via = [target !== spec.replace(/\/+$/, '') ? `"${spec}" is ${target}` : '', realSource !== source ? `the source ${source} is ${realSource}` : ''].filter((x) => x !== '').join(', ');
    throw new MirrorError(
      'ERR_REPLICA_LOOP',
      `Replica "${spec}" is the source, or lies inside it or around it${via === '' ? '' : ` (${via})`}: every sync would feed itself and could delete source files. Choose a directory outside ${realSource}.`,
      { path: target },
    );
  }
}

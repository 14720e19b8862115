/**
 * Every option, once: what it takes, its default, its command-line flag, what it means and whether a
 * running mirror can change it. Pure data. From it come the known keys, defaults and checks of
 * `normalizeOptions` (options.ts), the flags and `--help` rows of the command line (cli/args.ts,
 * cli/usage.ts) and the options table in README.md (core/option-docs.ts, `npm run docs:options`),
 * so none of them can drift from the others.
 */
import type { MirrorOptions } from '../options.js';

/** What a value may be. `~/` in a default means the home directory (`homeDir`). */
export type OptionValue =
  | { type: 'source' }
  | { type: 'replicas' }
  | { type: 'boolean'; default: boolean }
  | { type: 'integer'; min: number; max: number; default?: number }
  | { type: 'string'; default?: string }
  /** A string that is a file system path, resolved against the working directory. */
  | { type: 'path' }
  /** A list of paths, each resolved against the working directory. */
  | { type: 'paths'; default: readonly string[] }
  | { type: 'choice'; choices: readonly string[]; default: string }
  /** rsync exclude rules, each checked to survive the rule file rsync reads them from. */
  | { type: 'excludes' }
  /** Defaults to what the caller's environment says (the home directory, the user name). */
  | { type: 'environment'; normalized: boolean };

/** The value kinds a TypeScript type of MirrorOptions may be given as (checked by `satisfies` below). */
type ValueFor<T> = [T] extends [boolean]
  ? Extract<OptionValue, { type: 'boolean' }>
  : [T] extends [number]
    ? Extract<OptionValue, { type: 'integer' }>
    : [T] extends [readonly string[]]
      ? Extract<OptionValue, { type: 'replicas' | 'paths' | 'excludes' }>
      : [T] extends [string]
        ? string extends T
          ? Extract<OptionValue, { type: 'source' | 'string' | 'path' | 'environment' }>
          : { type: 'choice'; choices: readonly T[]; default: T }
        : never;

export type Command = 'mirror' | 'verify' | 'status' | MarkerCommand;
/** The commands that write or remove a marker at a replica root of this machine (README, Failover). */
export type MarkerCommand = 'fence' | 'unfence' | 'release';
export const MARKER_COMMANDS = ['fence', 'unfence', 'release'] as const satisfies readonly MarkerCommand[];

/** How an option is given on the command line. */
export interface CommandLine {
  /** The long flag, without its dashes. */
  flag?: string;
  short?: string;
  /** The value's name in the usage (`FILE`); absent: the flag takes no value. */
  arg?: string;
  repeatable?: boolean;
  /** What a value must look like, for the usage error: `--concurrency takes a whole number ≥ 1, not "lots"`. */
  expects?: string;
  /** A positional argument's name (`SRC`) or an environment variable (`env SSH_AUTH_SOCK`) instead of a flag. */
  positional?: string;
  env?: string;
  /** The commands it applies to (default mirror and verify); any other refuses it (a usage error). */
  commands?: readonly Command[];
  /** Verify refuses it too: why, appended to "--FLAG does not apply to verify". */
  verifyRefusal?: string;
}

export interface OptionRow {
  cli?: CommandLine;
  /** One line for `--help` (wrapped there); absent: the flag is not in `--help`. */
  help?: string;
  /** The README's "meaning" cell (Markdown). */
  doc: string;
  /** The README's "default" cell when the value alone does not say it. */
  defaultDoc?: string;
  /** On SIGHUP / `reconfigure()`: applied to the running mirror, or named as needing a restart. */
  reload?: 'live' | 'restart';
}

export interface LibraryOptionRow<V extends OptionValue = OptionValue> extends OptionRow {
  value: V;
  reload: 'live' | 'restart';
}

const EXCLUDE_DOC =
  "rsync exclude pattern, repeatable (`+ PATTERN` includes, `!` clears, first match wins, as rsync's option); applies to events and to every rsync run; an excluded file that exists only on a replica is not deleted there. `/cache` keeps a top-level `cache` out of the watcher entirely; `cache/` matches directories only (a *file* named cache is sent), so such a directory is still watched and its events dropped. rsync reads the patterns from a private rule file (`0600`, removed at close), never from its command line, so lists of any length work (200,000 patterns are tested)";

/** The library's options, in the order of MirrorOptions (and of the normalized object). */
export const LIBRARY_OPTIONS = {
  source: { value: { type: 'source' }, cli: { positional: 'SRC' }, doc: 'the tree to mirror', defaultDoc: 'required', reload: 'restart' },
  replicas: { value: { type: 'replicas' }, cli: { positional: 'REPLICA...' }, doc: 'replica specs (below)', defaultDoc: 'required', reload: 'live' },
  initMirror: {
    value: { type: 'boolean', default: false },
    cli: { flag: 'init', verifyRefusal: ': it compares by checksum and changes nothing' },
    help: 'seed every replica first (full rsync --delete pass); same as INIT_MIRROR=1 in the environment',
    doc: 'seed every replica first (same as `INIT_MIRROR=1`)',
    reload: 'restart',
  },
  exclude: {
    value: { type: 'excludes' },
    cli: { flag: 'exclude', arg: 'PATTERN', repeatable: true },
    help: 'rsync exclude pattern, repeatable',
    doc: EXCLUDE_DOC,
    defaultDoc: 'none',
    reload: 'restart',
  },
  identityFiles: {
    value: { type: 'paths', default: ['~/.ssh/id_ecdsa', '~/.ssh/id_ed25519', '~/.ssh/id_rsa'] },
    cli: { flag: 'identity', arg: 'FILE', repeatable: true },
    help: 'ssh private key, repeatable (default: ~/.ssh/id_ecdsa, id_ed25519, id_rsa; ssh-agent is used too when SSH_AUTH_SOCK is set)',
    doc: 'ssh private key, repeatable; default as OpenSSH',
    reload: 'restart',
  },
  passphrase: {
    value: { type: 'string' },
    cli: { flag: 'passphrase-file', arg: 'FILE' },
    help: 'the passphrase of encrypted identity files: the first line of FILE, which must be private (chmod 600); for services',
    doc: 'for encrypted identity files; never logged. The CLI reads it from the first line of `--passphrase-file FILE`, which it refuses when group or others may read or write it (as ssh refuses such a private key), so it appears in no command line or environment',
    defaultDoc: 'none',
    reload: 'restart',
  },
  agent: { value: { type: 'string' }, cli: { env: 'SSH_AUTH_SOCK' }, doc: 'ssh-agent socket, tried first', defaultDoc: 'none (the CLI: `$SSH_AUTH_SOCK`)', reload: 'restart' },
  knownHostsFiles: {
    value: { type: 'paths', default: ['~/.ssh/known_hosts', '/etc/ssh/ssh_known_hosts'] },
    cli: { flag: 'known-hosts', arg: 'FILE', repeatable: true },
    help: 'known_hosts file, repeatable (default: ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)',
    doc: 'known_hosts file, repeatable',
    reload: 'restart',
  },
  strictHostKeyChecking: {
    value: { type: 'choice', choices: ['yes', 'accept-new', 'no'], default: 'yes' },
    cli: { flag: 'strict-host-key-checking', arg: 'yes|accept-new|no', expects: 'yes, accept-new or no' },
    help: "host-key policy, as OpenSSH's StrictHostKeyChecking (default yes: unknown or changed keys are refused; accept-new records first-seen keys; no accepts any key and is insecure)",
    doc: "as OpenSSH's option; see Security",
    reload: 'restart',
  },
  sshConfigFiles: {
    value: { type: 'paths', default: ['~/.ssh/config', '/etc/ssh/ssh_config'] },
    cli: { flag: 'ssh-config', arg: 'FILE', repeatable: true },
    help: 'OpenSSH client config file, repeatable, first value wins (default: ~/.ssh/config, /etc/ssh/ssh_config; "none" reads none): Host aliases, HostName, User, Port, IdentityFile, ProxyJump, … (README: ssh config)',
    doc: 'OpenSSH client config files, first value wins; the replica spec and the options given beat them; `none` on the command line (`[]` in the library) reads none. What is honoured: see ssh config below',
    reload: 'restart',
  },
  stateDir: {
    value: { type: 'path' },
    cli: { flag: 'state-dir', arg: 'DIR', commands: ['mirror', 'verify', 'status'] },
    help: "where each replica's backlog survives restarts (default $XDG_STATE_HOME/fam-mirror or ~/.local/state/fam-mirror)",
    doc: 'durable backlog: journal, per-replica watermarks, tree snapshot (created `0700`)',
    defaultDoc: 'library: none, in memory; CLI: `$XDG_STATE_HOME/fam-mirror`, else `~/.local/state/fam-mirror`',
    reload: 'restart',
  },
  journalLimitBytes: {
    value: { type: 'integer', min: 1024, max: 2 ** 40, default: 64 * 1024 * 1024 },
    doc: 'a replica further behind than this much journal (while down) gets one full pass instead, itemized: only what differs is sent',
    defaultDoc: '64 MiB',
    reload: 'restart',
  },
  dryRun: {
    value: { type: 'boolean', default: false },
    cli: { flag: 'dry-run', verifyRefusal: ': it never changes anything anyway' },
    help: 'show what each replica would get (rsync argv, paths, itemized changes), send nothing, write no state',
    doc: 'show what each replica would get (rsync argv, listed paths, itemized changes); send nothing, write no state',
    reload: 'restart',
  },
  watchLimit: {
    value: { type: 'integer', min: 1, max: 2 ** 31 },
    doc: 'inotify watches this mirror may assume are available in all; for tests and odd kernels',
    defaultDoc: '`fs.inotify.max_user_watches` minus those this user holds',
    reload: 'restart',
  },
  allowEmptySource: {
    value: { type: 'boolean', default: false },
    cli: { flag: 'allow-empty-source' },
    help: 'let an empty SRC empty the replicas (default: held back, as an unmounted disk would otherwise wipe them)',
    doc: 'let an empty SRC empty the replicas (by default held back, see Reliability)',
    reload: 'restart',
  },
  fastPath: {
    value: { type: 'boolean', default: true },
    doc: 'small changes to ssh replicas (a few small files, deletes, empty directories, symlinks) go over SFTP and one long-lived shell per connection instead of an rsync each; false: rsync only',
    reload: 'restart',
  },
  takeOver: {
    value: { type: 'boolean', default: false },
    cli: { flag: 'take-over', verifyRefusal: ': it never writes a replica' },
    help: 'feed replicas whose owner record names another master (rewrites the record; see Failover)',
    doc: 'feed replicas whose owner record (`.fam-mirror-owner`) names another master, rewriting the record (default: such a replica is refused with ERR_REPLICA_OWNED; see Failover)',
    reload: 'restart',
  },
  reconcileIntervalSec: {
    value: { type: 'integer', min: 0, max: 31_536_000, default: 21_600 },
    cli: { flag: 'reconcile-every', arg: 'SEC', expects: 'a number of seconds (0 = never)' },
    help: 'drift repair: a background itemized pass of each replica after start-up, then every SEC seconds, spread with jitter (default 21600 = 6 h; 0 = neither; bursts and watcher errors trigger a full pass anyway)',
    doc: 'drift repair: a background itemized pass of each replica once started and caught up, then every SEC seconds, spread with jitter; it yields to every live change (0: neither; bursts and watcher errors trigger a full pass anyway)',
    reload: 'restart',
  },
  concurrency: {
    value: { type: 'integer', min: 1, max: 1024, default: 8 },
    cli: { flag: 'concurrency', arg: 'N', expects: 'a whole number ≥ 1' },
    help: 'at most N rsync processes at once, all replicas together (default 8)',
    doc: 'at most N rsync processes at once, all replicas together',
    reload: 'restart',
  },
  quietMs: { value: { type: 'integer', min: 0, max: 3_600_000, default: 10 }, doc: 'batch after this many ms of quiet (at least 50 once 32 changes have come in: a burst)', reload: 'restart' },
  maxWaitMs: { value: { type: 'integer', min: 0, max: 3_600_000, default: 1000 }, doc: 'never hold a change longer than this many ms waiting for quiet', reload: 'restart' },
  timeoutSec: {
    value: { type: 'integer', min: 1, max: 86_400, default: 30 },
    doc: 'rsync `--timeout` and the ssh keepalive budget (30: a hung replica is declared down in about 15 s)',
    reload: 'restart',
  },
  connectTimeoutMs: { value: { type: 'integer', min: 100, max: 600_000, default: 15_000 }, doc: 'ssh connect and authentication deadline (ms)', reload: 'restart' },
  retryMinMs: { value: { type: 'integer', min: 1, max: 3_600_000, default: 500 }, doc: 'backoff with jitter: the shortest wait before a retry (ms)', reload: 'restart' },
  retryMaxMs: { value: { type: 'integer', min: 1, max: 86_400_000, default: 30_000 }, doc: 'backoff with jitter: the longest wait (ms); problem paths are retried this often', reload: 'restart' },
  rsyncPath: { value: { type: 'string', default: 'rsync' }, doc: 'the local rsync binary', reload: 'restart' },
  remoteRsyncPath: { value: { type: 'string', default: 'rsync' }, doc: 'the command that starts rsync on the replicas', reload: 'restart' },
  homeDir: { value: { type: 'environment', normalized: false }, doc: 'home directory for the defaults above (identity and known_hosts files)', defaultDoc: '`os.homedir()`', reload: 'restart' },
  userName: { value: { type: 'environment', normalized: true }, doc: 'ssh user when a replica names none', defaultDoc: '`os.userInfo().username`', reload: 'restart' },
} as const satisfies { [K in keyof MirrorOptions]-?: LibraryOptionRow<ValueFor<NonNullable<MirrorOptions[K]>>> };

export type LibraryOptionKey = keyof typeof LIBRARY_OPTIONS;

/** Options of the command line only (the CLI turns them into library options or uses them itself). */
export const COMMAND_LINE_OPTIONS: readonly OptionRow[] = [
  {
    cli: { flag: 'watch-list', arg: 'FILE' },
    help: 'several roots, one per line; "- PATTERN" lines below a root are excludes of that root only',
    doc: 'several roots, one absolute path per line (`#` comments); `- PATTERN` lines below a root are excludes of that root only; each is mirrored to every replica: a bare `host` gets it at the same path, a replica with a path P gets root R at P/R. One ssh connection per host serves all roots.',
    reload: 'restart',
  },
  {
    cli: { flag: 'exclude-from', arg: 'FILE', repeatable: true },
    help: "exclude patterns, one per line, as rsync's option",
    doc: "exclude patterns, one per line (`#`/`;` comments), as rsync's option",
    reload: 'restart',
  },
  {
    cli: { flag: 'never-from', arg: 'FILE', repeatable: true },
    help: 'absolute paths never watched, sent or deleted, one per line',
    doc: "absolute paths never watched, sent or deleted (database directories: ClusterMaker's `database_locations`)",
    reload: 'restart',
  },
  {
    cli: { flag: 'config', arg: 'FILE' },
    help: 'JSON file of library options (default /etc/fam-mirror.json when it exists); the command line overrides it',
    doc: 'JSON object of library options; default `/etc/fam-mirror.json` when it exists; the command line overrides it key by key; unknown keys and wrong types are errors naming the key; re-read on SIGHUP',
  },
  {
    cli: { flag: 'metrics', arg: 'HOST:PORT', verifyRefusal: ' (it serves the metrics of a running mirror)' },
    help: 'serve Prometheus metrics on a loopback address (e.g. 127.0.0.1:9477)',
    doc: 'Prometheus metrics on a loopback address (`/metrics`): up, failed, lag, backlog, last success, files and bytes sent, per replica',
    reload: 'restart',
  },
  {
    cli: { flag: 'on-replica-down', arg: 'CMD', verifyRefusal: '' },
    help: 'run CMD (with sh) when a replica goes down; it gets FAM_MIRROR_EVENT, FAM_MIRROR_REPLICA, FAM_MIRROR_STATE, FAM_MIRROR_ERROR(_CODE) in its env',
    doc: "run CMD with `sh -c` when a replica goes down; the replica's data arrives only in the environment: `FAM_MIRROR_EVENT`, `FAM_MIRROR_REPLICA`, `FAM_MIRROR_SOURCE`, `FAM_MIRROR_STATE`, `FAM_MIRROR_ERROR`, `FAM_MIRROR_ERROR_CODE`",
    reload: 'restart',
  },
  {
    cli: { flag: 'on-replica-up', arg: 'CMD', verifyRefusal: '' },
    help: 'the same when a replica comes back up',
    doc: 'the same when a replica comes back up',
    reload: 'restart',
  },
  { cli: { flag: 'json', commands: ['status'] }, help: 'with status: print JSON', doc: 'with `status`: print JSON' },
  {
    cli: { flag: 'reason', arg: 'TEXT', commands: ['fence'] },
    help: 'with fence: why, written into the marker (e.g. "promoted by keepalived")',
    doc: 'with `fence`: why, written into the marker',
  },
  { cli: { flag: 'quiet', short: 'q' }, help: 'log errors and warnings only', doc: 'log errors and warnings only', reload: 'restart' },
  {
    cli: { flag: 'log-format', arg: 'FORMAT', expects: 'auto, plain or json', verifyRefusal: ' (verify prints a report, not a log)' },
    help: 'auto (timestamps, none when stderr is the journal), plain (no timestamps) or json (one object per line)',
    doc: '`auto`: an ISO timestamp on each line, or, when stderr is the journal (`JOURNAL_STREAM`), none and a syslog priority prefix (`<3>` error, `<4>` warning, `<6>` info); `plain`: no timestamps; `json`: one object per line with `time`, `level`, `event`, `message` and, where they apply, `replica`, `paths`, `bytes`, `ms`, `code`, `reason`, `repaired`, `sample`. Errors and warnings go to stderr, info to stdout',
    reload: 'restart',
  },
  { cli: { flag: 'help', short: 'h', commands: ['mirror', 'verify', 'status', ...MARKER_COMMANDS] }, help: 'show this help', doc: 'show the usage' },
  { cli: { flag: 'version', short: 'v', commands: ['mirror', 'verify', 'status', ...MARKER_COMMANDS] }, help: 'show the version', doc: 'show the version' },
];

/** Every row in documentation order: the library's options, then the command line's own. */
export function optionRows(): Array<OptionRow & { key?: LibraryOptionKey; value?: OptionValue }> {
  return [...Object.entries(LIBRARY_OPTIONS).map(([key, row]) => ({ ...(row as LibraryOptionRow), key: key as LibraryOptionKey })), ...COMMAND_LINE_OPTIONS];
}

/** Rows with a command-line flag. */
export function flagRows(): Array<OptionRow & { cli: CommandLine & { flag: string }; key?: LibraryOptionKey }> {
  return optionRows().filter((row): row is OptionRow & { cli: CommandLine & { flag: string }; key?: LibraryOptionKey } => row.cli?.flag !== undefined);
}

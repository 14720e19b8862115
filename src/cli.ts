#!/usr/bin/env node
/**
 * The `fam-mirror` command: a thin layer over the library. Environment variables are read here
 * and only here (INIT_MIRROR, SSH_AUTH_SOCK; DEBUG by the debug package).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { hashName } from './sync/journal-format.js';
import { parseMetricsAddress, queryAll, serveMetrics, serveStatus, SOCKET_NAME, type StatusDocument } from './cli/control.js';
import type { ProgressEvent, ReplicaStateEvent } from './types.js';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { Mirror, type StartResult } from './mirror.js';
import { parseReplicaSpec } from './replica-spec.js';
import { ConnectionPool } from './transport/pool.js';
import { isMirrorError, MirrorError } from './errors.js';
import type { MirrorOptions, NormalizedOptions } from './options.js';

const USAGE = `Usage: fam-mirror [options] SRC REPLICA...
       fam-mirror verify [options] SRC REPLICA...
       fam-mirror status [--json] [--state-dir DIR]

Keeps every REPLICA in step with the directory tree SRC, in near real time:
file-change events are coalesced and sent with rsync over one ssh connection per host.

REPLICA is one of:
  HOST                      same path as SRC on HOST (as fam_mirror did)
  HOST:/path, USER@HOST:/path
  ssh://USER@HOST:PORT/path
  /local/path, ./path, ../path
                            a local directory (plain rsync, no ssh); a relative
                            path must start with ./ or ../

Options:
  --init                 seed every replica first (full rsync --delete pass);
                         same as INIT_MIRROR=1 in the environment
  --exclude PATTERN      rsync exclude pattern, repeatable
  --identity FILE        ssh private key, repeatable (default: ~/.ssh/id_ecdsa, id_ed25519, id_rsa;
                         ssh-agent is used too when SSH_AUTH_SOCK is set)
  --known-hosts FILE     known_hosts file, repeatable (default: ~/.ssh/known_hosts,
                         /etc/ssh/ssh_known_hosts)
  --strict-host-key-checking yes|accept-new|no
                         host-key policy, as OpenSSH's StrictHostKeyChecking (default yes:
                         unknown or changed keys are refused; accept-new records first-seen
                         keys; no accepts any key and is insecure)
  --state-dir DIR        where each replica's backlog survives restarts (default
                         $XDG_STATE_HOME/fam-mirror or ~/.local/state/fam-mirror)
  --reconcile-every SEC  full itemized rsync pass of every replica every SEC seconds
                         (default 0 = never; bursts and watcher errors trigger one anyway)
  --allow-empty-source   let an empty SRC empty the replicas (default: held back, as an
                         unmounted disk would otherwise wipe them)
  --config FILE          JSON file of library options (default /etc/fam-mirror.json when it
                         exists); the command line overrides it
  --concurrency N        at most N rsync processes at once, all replicas together (default 8)
  --dry-run              show what each replica would get (rsync argv, paths, itemized
                         changes), send nothing, write no state
  --metrics HOST:PORT    serve Prometheus metrics on a loopback address (e.g. 127.0.0.1:9477)
  --on-replica-down CMD  run CMD (with sh) when a replica goes down; it gets FAM_MIRROR_EVENT,
  --on-replica-up CMD    FAM_MIRROR_REPLICA, FAM_MIRROR_STATE, FAM_MIRROR_ERROR(_CODE) in its env
  --json                 with status: print JSON
  -q, --quiet            log errors only
  -h, --help             show this help
  -v, --version          show the version

status shows every running mirror's replicas (state, lag, backlog, last success and error,
files and bytes sent), read from its socket in the state directory.

verify compares each REPLICA with SRC by checksum (an rsync dry run, nothing is changed),
prints every difference, and exits 0 when all are identical, 1 when not (or not reachable).

A first word verify or status is always the command; a directory of that name is ./verify.

Stop with Ctrl-C or SIGTERM: batches in flight finish, connections close, exit 0.
Debug logging: DEBUG=fam-mirror:* fam-mirror ...`;

interface Cli {
  command: 'mirror' | 'verify';
  /** Options for the first (or only) root; optionsForRoot() derives the others. */
  options: MirrorOptions;
  /** The watched roots: SRC, or the lines of --watch-list. */
  roots: string[];
  /** Excludes of one root only (`- PATTERN` lines under it in the watch list). */
  rootExcludes: Map<string, string[]>;
  /** Absolute paths never watched, sent or deleted (--never-from). */
  never: string[];
  quiet: boolean;
  metrics: string | undefined;
  onDown: string | undefined;
  onUp: string | undefined;
}

interface StatusCli {
  command: 'status';
  stateDir: string;
  json: boolean;
}

class UsageError extends Error {}

function parseCli(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Cli | StatusCli | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        init: { type: 'boolean' },
        exclude: { type: 'string', multiple: true },
        identity: { type: 'string', multiple: true },
        'known-hosts': { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        'strict-host-key-checking': { type: 'string' },
        'state-dir': { type: 'string' },
        'allow-empty-source': { type: 'boolean' },
        'reconcile-every': { type: 'string' },
        config: { type: 'string' },
        'watch-list': { type: 'string' },
        'exclude-from': { type: 'string', multiple: true },
        'never-from': { type: 'string', multiple: true },
        metrics: { type: 'string' },
        'on-replica-down': { type: 'string' },
        'on-replica-up': { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const positionals = [...parsed.positionals];
  const command = takeCommand(positionals);
  for (const [option, given] of Object.entries(v)) {
    const why = given === undefined ? undefined : optionRefusal(command, option);
    if (why !== undefined) throw new UsageError(why);
  }
  if (command === 'status') {
    if (positionals.length > 0) {
      throw new UsageError(`status takes no SRC or REPLICA ("${positionals[0]}" given): it lists every mirror running under the state directory (--state-dir DIR)`);
    }
    return { command: 'status', stateDir: resolve(cwd, v['state-dir'] ?? defaultStateDir(env)), json: v.json === true };
  }
  const config = loadConfig(v.config === undefined ? undefined : resolve(cwd, v.config));
  const watched = v['watch-list'] === undefined ? undefined : parseWatchList(readList(resolve(cwd, v['watch-list']), 'watch list'), cwd);
  const watchList = watched?.map((w) => w.root);
  if (watchList !== undefined && watchList.length === 0) throw new UsageError(`the watch list ${v['watch-list']} names no directory`);
  // With a watch list every positional is a replica.
  const [source, ...replicas] = watchList === undefined ? positionals : [watchList[0]!, ...positionals];
  if (command === 'verify' && source === undefined && config.source === undefined) {
    throw new UsageError(`verify: missing SRC and REPLICA, the tree to compare and the replicas to compare it with${DIRECTORY_HINT}`);
  }
  if (source === undefined && config.source === undefined) throw new UsageError('missing SRC, the directory tree to mirror (or --watch-list FILE)');
  if (replicas.length === 0 && config.replicas === undefined) {
    if (command === 'verify') throw new UsageError(`verify: missing REPLICA: name at least one host or directory to compare ${source ?? config.source} with${DIRECTORY_HINT}`);
    throw new UsageError('missing REPLICA: name at least one host or directory to mirror to');
  }
  let concurrency: number | undefined;
  if (v.concurrency !== undefined) {
    concurrency = Number(v.concurrency);
    if (!/^\d+$/.test(v.concurrency) || concurrency < 1) throw new UsageError(`--concurrency takes a whole number ≥ 1, not "${v.concurrency}"`);
  }
  // The config file gives defaults; the command line overrides them key by key.
  const options = { ...config } as MirrorOptions;
  if (source !== undefined) options.source = resolve(cwd, source);
  if (replicas.length > 0) options.replicas = replicas.map((r) => localise(r, cwd));
  // INIT_MIRROR is about starting a mirror; verify only compares, whatever the environment says.
  if (command === 'mirror' && (v.init === true || isTruthy(env.INIT_MIRROR))) options.initMirror = true;
  const excludeFiles = (v['exclude-from'] ?? []).flatMap((f) => readList(resolve(cwd, f), 'exclude file'));
  if (v.exclude || excludeFiles.length > 0) options.exclude = [...(options.exclude ?? []), ...excludeFiles, ...(v.exclude ?? [])];
  const never = (v['never-from'] ?? []).flatMap((f) => readList(resolve(cwd, f), 'never-replicate list')).map((p) => {
    if (!p.startsWith('/')) throw new UsageError(`--never-from: "${p}" is not an absolute path`);
    return p.replace(/\/+$/, '');
  });
  if (v.identity) options.identityFiles = v.identity.map((f) => resolve(cwd, f));
  if (v['known-hosts']) options.knownHostsFiles = v['known-hosts'].map((f) => resolve(cwd, f));
  if (concurrency !== undefined) options.concurrency = concurrency;
  if (v['state-dir'] !== undefined) options.stateDir = resolve(cwd, v['state-dir']);
  else options.stateDir ??= defaultStateDir(env);
  if (v['allow-empty-source']) options.allowEmptySource = true;
  if (v['reconcile-every'] !== undefined) {
    const every = v['reconcile-every'];
    if (!/^\d+$/.test(every)) throw new UsageError(`--reconcile-every takes a number of seconds (0 = never), not "${every}"`);
    options.reconcileIntervalSec = Number(every);
  }
  const policy = v['strict-host-key-checking'];
  if (policy !== undefined) {
    if (policy !== 'yes' && policy !== 'accept-new' && policy !== 'no') {
      throw new UsageError(`--strict-host-key-checking takes yes, accept-new or no, not "${policy}"`);
    }
    options.strictHostKeyChecking = policy;
  }
  if (env.SSH_AUTH_SOCK) options.agent = env.SSH_AUTH_SOCK;
  if (v['dry-run']) options.dryRun = true;
  if (v.metrics !== undefined) parseMetricsAddress(v.metrics);
  const roots = watchList ?? [resolve(cwd, options.source)];
  const rootExcludes = new Map((watched ?? []).map((w) => [w.root, w.exclude]));
  return { command, options, roots, rootExcludes, never, quiet: v.quiet === true, metrics: v.metrics, onDown: v['on-replica-down'], onUp: v['on-replica-up'] };
}

const COMMANDS = ['verify', 'status'] as const;
const DIRECTORY_HINT = '\n(a directory named verify or status is given as ./verify or ./status)';

/**
 * A first word that names a command is that command, whatever follows: a directory of that name is
 * written `./verify`. A command word anywhere else, or a near miss of one first, is refused, so a
 * mistyped command never starts a mirror (nor an --init pass that deletes on the replica).
 */
function takeCommand(positionals: string[]): 'mirror' | 'verify' | 'status' {
  const first = positionals[0];
  if (first === 'verify' || first === 'status') {
    positionals.shift();
  } else if (first !== undefined) {
    const near = COMMANDS.find((c) => withinOneEdit(first.toLowerCase(), c));
    if (near !== undefined) throw new UsageError(`unknown command "${first}": did you mean "${near}"? (a directory of that name is given as ./${first})`);
  }
  const misplaced = positionals.find((p) => (COMMANDS as readonly string[]).includes(p));
  if (misplaced !== undefined) {
    throw new UsageError(`"${misplaced}" is a command and goes first: fam-mirror ${misplaced} [options]${misplaced === 'verify' ? ' SRC REPLICA...' : ''} (a directory of that name is given as ./${misplaced}, a host as ${misplaced}:)`);
  }
  return first === 'verify' || first === 'status' ? first : 'mirror';
}

/** Equal, or one character inserted, deleted, replaced, or two adjacent ones swapped. Pure. */
function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    return a.slice(i + 1) === b.slice(i + 1) || (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2));
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/**
 * Why an option means nothing for a command, or undefined when it applies. Refused rather than
 * ignored: whoever wrote it expects something (a seed, a JSON answer, an alert) that would not happen.
 */
function optionRefusal(command: 'mirror' | 'verify' | 'status', option: string): string | undefined {
  if (command === 'status') {
    return option === 'json' || option === 'state-dir' ? undefined : `--${option} does not apply to status: it only lists the running mirrors (status [--json] [--state-dir DIR])`;
  }
  if (option === 'json') return '--json applies to status only (fam-mirror status --json)';
  return command === 'verify' ? VERIFY_REFUSES[option] : undefined;
}

const VERIFY_REFUSES: Record<string, string> = {
  init: '--init does not apply to verify: it compares by checksum and changes nothing',
  'dry-run': '--dry-run does not apply to verify: it never changes anything anyway',
  metrics: '--metrics does not apply to verify (it serves the metrics of a running mirror)',
  'on-replica-down': '--on-replica-down does not apply to verify',
  'on-replica-up': '--on-replica-up does not apply to verify',
};

/**
 * `./x`, `../x`, `.` and `..` are local directories, made absolute here so a watch list can nest
 * roots below them; anything else goes to the library as written (`dir/sub` is refused there: a
 * remote spec with its colon forgotten).
 */
function localise(spec: string, cwd: string): string {
  if (spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../')) return resolve(cwd, spec);
  return spec;
}

/** One entry per line; blank lines and lines starting with '#' or ';' are comments (as rsync's --exclude-from). */
function readList(file: string, what: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `Cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`, { path: file, cause: e });
  }
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}

/**
 * A watch list: one root per line; `- PATTERN` lines (rsync's exclude-rule syntax) below a root are
 * excludes of that root only.
 */
function parseWatchList(lines: string[], cwd: string): Array<{ root: string; exclude: string[] }> {
  const out: Array<{ root: string; exclude: string[] }> = [];
  for (const line of lines) {
    if (line.startsWith('- ')) {
      const last = out[out.length - 1];
      if (last === undefined) throw new UsageError(`watch list: the exclude "${line}" comes before any root`);
      last.exclude.push(line.slice(2).trim());
    } else out.push({ root: resolve(cwd, line), exclude: [] });
  }
  return out;
}

/**
 * Several roots (a watch list): each is mirrored to every replica. A bare host gets each root at the
 * same path (as fam_mirror did); a replica with a path P gets root R at P/R (rsync -R style), so
 * roots never land on top of each other. Never-replicate paths inside the root become anchored
 * excludes: not watched, not sent, and, being excluded, never deleted on a replica.
 */
function optionsForRoot(cli: Cli, root: string): MirrorOptions {
  const several = cli.roots.length > 1;
  const replicas = several ? cli.options.replicas.map((spec) => specForRoot(spec, root)) : cli.options.replicas;
  const never = cli.never.filter((p) => p.startsWith(`${root}/`)).map((p) => `/${escapePattern(p.slice(root.length + 1))}`);
  const options: MirrorOptions = { ...cli.options, source: root, replicas };
  const own = cli.rootExcludes.get(root) ?? [];
  if (never.length > 0 || own.length > 0) options.exclude = [...(cli.options.exclude ?? []), ...own, ...never];
  return options;
}

function specForRoot(spec: string, root: string): string {
  // A relative replica from the config file (./backup) is relative to the directory we run in.
  const parsed = parseReplicaSpec(spec, process.cwd());
  if (parsed.kind === 'local') return join(parsed.path, root);
  if (parsed.path === undefined) return spec;
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return `ssh://${parsed.user === undefined ? '' : `${parsed.user}@`}${host}:${parsed.port}${join(parsed.path, root)}`;
}

/** A literal path as an rsync pattern: rsync reads backslashes as escapes only in a pattern with wildcards. */
function escapePattern(path: string): string {
  return /[*?[]/.test(path) ? path.replace(/[\\*?[\]]/g, (c) => `\\${c}`) : path;
}

const SYSTEM_CONFIG = '/etc/fam-mirror.json';

/**
 * A JSON object with the library's option names (validated by the library, so an unknown key or a
 * wrong type is an error naming the key). `--config FILE`, else /etc/fam-mirror.json when present.
 */
function loadConfig(file: string | undefined): Partial<MirrorOptions> {
  const path = file ?? (existsSync(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `Cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Check the path and its permissions.`, { path, cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `The config file ${path} is not valid JSON: ${(e as Error).message}.`, { path, cause: e });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new MirrorError('ERR_CONFIG', `The config file ${path} must hold a JSON object of options, e.g. {"source": "/var/www", "replicas": ["web2"]}.`, { path });
  }
  return parsed as Partial<MirrorOptions>;
}

/** XDG Base Directory: state that should survive restarts but is not configuration. */
function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME ?? homedir(), '.local', 'state');
  return join(base, 'fam-mirror');
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false' && value.toLowerCase() !== 'no';
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function log(line: string): void {
  bars.clear();
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  bars.draw();
}

/**
 * Progress of full passes: on a terminal, one bar per replica kept at the bottom (redrawn in place);
 * otherwise a plain log line per replica every few seconds, fit for journald.
 */
class ProgressBars {
  readonly #tty = process.stdout.isTTY === true;
  readonly #current = new Map<string, ProgressEvent>();
  readonly #loggedAt = new Map<string, number>();
  #shown = 0;

  update(e: ProgressEvent): void {
    if (!this.#tty) {
      const now = Date.now();
      if (now - (this.#loggedAt.get(e.replica) ?? 0) < PLAIN_PROGRESS_EVERY_MS && e.percent < 100) return;
      this.#loggedAt.set(e.replica, now);
      log(`progress ${e.replica}: ${describeProgress(e)}`);
      return;
    }
    this.clear();
    this.#current.set(e.replica, e);
    this.draw();
  }

  done(replica: string): void {
    if (!this.#current.has(replica)) return;
    this.clear();
    this.#current.delete(replica);
    this.draw();
  }

  clear(): void {
    if (this.#shown === 0) return;
    process.stdout.write(`\x1b[${this.#shown}F\x1b[0J`);
    this.#shown = 0;
  }

  draw(): void {
    if (!this.#tty || this.#current.size === 0) return;
    const width = Math.max(10, Math.min(30, (process.stdout.columns ?? 80) - 70));
    for (const e of this.#current.values()) {
      const filled = Math.round((width * e.percent) / 100);
      process.stdout.write(`${e.replica} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${describeProgress(e)}\n`);
    }
    this.#shown = this.#current.size;
  }
}

const PLAIN_PROGRESS_EVERY_MS = 5000;
const bars = new ProgressBars();

function describeProgress(e: ProgressEvent): string {
  const files = e.filesTotal === undefined ? '' : ` ${e.filesDone}/${e.filesTotal} files,`;
  return `${e.percent}%${files} ${humanBytes(e.bytes)}, ${e.rate}, ETA ${e.eta}`;
}

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseCli(process.argv.slice(2), process.env, process.cwd());
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fam-mirror: ${e.message}\nRun "fam-mirror --help" for usage.\n`);
      return 2;
    }
    throw e;
  }
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cli === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (cli.command === 'status') return await status(cli);
  // One Mirror per watched root; one shared ssh connection per host among them.
  const pool = new ConnectionPool();
  const mirrors = cli.roots.map((root) => new Mirror(optionsForRoot(cli, root), { pool }));
  if (cli.command === 'verify') return await verify(mirrors);
  const quiet = cli.quiet;
  for (const mirror of mirrors) wire(mirror, cli);

  // Keeps the event loop alive while watching; the watcher's native thread does not.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const servers: Array<{ close(): unknown }> = [];
  const closeAll = () => Promise.all(mirrors.map((m) => m.close())).then(() => undefined);
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<void>((resolveStopped) => {
    const stop = (signal: string) => {
      if (stopping !== undefined) {
        process.stderr.write(`fam-mirror: ${signal} again, exiting without waiting\n`);
        process.exit(130);
      }
      if (!quiet) log(`${signal}: finishing batches in flight and closing connections`);
      stopping = closeAll().then(resolveStopped);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // SIGHUP: read the config and the command line again and apply the replica list.
    process.on('SIGHUP', () => {
      if (stopping !== undefined) return;
      void reload(mirrors).catch((e: Error) => log(`SIGHUP: reload failed, keeping the running setup: ${e.message}${isMirrorError(e) ? ` (${e.code})` : ''}`));
    });
  });
  try {
    const first = mirrors[0]!.options;
    if (first.strictHostKeyChecking === 'no') log('WARNING: host keys are not checked (--strict-host-key-checking no): anyone on the network path can impersonate a replica.');
    const started = Date.now();
    for (const mirror of mirrors) {
      const o = mirror.options;
      // "watching" is said only once it is true (the ready line); this one says what is being tried.
      if (!quiet) log(`starting ${o.source} → ${o.replicas.map((r) => r.id).join(', ')}${o.initMirror ? (o.dryRun ? ' (dry run: would seed first)' : ' (seeding first)') : ''}`);
      if (o.stateDir !== undefined && !o.dryRun) {
        const dir = join(o.stateDir, hashName(o.source));
        try {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          servers.push(await serveStatus(join(dir, SOCKET_NAME), () => ({ source: o.source, pid: process.pid, startedAt: started, replicas: mirror.status() })));
        } catch (e) {
          if (e instanceof MirrorError) throw e; // another mirror answers on that socket
          const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          throw new MirrorError('ERR_STATE', `Cannot use the state directory ${o.stateDir}: ${why}. Give a writable directory (--state-dir DIR).`, { path: o.stateDir, cause: e });
        }
      }
    }
    if (cli.metrics !== undefined) servers.push(await serveMetrics(cli.metrics, () => mirrors.flatMap((m) => m.status())));
    const results = await Promise.all(mirrors.map((m) => m.start()));
    if (!quiet) log(`${seedClaim(first, results)}watching (ready in ${Date.now() - started} ms)`);
    await stopped;
    return 0;
  } catch (e) {
    await closeAll().catch(() => {});
    // Stopped by a signal while starting or seeding: that is a clean stop, not a failure.
    if (stopping !== undefined && isMirrorError(e, 'ERR_CLOSED')) return 0;
    throw e;
  } finally {
    clearInterval(keepAlive);
    for (const server of servers) server.close();
  }
}

/**
 * What the ready line may say about the seed: only what start() observed (design: every claim is
 * true when made), and a dry run only what it would do.
 */
function seedClaim(options: NormalizedOptions, results: StartResult[]): string {
  if (!options.initMirror) return '';
  const seeded = results.flatMap((r) => r.seeded);
  const unseeded = results.flatMap((r) => r.unseeded);
  const total = seeded.length + unseeded.length;
  const down = `${unseeded.join(', ')} ${unseeded.length === 1 ? 'is' : 'are'} down`;
  if (options.dryRun) {
    return unseeded.length === 0 ? 'dry run: every replica would be seeded (nothing sent); ' : `dry run: ${seeded.length} of ${total} would be seeded (nothing sent); ${down}; `;
  }
  return unseeded.length === 0 ? 'seeded and ' : `${seeded.length} of ${total} seeded; ${down} and will be seeded when back; `;
}

/** The default log, alerts and dry-run report of one mirror. */
function wire(mirror: Mirror, cli: Cli): void {
  const quiet = cli.quiet;
  if (mirror.options.dryRun) {
    mirror.on('planned', (e) => {
      const what = e.paths === 'full' ? 'a full pass' : `${e.paths.length} path${e.paths.length === 1 ? '' : 's'}`;
      log(`dry run: ${e.replica} would get ${what}: rsync ${e.args.join(' ')}`);
      if (e.paths !== 'full') for (const p of e.paths) process.stdout.write(`  path ${JSON.stringify(p)}\n`);
      for (const item of e.items) process.stdout.write(`  ${item}\n`);
    });
  }
  const alert = (cmd: string | undefined, event: string) => (e: ReplicaStateEvent) => {
    if (cmd === undefined) return;
    // The operator's command runs through sh; the replica's data reaches it only as environment values.
    const env = {
      ...process.env,
      FAM_MIRROR_EVENT: event,
      FAM_MIRROR_REPLICA: e.replica,
      FAM_MIRROR_SOURCE: mirror.options.source,
      FAM_MIRROR_STATE: mirror.status().find((r) => r.replica === e.replica)?.state ?? '',
      FAM_MIRROR_ERROR: e.error?.message ?? '',
      FAM_MIRROR_ERROR_CODE: e.error?.code ?? '',
    };
    execFile('/bin/sh', ['-c', cmd], { env, timeout: 60_000 }, (err) => {
      if (err) log(`--on-${event} command failed: ${err.message}`);
    });
  };
  mirror.on('replica-down', alert(cli.onDown, 'replica-down'));
  mirror.on('replica-up', alert(cli.onUp, 'replica-up'));
  if (!quiet) mirror.on('progress', (e) => bars.update(e));
  mirror.on('synced', (e) => {
    bars.done(e.replica);
    // A dry run sent nothing: its 'planned' line above already says what would have been.
    if (quiet || mirror.options.dryRun) return;
    const what = e.full ? 'full pass' : `${e.paths} path${e.paths === 1 ? '' : 's'}${e.deleted ? ` (${e.deleted} deleted)` : ''}`;
    log(`synced ${what} to ${e.replica} in ${e.durationMs} ms`);
  });
  mirror.on('replica-down', (e) => log(`replica ${e.replica} is down: ${e.error?.message ?? 'unknown error'}`));
  mirror.on('replica-up', (e) => log(`replica ${e.replica} is back up`));
  mirror.on('problem', (e) => {
    if (e.code === 'ERR_HOST_KEY_UNCHECKED') log(`WARNING: ${e.message}`);
    else if (e.code === 'ERR_RSYNC' && e.exitCode === 23) log(`problem on ${e.replica}: ${e.message}`);
    else if (e.code === 'ERR_STATE_DAMAGED') log(`WARNING: ${e.message}`);
    else if (e.code === 'ERR_STATE_UNCLEAN' && !quiet) log(e.message);
  });
  mirror.on('error', (err) => log(`error: ${err.message} (${err.code})`));
}

async function reload(mirrors: Mirror[]): Promise<void> {
  const next = parseCli(process.argv.slice(2), process.env, process.cwd());
  if (typeof next === 'string' || next.command !== 'mirror') return;
  const running = mirrors.map((m) => m.options.source);
  if (next.roots.join('\n') !== running.join('\n')) log('SIGHUP: the watched roots changed; that needs a restart, the replicas are updated only');
  // Validated exactly as at start-up, every root before any is changed: a bad file changes nothing.
  const wanted = mirrors.map((mirror) => optionsForRoot(next, mirror.options.source));
  for (const options of wanted) Mirror.checkOptions(options);
  for (const [i, mirror] of mirrors.entries()) {
    const { added, removed, restartNeeded } = await mirror.reconfigure(wanted[i]!);
    log(`SIGHUP: config reloaded for ${mirror.options.source}; ${added.length === 0 ? 'no replica added' : `added (seeding) ${added.join(', ')}`}; ${removed.length === 0 ? 'none removed' : `removed ${removed.join(', ')}`}`);
    if (restartNeeded.length > 0) {
      log(`SIGHUP: changed for ${mirror.options.source}, but needs a restart (the running mirror keeps the old value): ${restartNeeded.join(', ')}`);
    }
  }
}

async function status(cli: StatusCli): Promise<number> {
  const docs = await queryAll(cli.stateDir);
  if (cli.json) {
    process.stdout.write(`${JSON.stringify(docs, null, 2)}\n`);
    return docs.length > 0 ? 0 : 1;
  }
  if (docs.length === 0) {
    process.stdout.write(`no running fam-mirror found under ${cli.stateDir} (give --state-dir if it uses another)\n`);
    return 1;
  }
  for (const d of docs) process.stdout.write(formatStatus(d));
  return 0;
}

function formatStatus(d: StatusDocument): string {
  const head = ['REPLICA', 'STATE', 'LAG', 'BACKLOG', 'LAST SUCCESS', 'FILES', 'BYTES', 'LAST ERROR'];
  const rows = d.replicas.map((r) => [
    r.replica,
    r.state,
    `${r.lagSec.toFixed(1)}s`,
    String(r.backlog),
    r.lastSuccessAt === undefined ? '-' : new Date(r.lastSuccessAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    String(r.filesSent),
    humanBytes(r.bytesSent),
    r.lastError === undefined ? '-' : `${r.lastErrorAt === undefined ? '' : `${new Date(r.lastErrorAt).toISOString().slice(11, 19)} `}${r.lastError.length > 120 ? `${r.lastError.slice(0, 119)}…` : r.lastError}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${d.source} (pid ${d.pid}, up ${Math.round((Date.now() - d.startedAt) / 1000)}s)\n${[head, ...rows].map((r) => `  ${line(r)}`).join('\n')}\n`;
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

async function verify(mirrors: Mirror[]): Promise<number> {
  try {
    let identical = true;
    for (const mirror of mirrors) {
      for (const r of await mirror.verify()) {
        if (r.identical) {
          process.stdout.write(`${r.replica}: identical\n`);
          continue;
        }
        identical = false;
        const count = r.differences.length + r.more;
        process.stdout.write(`${r.replica}: ${count} difference${count === 1 ? '' : 's'}\n`);
        for (const d of r.differences) process.stdout.write(`  ${d}\n`);
        if (r.more > 0) process.stdout.write(`  … and ${r.more} more\n`);
      }
    }
    return identical ? 0 : 1;
  } finally {
    await Promise.all(mirrors.map((m) => m.close()));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof MirrorError) process.stderr.write(`fam-mirror: ${err.message} (${err.code})\n`);
    else process.stderr.write(`fam-mirror: unexpected failure: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

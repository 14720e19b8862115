/**
 * The command line as data: argv, the environment and the files it names become what to run, or a
 * UsageError (exit 2) that says what was wrong. Pure: files are read through `host.files`. Which
 * flags exist, what they take and which command refuses them comes from the option table
 * (core/option-table.ts). Environment variables are read here and in main.ts only (INIT_MIRROR,
 * SSH_AUTH_SOCK, XDG_STATE_HOME, HOME; DEBUG by the debug package).
 */
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isMirrorError, MirrorError } from '../errors.js';
import type { MirrorOptions } from '../options.js';
import type { MirrorGroupOptions } from '../mirror-group.js';
import { flagRows, MARKER_COMMANDS, type Command, type CommandLine, type MarkerCommand, type OptionValue } from '../core/option-table.js';
import { parseWatchList, type WatchRoot } from '../core/watch-list.js';
import { suggest, withinOneEdit } from '../core/suggest.js';
import { commandWords } from '../core/command-table.js';
import { parseMetricsAddress } from './control.js';
import { LOG_FORMATS, type LogFormat } from './log-line.js';
import { loadConfig, readList, readListText, readPassphrase, type Files } from './config.js';

export class UsageError extends Error {}

export interface MirrorRun {
  command: 'mirror' | 'verify';
  /** The roots (SRC, or the lines of --watch-list) and the options they share. */
  group: MirrorGroupOptions;
  quiet: boolean;
  logFormat: LogFormat;
  metrics: string | undefined;
  onDown: string | undefined;
  onUp: string | undefined;
}

export interface StatusRun {
  command: 'status';
  stateDir: string;
  json: boolean;
}

/** fence, unfence or release: a marker at a replica root of this machine (cli/markers.ts). */
export interface MarkerRun {
  command: MarkerCommand;
  dir: string;
  reason: string | undefined;
}

export type Invocation = MirrorRun | StatusRun | MarkerRun | 'help' | 'version';

export interface CliHost {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The home directory when $HOME is unset. */
  homeDir: string;
  files: Files;
}

const PARSE_OPTIONS: ParseArgsConfig['options'] = Object.fromEntries(
  flagRows().map(({ cli }) => [
    cli.flag,
    { type: cli.arg === undefined ? 'boolean' : 'string', ...(cli.repeatable ? { multiple: true } : {}), ...(cli.short === undefined ? {} : { short: cli.short }) },
  ]),
);

export function parseCli(argv: readonly string[], host: CliHost): Invocation {
  const { env, cwd, files } = host;
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof PARSE_OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: PARSE_OPTIONS });
  } catch (e) {
    throw new UsageError(unknownOption(argv) ?? (e as Error).message);
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const one = (flag: string) => v[flag] as string | undefined;
  const many = (flag: string) => v[flag] as string[] | undefined;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const positionals = [...parsed.positionals];
  const command = takeCommand(positionals);
  for (const [option, given] of Object.entries(v)) {
    const why = given === undefined ? undefined : optionRefusal(command, option);
    if (why !== undefined) throw new UsageError(why);
  }
  if (isMarkerCommand(command)) return markerRun(command, positionals, cwd, one('reason'));
  if (command === 'status') {
    if (positionals.length > 0) {
      throw new UsageError(`status takes no SRC or REPLICA ("${positionals[0]}" given): it lists every mirror running under the state directory (--state-dir DIR)`);
    }
    return { command: 'status', stateDir: resolve(cwd, one('state-dir') ?? defaultStateDir(host)), json: v.json === true };
  }
  const config = loadConfig(one('config') === undefined ? undefined : resolve(cwd, one('config')!), files);
  const watched = readWatchList(one('watch-list'), cwd, files);
  // With a watch list every positional is a replica.
  const [source, ...replicas] = watched === undefined ? positionals : [watched[0]!.source, ...positionals];
  if (command === 'verify' && source === undefined && config.source === undefined) {
    throw new UsageError(`verify: missing SRC and REPLICA, the tree to compare and the replicas to compare it with${DIRECTORY_HINT}`);
  }
  if (source === undefined && config.source === undefined) throw new UsageError('missing SRC, the directory tree to mirror (or --watch-list FILE)');
  if (replicas.length === 0 && config.replicas === undefined) {
    if (command === 'verify') throw new UsageError(`verify: missing REPLICA: name at least one host or directory to compare ${source ?? config.source} with${DIRECTORY_HINT}`);
    throw new UsageError('missing REPLICA: name at least one host or directory to mirror to');
  }
  // The config file gives defaults; the command line overrides them key by key.
  const options = { ...config } as MirrorOptions;
  if (source !== undefined) options.source = resolve(cwd, source);
  if (replicas.length > 0) options.replicas = replicas.map((r) => localise(r, cwd));
  // INIT_MIRROR is about starting a mirror; verify only compares, whatever the environment says.
  if (command === 'mirror' && (v.init === true || isTruthy(env.INIT_MIRROR))) options.initMirror = true;
  for (const row of flagRows()) {
    const given = v[row.cli.flag];
    if (row.key === undefined || given === undefined || row.key === 'initMirror' || row.key === 'exclude' || row.key === 'passphrase') continue;
    // `--ssh-config none` reads no ssh config file (as `ssh -F none`).
    if (row.key === 'sshConfigFiles' && Array.isArray(given) && given.includes('none')) {
      options.sshConfigFiles = given.filter((f) => f !== 'none').map((f) => resolve(cwd, f));
      continue;
    }
    (options as unknown as Record<string, unknown>)[row.key] = flagValue(row, given, cwd);
  }
  const excludeFiles = (many('exclude-from') ?? []).flatMap((f) => readList(resolve(cwd, f), 'exclude file', files));
  const flagExcludes = [...excludeFiles, ...(many('exclude') ?? [])];
  // A config exclude that is no list is left as it is, for the library to refuse by name.
  if (flagExcludes.length > 0 && (options.exclude === undefined || Array.isArray(options.exclude))) options.exclude = [...(options.exclude ?? []), ...flagExcludes];
  const never = (many('never-from') ?? [])
    .flatMap((f) => readList(resolve(cwd, f), 'never-replicate list', files))
    .map((p) => {
      if (!p.startsWith('/')) throw new UsageError(`--never-from: "${p}" is not an absolute path`);
      return p.replace(/\/+$/, '');
    });
  if (one('passphrase-file') !== undefined) options.passphrase = readPassphrase(resolve(cwd, one('passphrase-file')!), files);
  if (one('state-dir') === undefined) options.stateDir ??= defaultStateDir(host);
  if (env.SSH_AUTH_SOCK) options.agent = env.SSH_AUTH_SOCK;
  if (one('metrics') !== undefined) parseMetricsAddress(one('metrics')!);
  const logFormat = one('log-format') ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new UsageError(`--log-format takes auto, plain or json, not "${logFormat}"`);
  if (watched === undefined && (typeof options.source !== 'string' || options.source === '')) {
    throw new MirrorError('ERR_OPTIONS', 'Option "source" must be a directory path.');
  }
  const { source: _source, ...shared } = options;
  const roots: WatchRoot[] = watched ?? [{ source: resolve(cwd, options.source), exclude: [] }];
  return {
    command,
    group: { ...shared, roots, never },
    quiet: v.quiet === true,
    logFormat: logFormat as LogFormat,
    metrics: one('metrics'),
    onDown: one('on-replica-down'),
    onUp: one('on-replica-up'),
  };
}

/**
 * Our message for the first option parseArgs does not know, with the nearest flag when one is near
 * (node's own message talks about positional arguments, which misleads); undefined when every
 * option is known (the error was another one).
 */
function unknownOption(argv: readonly string[]): string | undefined {
  const known = flagRows().map((row) => row.cli.flag);
  const takesValue = new Set(flagRows().flatMap((row) => (row.cli.arg === undefined ? [] : [row.cli.flag])));
  const shorts = new Set(flagRows().flatMap((row) => (row.cli.short === undefined ? [] : [row.cli.short])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0]!;
      // `--exclude -foo`: the next word is the value (parseArgs says what is wrong with it).
      if (takesValue.has(name) && !arg.includes('=')) i++;
      if (known.includes(name)) continue;
      const near = suggest(name, known);
      return `unknown option --${name}${near === undefined ? ALL_FLAGS : `: did you mean --${near}?`}`;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const letters = arg.slice(1);
      if ([...letters].every((c) => shorts.has(c))) continue;
      const near = letters.length > 1 ? suggest(letters, known) : undefined;
      return `unknown option ${arg}${near === undefined ? ALL_FLAGS : `: a long option takes two dashes: did you mean --${near}?`}`;
    }
  }
  return undefined;
}

const ALL_FLAGS = ' (fam-mirror --help lists them all)';

/** A library option given as a flag, checked as its row of the option table says. */
function flagValue(row: { cli: CommandLine & { flag: string }; value?: OptionValue }, given: string | string[] | boolean, cwd: string): unknown {
  if (typeof given === 'boolean') return given;
  if (Array.isArray(given)) return given.map((f) => resolve(cwd, f));
  const refuse = () => new UsageError(`--${row.cli.flag} takes ${row.cli.expects}, not "${given}"`);
  switch (row.value?.type) {
    case 'integer':
      if (!/^\d+$/.test(given) || Number(given) < row.value.min) throw refuse();
      return Number(given);
    case 'choice':
      if (!row.value.choices.includes(given)) throw refuse();
      return given;
    case 'path':
      return resolve(cwd, given);
    default:
      return given;
  }
}

function readWatchList(file: string | undefined, cwd: string, files: Files): WatchRoot[] | undefined {
  if (file === undefined) return undefined;
  let watched: WatchRoot[];
  try {
    watched = parseWatchList(readListText(resolve(cwd, file), 'watch list', files), cwd);
  } catch (e) {
    if (isMirrorError(e, 'ERR_WATCH_LIST')) throw new UsageError(e.message);
    throw e;
  }
  if (watched.length === 0) throw new UsageError(`the watch list ${file} names no directory`);
  return watched;
}

const COMMANDS: readonly string[] = commandWords();
const DIRECTORY_HINT = '\n(a directory named verify or status is given as ./verify or ./status)';
const MARKER_USAGE: Record<MarkerCommand, string> = {
  fence: 'fence DIR [--reason TEXT]: marks the replica DIR so that no master writes it',
  unfence: 'unfence DIR: lets masters write the replica DIR again',
  release: 'release DIR: forgets which master feeds the replica DIR, so another may',
};

function isMarkerCommand(command: Command): command is MarkerCommand {
  return (MARKER_COMMANDS as readonly string[]).includes(command);
}

/** fence/unfence/release DIR: one directory of this machine (run it on the replica's host). */
function markerRun(command: MarkerCommand, positionals: string[], cwd: string, reason: string | undefined): MarkerRun {
  if (positionals.length === 0) throw new UsageError(`${command}: missing DIR, the replica root (${MARKER_USAGE[command]})`);
  if (positionals.length > 1) throw new UsageError(`${command} takes one DIR, not ${positionals.length} (${MARKER_USAGE[command]})`);
  const dir = positionals[0]!;
  if (dir === '' || dir.includes('\0')) throw new UsageError(`${command}: DIR must be a directory path`);
  if (/^[^/]*:/.test(dir)) {
    throw new UsageError(`${command}: "${dir}" names a remote replica; run fam-mirror ${command} on that host with its local path (a local name with a colon is given as ./${dir})`);
  }
  return { command, dir: resolve(cwd, dir), reason };
}

/**
 * A first word that names a command is that command, whatever follows: a directory of that name is
 * written `./verify`. A command word anywhere else, or a near miss of one first, is refused, so a
 * mistyped command never starts a mirror (nor an --init pass that deletes on the replica).
 */
function takeCommand(positionals: string[]): Command {
  const first = positionals[0];
  if ((COMMANDS as readonly string[]).includes(first ?? '')) {
    positionals.shift();
  } else if (first !== undefined) {
    const near = COMMANDS.find((c) => withinOneEdit(first.toLowerCase(), c));
    if (near !== undefined) throw new UsageError(`unknown command "${first}": did you mean "${near}"? (a directory of that name is given as ./${first})`);
  }
  const misplaced = positionals.find((p) => (COMMANDS as readonly string[]).includes(p));
  if (misplaced !== undefined) {
    throw new UsageError(
      `"${misplaced}" is a command and goes first: fam-mirror ${misplaced} [options]${misplaced === 'verify' ? ' SRC REPLICA...' : ''} (a directory of that name is given as ./${misplaced}, a host as ${misplaced}:)`,
    );
  }
  return (COMMANDS as readonly string[]).includes(first ?? '') ? (first as Command) : 'mirror';
}

/**
 * Why an option means nothing for a command, or undefined when it applies. Refused rather than
 * ignored: whoever wrote it expects something (a seed, a JSON answer, an alert) that would not happen.
 */
function optionRefusal(command: Command, option: string): string | undefined {
  const cli = flagRows().find((row) => row.cli.flag === option)?.cli;
  if (cli === undefined) return undefined;
  if (command === 'verify' && cli.verifyRefusal !== undefined) return `--${option} does not apply to verify${cli.verifyRefusal}`;
  if ((cli.commands ?? ['mirror', 'verify']).includes(command)) return undefined;
  if (command === 'status') return `--${option} does not apply to status: it only lists the running mirrors (status [--json] [--state-dir DIR])`;
  if (isMarkerCommand(command)) return `--${option} does not apply to ${MARKER_USAGE[command]}`;
  const only = cli.commands?.[0] ?? 'status';
  return `--${option} applies to ${only} only (fam-mirror ${only} --${option})`;
}

/**
 * `./x`, `../x`, `.` and `..` are local directories, made absolute here so a watch list can nest
 * roots below them; anything else goes to the library as written (`dir/sub` is refused there: a
 * remote spec with its colon forgotten).
 */
function localise(spec: string, cwd: string): string {
  if (spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../')) return resolve(cwd, spec);
  return spec;
}

/** XDG Base Directory: state that should survive restarts but is not configuration. */
export function defaultStateDir(host: Pick<CliHost, 'env' | 'homeDir'>): string {
  const { env } = host;
  const base = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME ?? host.homeDir, '.local', 'state');
  return join(base, 'fam-mirror');
}

export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false' && value.toLowerCase() !== 'no';
}

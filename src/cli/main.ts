/**
 * The `fam-mirror` process: reads argv, the environment and the files, runs the command over a
 * MirrorGroup, and owns what belongs to a process: signals (SIGINT/SIGTERM stop, SIGHUP reloads),
 * the status socket and metrics server, and the exit code (0 done, 1 failed, 2 usage error).
 */
import { existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hashName } from '../sync/journal-format.js';
import { MirrorGroup } from '../mirror-group.js';
import { isMirrorError, MirrorError } from '../errors.js';
import { queryAll, serveMetrics, serveStatus, SOCKET_NAME } from './control.js';
import { parseCli, UsageError, type CliHost, type Invocation, type MirrorRun, type StatusRun } from './args.js';
import { describeReload, describeVerify, formatStatus, seedClaim, Terminal, type Output } from './format.js';
import { formatLogLine, isJournalStream, lineStyle, type LineStyle } from './log-line.js';
import { Logger } from './logger.js';
import { report } from './reporter.js';
import { markerCommand } from './markers.js';
import { usage } from './usage.js';

const files = { readText: (path: string) => readFileSync(path, 'utf8'), exists: existsSync, mode: (path: string) => statSync(path).mode };

function host(): CliHost {
  return { env: process.env, cwd: process.cwd(), homeDir: homedir(), files };
}

/** stderr is the journal (systemd's JOURNAL_STREAM names its device and inode). */
function stderrIsJournal(): boolean {
  let st: { dev: number; ino: number } | undefined;
  try {
    st = fstatSync(2);
  } catch {
    st = undefined;
  }
  return isJournalStream(process.env.JOURNAL_STREAM, st);
}

/**
 * stdout as the log writes it: once its reader is gone (EPIPE: `| head`, a closed pipe) nothing more
 * is written there. A one-shot command (status, verify) then simply ends: its reader took what it
 * wanted, as `git log | head` does; the mirror says it once (Logger.stdoutClosed) and goes on.
 */
const stdout: { open: boolean; onClosed: (e: NodeJS.ErrnoException) => void; output: Output } = {
  open: true,
  onClosed: (_e: NodeJS.ErrnoException) => {},
  output: {
    write: (text: string): unknown => stdout.open && process.stdout.write(text),
    isTTY: process.stdout.isTTY === true,
    get columns() {
      return process.stdout.columns;
    },
  } satisfies Output,
};

/** How a failure that ends the command is written: journald's prefix at once, the --log-format once parsed. */
let fatalStyle: LineStyle = 'plain';

/** Runs the command and sets the exit code; whatever fails is a message on stderr, never a crash. */
export function main(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    stdout.open = false;
    stdout.onClosed(e);
  });
  // Nowhere left to say anything: the exit code still tells.
  process.stderr.on('error', () => {});
  fatalStyle = lineStyle('auto', stderrIsJournal());
  run().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // The last word in the run's own format (JSON for a shipper, a priority for the journal), untimed.
      const style = fatalStyle === 'timestamped' ? 'plain' : fatalStyle;
      const line = (message: string, code?: string) => formatLogLine({ level: 'error', event: 'fatal', message, ...(code === undefined ? {} : { code }) }, new Date(), style);
      if (err instanceof MirrorError) process.stderr.write(line(`fam-mirror: ${err.message} (${err.code})`, err.code));
      else process.stderr.write(line(`fam-mirror: unexpected failure: ${(err as Error)?.stack ?? String(err)}`));
      process.exitCode = 1;
    },
  );
}

async function run(): Promise<number> {
  let cli: Invocation;
  try {
    cli = parseCli(process.argv.slice(2), host());
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fam-mirror: ${e.message}\nRun "fam-mirror --help" for usage.\n`);
      return 2;
    }
    throw e;
  }
  if (cli === 'help') {
    stdout.output.write(`${usage()}\n`);
    return 0;
  }
  if (cli === 'version') {
    stdout.output.write(`${version()}\n`);
    return 0;
  }
  if (cli.command === 'status') return await status(cli);
  if ('dir' in cli) {
    stdout.output.write(`fam-mirror: ${await markerCommand(cli.command, cli.dir, cli.reason, new Date())}\n`);
    return 0;
  }
  // One Mirror per watched root; one shared ssh connection per host among them.
  const group = new MirrorGroup(cli.group);
  if (cli.command === 'verify') return await verify(group);
  return await watch(group, cli);
}

async function watch(group: MirrorGroup, cli: MirrorRun): Promise<number> {
  const style = lineStyle(cli.logFormat, stderrIsJournal());
  fatalStyle = style;
  // Lines the terminal writes itself (progress without a terminal) take the same format.
  const term = new Terminal(stdout.output, Date.now, (message, at) => formatLogLine({ level: 'info', event: 'progress', message }, at, style));
  const quiet = cli.quiet;
  const log = new Logger(term, process.stderr, { style, quiet });
  stdout.onClosed = (e) => log.stdoutClosed(e);
  for (const mirror of group.mirrors) report(mirror, term, log, { onDown: cli.onDown, onUp: cli.onUp, env: process.env });
  // Keeps the event loop alive while watching; the watcher's native thread does not.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const servers: Array<{ close(): unknown }> = [];
  let stopping: Promise<void> | undefined;
  let stopSignal = '';
  const stopped = new Promise<void>((resolveStopped) => {
    const stop = (signal: string) => {
      if (stopping !== undefined) {
        log.warn('exit-now', `${signal} again, exiting without waiting for the batches in flight`);
        process.exit(130);
      }
      stopSignal = signal;
      log.info('stopping', `${signal}: finishing batches in flight and closing connections`);
      stopping = group.close().then(resolveStopped);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // SIGHUP: read the config and the command line again and apply the replica list.
    process.on('SIGHUP', () => {
      if (stopping !== undefined) return;
      void reload(group, log).catch((e: Error) =>
        log.error('reload-failed', `SIGHUP: reload failed, keeping the running setup: ${e.message}${isMirrorError(e) ? ` (${e.code})` : ''}`, isMirrorError(e) ? { code: e.code } : {}),
      );
    });
  });
  try {
    const first = group.mirrors[0]!.options;
    if (first.strictHostKeyChecking === 'no')
      log.warn('host-keys-unchecked', 'WARNING: host keys are not checked (--strict-host-key-checking no): anyone on the network path can impersonate a replica.');
    const started = Date.now();
    for (const mirror of group.mirrors) {
      const o = mirror.options;
      // "watching" is said only once it is true (the ready line); this one says what is being tried.
      log.info('starting', `starting ${o.source} → ${o.replicas.map((r) => r.id).join(', ')}${o.initMirror ? (o.dryRun ? ' (dry run: would seed first)' : ' (seeding first)') : ''}`);
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
    if (cli.metrics !== undefined) servers.push(await serveMetrics(cli.metrics, () => group.status()));
    const result = await group.start();
    const ready = Date.now() - started;
    log.info('ready', `${seedClaim(first, [result])}watching (ready in ${ready} ms)`, { ms: ready });
    await stopped;
    log.info('stopped', `stopped (${stopSignal}): the batches in flight finished, connections closed`);
    return 0;
  } catch (e) {
    await group.close().catch(() => {});
    // Stopped by a signal while starting or seeding: that is a clean stop, not a failure.
    if (stopping !== undefined && isMirrorError(e, 'ERR_CLOSED')) {
      log.info('stopped', `stopped (${stopSignal}) while starting: the batches in flight finished, connections closed`);
      return 0;
    }
    throw e;
  } finally {
    clearInterval(keepAlive);
    for (const server of servers) server.close();
  }
}

/** SIGHUP: the command line and its files read again, validated as at start-up, the replicas applied. */
async function reload(group: MirrorGroup, log: Logger): Promise<void> {
  const next = parseCli(process.argv.slice(2), host());
  if (typeof next === 'string' || next.command !== 'mirror') return;
  for (const line of describeReload(await group.reconfigure(next.group))) log.info('reloaded', line);
}

async function status(cli: StatusRun): Promise<number> {
  const docs = await queryAll(cli.stateDir);
  if (cli.json) {
    stdout.output.write(`${JSON.stringify(docs, null, 2)}\n`);
    return docs.length > 0 ? 0 : 1;
  }
  if (docs.length === 0) {
    stdout.output.write(`no running fam-mirror found under ${cli.stateDir} (give --state-dir if it uses another)\n`);
    return 1;
  }
  for (const d of docs) stdout.output.write(formatStatus(d, Date.now()));
  return 0;
}

async function verify(group: MirrorGroup): Promise<number> {
  try {
    let identical = true;
    // Root by root, each printed as soon as it is compared.
    for (const mirror of group.mirrors) {
      const results = await mirror.verify();
      if (results.some((r) => !r.identical)) identical = false;
      stdout.output.write(describeVerify(results));
    }
    return identical ? 0 : 1;
  } finally {
    await group.close();
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

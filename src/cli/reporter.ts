/**
 * The command's default output for one Mirror: a log line per batch and per replica going down or
 * coming back, progress bars, a dry run's plan, and the operator's alert commands
 * (--on-replica-down / --on-replica-up).
 */
import { execFile } from 'node:child_process';
import type { Mirror } from '../mirror.js';
import type { ReplicaStateEvent } from '../types.js';
import { MirrorError } from '../errors.js';
import { codeVerdict } from '../core/error-verdicts.js';
import { repairedSample } from '../sync/drift.js';
import { describeCheck, describeFullPass, describeRepaired, describeRestartBacklog, describeSynced, type Terminal } from './format.js';
import { describePlanned, handCommand } from './dry-run.js';
import type { Logger } from './logger.js';

export interface ReportOptions {
  onDown: string | undefined;
  onUp: string | undefined;
  /** The environment alert commands inherit. */
  env: Readonly<Record<string, string | undefined>>;
}

export function report(mirror: Mirror, term: Terminal, log: Logger, opts: ReportOptions): void {
  const { quiet } = log;
  if (mirror.options.dryRun) {
    mirror.on('planned', (e) => {
      const { line, details } = describePlanned(e, handCommand(e, mirror.options, opts.env.HOME ?? ''));
      log.info('planned', line, { replica: e.replica, ...(e.paths === 'full' ? {} : { paths: e.paths.length }) });
      if (!quiet) term.write(details);
    });
  }
  // One message per failure: the check's line, the replica going down and the mirror's 'error'
  // event are one failure when they carry the same error; a changed error is said again.
  const said = new Map<string, string>();
  const sameAsSaid = (replica: string | undefined, err: Pick<MirrorError, 'code' | 'message'> | undefined) => {
    const key = err === undefined ? undefined : `${err.code} ${err.message}`;
    if (key === undefined) return false;
    if (replica === undefined) return [...said.values()].includes(key);
    if (said.get(replica) === key) return true;
    said.set(replica, key);
    return false;
  };
  const alert = (cmd: string | undefined, event: string) => (e: ReplicaStateEvent) => {
    if (cmd === undefined) return;
    // The operator's command runs through sh; the replica's data reaches it only as environment values.
    const env = {
      ...opts.env,
      FAM_MIRROR_EVENT: event,
      FAM_MIRROR_REPLICA: e.replica,
      FAM_MIRROR_SOURCE: mirror.options.source,
      FAM_MIRROR_STATE: mirror.status().find((r) => r.replica === e.replica)?.state ?? '',
      FAM_MIRROR_ERROR: e.error?.message ?? '',
      FAM_MIRROR_ERROR_CODE: e.error?.code ?? '',
    };
    execFile('/bin/sh', ['-c', cmd], { env, timeout: 60_000 }, (err) => {
      if (err) log.warn('alert-failed', `--on-${event} command failed: ${err.message}`, { replica: e.replica });
    });
  };
  mirror.on('replica-checked', (e) => {
    const line = describeCheck(e);
    if (line === undefined) return;
    if (e.error === undefined) log.info('replica-ready', line, { replica: e.replica });
    else if (!sameAsSaid(e.replica, e.error)) log.error('replica-check-failed', line, { replica: e.replica, code: e.error.code });
  });
  mirror.on('restart-backlog', (e) => log.log({ level: e.cleared ? 'info' : 'warn', event: 'restart-backlog', message: describeRestartBacklog(e), replica: e.replica, paths: e.changes }));
  mirror.on('replica-down', alert(opts.onDown, 'replica-down'));
  mirror.on('replica-up', alert(opts.onUp, 'replica-up'));
  // replica-down fires when an up replica goes down. One already down that now needs a human (fenced,
  // owned by another master, a changed host key) gets the down alert again, once per code.
  const failedAs = new Map<string, string>();
  mirror.on('replica-down', (e) => failedAs.set(e.replica, e.error?.code ?? ''));
  mirror.on('replica-up', (e) => failedAs.delete(e.replica));
  mirror.on('problem', (p) => {
    if (codeVerdict(p.code) !== 'needs-a-human' || failedAs.get(p.replica) === p.code) return;
    if (mirror.status().find((r) => r.replica === p.replica)?.state !== 'failed') return;
    failedAs.set(p.replica, p.code);
    alert(opts.onDown, 'replica-down')({ replica: p.replica, error: new MirrorError(p.code, p.message) });
  });
  // A dry run's rsync sends nothing: its progress would be noise.
  if (!quiet && !mirror.options.dryRun) mirror.on('progress', (e) => term.progress(e));
  mirror.on('synced', (e) => {
    term.done(e.replica);
    // A dry run sent nothing: its 'planned' line above already says what would have been.
    if (mirror.options.dryRun) return;
    const fields = { replica: e.replica, paths: e.paths, bytes: e.bytes, ms: e.durationMs };
    if (!e.full) log.info('synced', describeSynced(e), fields);
    // A drift pass is said by its 'repaired' event below, once.
    else if (e.reason !== 'drift-startup' && e.reason !== 'drift-periodic') {
      const repaired = e.changed ?? 0;
      const sample = repairedSample(e.sample ?? []);
      log.info('full-pass', describeFullPass(e), {
        replica: e.replica,
        bytes: e.bytes,
        ms: e.durationMs,
        ...(e.reason === undefined ? {} : { reason: e.reason }),
        repaired,
        ...(repaired > 0 ? { sample } : {}),
      });
    }
  });
  // A repair is news even in quiet mode (a warning: something changed the replica behind the mirror's back).
  mirror.on('repaired', (e) => {
    log.log({
      level: e.repaired > 0 ? 'warn' : 'info',
      event: 'drift-pass',
      message: describeRepaired(e),
      replica: e.replica,
      reason: e.reason,
      repaired: e.repaired,
      ...(e.repaired > 0 ? { sample: e.sample } : {}),
    });
  });
  mirror.on('replica-down', (e) => {
    if (!sameAsSaid(e.replica, e.error))
      log.error('replica-down', `replica ${e.replica} is down: ${e.error === undefined ? 'unknown error' : `${e.error.message} (${e.error.code})`}`, {
        replica: e.replica,
        ...(e.error === undefined ? {} : { code: e.error.code }),
      });
  });
  mirror.on('replica-up', (e) => {
    said.delete(e.replica);
    log.info('replica-up', `replica ${e.replica} is back up`, { replica: e.replica });
  });
  mirror.on('problem', (e) => {
    const fields = { replica: e.replica, code: e.code };
    if (e.code === 'ERR_HOST_KEY_UNCHECKED') log.warn('host-key-unchecked', `WARNING: ${e.message}`, fields);
    else if (e.code === 'ERR_RSYNC' && e.exitCode === 23) log.warn('problem', `problem on ${e.replica}: ${e.message}`, fields);
    else if (e.code === 'ERR_STATE_DAMAGED') log.warn('state-damaged', `WARNING: ${e.message}`, fields);
    else if (e.code === 'ERR_STATE_UNCLEAN') log.info('state-unclean', e.message, fields);
    else {
      // A replica already down or failed whose retry failed another way: said once per change.
      const state = mirror.status().find((r) => r.replica === e.replica)?.state;
      if ((state === 'down' || state === 'failed') && !sameAsSaid(e.replica, e)) log.error('replica-still-down', `replica ${e.replica} is still ${state}: ${e.message} (${e.code})`, fields);
    }
  });
  mirror.on('error', (err) => {
    if (!sameAsSaid(undefined, err)) log.error('error', `error: ${err.message} (${err.code})`, { code: err.code });
  });
  mirror.on('warning', (w) => log.warn('warning', `WARNING: ${w.message} (${w.code})`, { code: w.code }));
}

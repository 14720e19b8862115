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
import { describeCheck, describeRepaired, describeRestartBacklog, describeSynced, type Terminal } from './format.js';
import { describePlanned, handCommand } from './dry-run.js';

export interface ReportOptions {
  quiet: boolean;
  onDown: string | undefined;
  onUp: string | undefined;
  /** The environment alert commands inherit. */
  env: Readonly<Record<string, string | undefined>>;
}

export function report(mirror: Mirror, term: Terminal, opts: ReportOptions): void {
  const { quiet } = opts;
  if (mirror.options.dryRun) {
    mirror.on('planned', (e) => {
      const { line, details } = describePlanned(e, handCommand(e, mirror.options, opts.env.HOME ?? ''));
      term.log(line);
      term.write(details);
    });
  }
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
      if (err) term.log(`--on-${event} command failed: ${err.message}`);
    });
  };
  mirror.on('replica-checked', (e) => {
    const line = describeCheck(e);
    if (line !== undefined) term.log(line);
  });
  mirror.on('restart-backlog', (e) => term.log(describeRestartBacklog(e)));
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
    if (quiet || mirror.options.dryRun) return;
    term.log(describeSynced(e));
  });
  // A repair is news even in quiet mode; a pass that found nothing is one line, only when not quiet.
  mirror.on('repaired', (e) => {
    if (e.repaired > 0 || !quiet) term.log(describeRepaired(e));
  });
  mirror.on('replica-down', (e) => term.log(`replica ${e.replica} is down: ${e.error?.message ?? 'unknown error'}`));
  mirror.on('replica-up', (e) => term.log(`replica ${e.replica} is back up`));
  mirror.on('problem', (e) => {
    if (e.code === 'ERR_HOST_KEY_UNCHECKED') term.log(`WARNING: ${e.message}`);
    else if (e.code === 'ERR_RSYNC' && e.exitCode === 23) term.log(`problem on ${e.replica}: ${e.message}`);
    else if (e.code === 'ERR_STATE_DAMAGED') term.log(`WARNING: ${e.message}`);
    else if (e.code === 'ERR_STATE_UNCLEAN' && !quiet) term.log(e.message);
  });
  mirror.on('warning', (w) => term.log(`WARNING: ${w.message} (${w.code})`));
  mirror.on('error', (err) => term.log(`error: ${err.message} (${err.code})`));
}

/**
 * Runs one batch for one replica: probe → plan → rsync argv → transport → verdict. Every failure
 * becomes a verdict with a MirrorError, never a throw that could stop the lane (docs/internals.md, invariant 4).
 */
import createDebug from 'debug';
import type { Batch } from '../core/coalesce.js';
import { MirrorError } from '../errors.js';
import type { BatchOutcome, ExecuteOptions } from './outcome.js';
import { compileExcludes, type PathFilter } from '../core/filter.js';
import { HardLinks } from './hard-links.js';
import { pairRenames, planBatch, type Plan, type Probe } from '../core/plan.js';
import { probePaths, probeRoot } from './probe.js';
import { guardPlan } from '../core/guard.js';
import { codeVerdict } from '../core/error-verdicts.js';
import { buildRsyncCalls } from '../rsync/args.js';
import { classifyExit, createdItem, problemPaths, emptyTally, parsePathProblems, parseProgress, tallyItem } from '../rsync/output.js';
import type { RsyncRun, Transport } from '../transport/transport.js';
import type { NormalizedOptions } from '../options.js';
import type { FullPassReason, PlannedEvent, ProblemEvent, ProgressEvent, SyncedEvent } from '../types.js';
import { guardRefusal } from '../core/replica-guard.js';
import { GuardState } from './replica-refusal.js';
import type { GuardMemory } from './guard-memory.js';
import { tryFastPath } from './fast-batch.js';

const debug = createDebug('fam-mirror:sync');
/** At most this often a 'progress' event per replica (the last, every file checked, always goes out). */
const PROGRESS_EVERY_MS = 250;
/** At most this many created-by-recursion paths are handed on per batch. */
const MAX_UNNAMED = 10_000;

export interface BatchRunnerDeps {
  options: NormalizedOptions;
  /** The replica's endpoint: its connect() runs first, so connect-time failures get their own code and verdict. */
  transport: Transport;
  /** The mirror's exclude rule file (rsync/exclude-file.ts), undefined without excludes. */
  excludeFile: string | undefined;
  /** Global cap on rsyncs in flight (p-limit). */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The cap of background passes (drift repair); `limit` when absent. */
  backgroundLimit?: <T>(fn: () => Promise<T>) => Promise<T>;
  onSynced(event: SyncedEvent): void;
  onProblem(event: ProblemEvent): void;
  onPlanned(event: PlannedEvent): void;
  onProgress(event: ProgressEvent): void;
  /** Files and directories rsync created below a listed directory: no event named them (see watch/sweep.ts). */
  onSentUnnamed?(paths: string[]): void;
  /** The source's hard-link index, shared by every replica's batch runner (one walk serves them all). */
  links?: HardLinks;
  /** The compiled exclude rules, shared by every replica's batch runner (compiled here when absent). */
  excluded?: PathFilter;
  /**
   * The replica's root or owner record vanished after this master seeded it: queue a journaled full
   * pass of this replica (core/reconcile-triggers.ts, target-emptied). Without it, the batch retries.
   */
  onReseed?(reason: string): void;
  /** Where the guard keeps what it learned across restarts (sync/guard-memory.ts); in memory only without it. */
  guardMemory?: GuardMemory;
  /** Why the live full pass queued with this seq runs (sync/fanout.ts); undefined: resumed from the journal. */
  fullReason?(seq: number): FullPassReason | undefined;
}

export function makeBatchRunner(deps: BatchRunnerDeps): (batch: Batch, opts?: ExecuteOptions) => Promise<BatchOutcome> {
  const once = makeOneTry(deps);
  return async (batch, opts = {}) => {
    const first = await once(batch, opts);
    if (first.aborted === true || first.verdict !== 'partial' || first.problems === undefined || first.problems.length === 0 || deps.options.dryRun) return first;
    // rsync also names a path that vanished or changed type while it ran ("Not a directory"): a
    // second look, probed and planned afresh, settles those at once, so only what fails again is a
    // problem of the replica.
    const seqOf = new Map(batch.entries);
    let oldest = batch.fullSeq ?? Infinity;
    for (const [, seq] of batch.entries) if (seq < oldest) oldest = seq;
    const again = await once({ entries: first.problems.map((p): [string, number] => [p, seqOf.get(p) ?? oldest]), fullSeq: undefined }, opts);
    if (again.verdict === 'ok' || (again.verdict === 'partial' && again.problems !== undefined)) return again;
    return first;
  };
}

function makeOneTry(deps: BatchRunnerDeps): (batch: Batch, opts: ExecuteOptions) => Promise<BatchOutcome> {
  const { options, transport } = deps;
  const replica = transport.replica;
  const log = debug.extend(replica.id);
  const excluded = deps.excluded ?? compileExcludes(options.exclude);
  const links = deps.links ?? new HardLinks(options.source, excluded);
  const guardState = new GuardState(transport, options, deps.guardMemory);
  return async (batch, { signal, background, reason: given }) => {
    const started = Date.now();
    const limit = background === true ? (deps.backgroundLimit ?? deps.limit) : deps.limit;
    let probes = new Map<string, Probe>();
    if (batch.fullSeq === undefined) {
      probes = await probePaths(
        options.source,
        batch.entries.map(([p]) => p),
      );
      batch = await withOtherLinks(batch, probes, links, options.source);
    }
    const plan = planBatch(batch, probes, excluded);
    if (plan.kind === 'none') return { verdict: 'ok' };
    const held = guardPlan(plan, await probeRoot(options.source), options.source, options.allowEmptySource);
    if (held !== undefined) return { verdict: 'retry', error: held };
    try {
      await transport.connect();
    } catch (e) {
      const error = e instanceof MirrorError ? e : new MirrorError('ERR_SSH_CONNECT', `${replica.id}: ${(e as Error).message}`, { cause: e });
      // A connect failure retrying cannot fix (core/error-verdicts.ts) is fatal; the lane still retries it slowly.
      return { verdict: codeVerdict(error.code) === 'needs-a-human' ? 'fatal' : 'retry', error };
    }
    const guard = await guardState.spec(plan.kind === 'full');
    const fast = await tryFastPath(transport, options, plan, guard, log);
    if (fast.kind === 'done') {
      guardState.seeded = true;
      const durationMs = Date.now() - started;
      log('fast %d paths in %d ms', listedCount(plan), durationMs);
      deps.onSynced({ replica: replica.id, paths: listedCount(plan), deleted: plan.kind === 'paths' ? plan.deleted : 0, full: false, durationMs, files: fast.files, bytes: fast.bytes, fast: true });
      return { verdict: 'ok' };
    }
    const renames = options.dryRun ? [] : pairRenames(batch, probes, plan);
    if (renames.length > 0) {
      await transport.move(renames, guard).catch((e: Error) => log('moves skipped: %s', e.message));
      log('moved %d renamed directories on the replica', renames.length);
    }
    // Full passes are itemized: on a replica that was in step, every line is a change the events missed.
    const tally = emptyTally();
    const keep = options.dryRun ? 200 : plan.kind === 'full' ? 20 : 0;
    let lastProgressAt = 0;
    let lastSent = false;
    const listed = plan.kind === 'paths' ? new Set(plan.paths) : undefined;
    const unnamed: string[] = [];
    // rsync's own changes (its progress records interleave with them): the drift pass reports the first.
    const items: string[] = [];
    const onLine = (line: string) => {
      const progress = parseProgress(line);
      if (progress === undefined) {
        if (listed !== undefined && unnamed.length < MAX_UNNAMED) {
          const created = createdItem(line);
          if (created !== undefined && !listed.has(created)) unnamed.push(created);
        }
        if (items.length < keep && /^\S+\s+\d+ /.test(line)) items.push(line);
        return tallyItem(tally, line);
      }
      const now = Date.now();
      // rsync prints 100 % for every file checked after the last byte went: only the record that
      // checks the last file of a complete list is let through early, once.
      const last = progress.listComplete === true && progress.filesDone === progress.filesTotal;
      if (now - lastProgressAt < PROGRESS_EVERY_MS && !(last && !lastSent)) return;
      lastSent ||= last;
      lastProgressAt = now;
      deps.onProgress({ replica: replica.id, ...progress, filesSent: tally.files });
    };
    const sample: string[] = [];
    // The calls of one plan run in order; the first that does not succeed decides the batch.
    let run: RsyncRun = fast.kind === 'refused' ? fast.run : { exitCode: 0, stderr: '' };
    // Paths rsync could not handle (exit 23 naming them): the rest of the batch still counts.
    const problems = new Set<string>();
    let partial: RsyncRun | undefined;
    for (const call of fast.kind === 'refused' ? [] : buildRsyncCalls(plan, transport.target, { source: options.source, excludeFile: deps.excludeFile, timeoutSec: options.timeoutSec })) {
      const args = options.dryRun ? ['--dry-run', ...call.args] : call.args;
      const before = { ...tally };
      // Aborted while it waited for its turn: it does not start at all (exit 20, as rsync's on a signal).
      run = await limit(() => (signal?.aborted === true ? Promise.resolve({ exitCode: 20, stderr: '' }) : transport.rsync(args, call.stdin, { maxLines: keep, onLine, signal, guard })));
      if (signal?.aborted === true) return { verdict: 'retry', aborted: true };
      if (guardRefusal(run.exitCode) !== undefined) break;
      sample.push(...(run.lines ?? []));
      if (options.dryRun && classifyExit(run.exitCode) === 'ok') {
        // rsync's progress records share stdout with its itemized lines: they are not changes.
        const items = (run.lines ?? []).filter((line) => parseProgress(line) === undefined);
        deps.onPlanned({
          replica: replica.id,
          args: call.args,
          paths: call.paths,
          items,
          changes: tally.changed - before.changed,
          files: tally.files - before.files,
          deletions: tally.deleted - before.deleted,
        });
      }
      const named = classifyExit(run.exitCode) === 'partial' ? problemPaths(run.stderr, options.source, replica.path) : undefined;
      if (named !== undefined) {
        for (const p of named) problems.add(p);
        partial = run;
        run = { ...run, exitCode: 0 };
        continue;
      }
      if (classifyExit(run.exitCode) !== 'ok') break;
    }
    const refusal = guardRefusal(run.exitCode);
    if (refusal === 'reseed') {
      guardState.seeded = false;
      if (deps.onReseed === undefined)
        return { verdict: 'retry', error: new MirrorError('ERR_TARGET_EMPTIED', `${replica.id}: its root or owner record vanished.`, { host: transport.host, path: replica.path }) };
      // The full pass queued for this replica stands for this batch and everything before it.
      deps.onReseed('vanished or lost its owner record');
      return { verdict: 'ok' };
    }
    if (refusal !== undefined) return { verdict: 'fatal', error: guardState.refusalError(refusal, run.stderr, run.exitCode) };
    if (partial !== undefined && classifyExit(run.exitCode) === 'ok') run = partial;
    if (unnamed.length > 0) deps.onSentUnnamed?.(unnamed);
    const verdict = classifyExit(run.exitCode);
    const durationMs = Date.now() - started;
    const paths = listedCount(plan);
    log('%s %d paths exit %d in %d ms', plan.kind, paths, run.exitCode, durationMs);
    if (verdict === 'ok' || verdict === 'partial') guardState.seeded = !options.dryRun;
    if (verdict === 'ok') {
      const event: SyncedEvent = { replica: replica.id, paths, deleted: plan.kind === 'full' ? 0 : plan.deleted, full: plan.kind === 'full', durationMs, files: tally.files, bytes: tally.bytes };
      if (plan.kind === 'full') {
        event.changed = tally.changed;
        event.sample = sample;
        event.reason = given ?? (batch.fullSeq === undefined ? undefined : deps.fullReason?.(batch.fullSeq)) ?? 'resumed';
      }
      deps.onSynced(event);
      return plan.kind === 'full' ? { verdict, changed: tally.changed, sample: items } : { verdict };
    }
    // Per-path trouble is data, not a failed batch: one problem event per path rsync named.
    for (const p of parsePathProblems(run.stderr)) {
      deps.onProblem({ replica: replica.id, code: 'ERR_RSYNC_PATH', path: p.path, message: p.message, exitCode: run.exitCode });
    }
    const reason = lastLines(run.stderr, 6);
    if (verdict === 'partial' && problems.size > 0) {
      const why = plan.kind === 'full' ? { reason: given ?? (batch.fullSeq === undefined ? undefined : deps.fullReason?.(batch.fullSeq)) ?? 'resumed' } : {};
      deps.onSynced({ replica: replica.id, paths, deleted: plan.kind === 'full' ? 0 : plan.deleted, full: plan.kind === 'full', durationMs, files: tally.files, bytes: tally.bytes, ...why });
      return {
        verdict,
        ...(plan.kind === 'full' ? { changed: tally.changed, sample: items } : {}),
        problems: [...problems],
        error: new MirrorError(
          'ERR_RSYNC_PATH',
          `rsync to ${replica.id} could not handle ${problems.size} path${problems.size === 1 ? '' : 's'} (exit ${run.exitCode}): ${reason}. The rest is in step; these are retried every ${Math.round(options.retryMaxMs / 1000)} s until the cause is fixed.`,
          {
            host: transport.host,
            path: replica.path,
            exitCode: run.exitCode,
            stderr: run.stderr,
          },
        ),
      };
    }
    const code = verdict === 'fatal' ? 'ERR_RSYNC_FATAL' : 'ERR_RSYNC';
    const advice = verdict === 'fatal' ? 'Fix the replica setup (is rsync installed there? is the target path right?); the lane retries slowly.' : 'Retrying with backoff.';
    return {
      verdict,
      error: new MirrorError(code, `rsync to ${replica.id} exited with code ${run.exitCode}${reason ? `: ${reason}` : ''}. ${advice}`, {
        host: transport.host,
        path: replica.path,
        exitCode: run.exitCode,
        stderr: run.stderr,
      }),
    };
  };
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** Paths listed to rsync over all calls of a plan (0 for a full pass). */
function listedCount(plan: Exclude<Plan, { kind: 'none' }>): number {
  if (plan.kind === 'full') return 0;
  return plan.paths.length + (plan.recheck?.length ?? 0) + (plan.shallow?.length ?? 0);
}

/**
 * The batch plus every other name of each hard-linked file it names (hard-links.ts), probed like the
 * rest: inotify reports a write under the name written to only.
 */
async function withOtherLinks(batch: Batch, probes: Map<string, Probe>, links: HardLinks, root: string): Promise<Batch> {
  const multi: string[] = [];
  let seq = 0;
  for (const [p, s] of batch.entries) {
    seq = Math.max(seq, s);
    const probe = probes.get(p);
    if (probe?.exists !== true || probe.listAs !== p) continue;
    if (probe.isDir === true) links.directoryChanged(s);
    else if (probe.isFile === true && (probe.links ?? 1) > 1) multi.push(p);
  }
  if (multi.length === 0) return batch;
  let others: string[];
  try {
    others = (await links.otherNames(multi, seq)).filter((p) => !probes.has(p));
  } catch (e) {
    debug('hard links of %d files not looked up: %s', multi.length, (e as Error).message);
    return batch;
  }
  if (others.length === 0) return batch;
  for (const [p, probe] of await probePaths(root, others)) probes.set(p, probe);
  return { ...batch, entries: [...batch.entries, ...others.map((p): [string, number] => [p, seq])] };
}

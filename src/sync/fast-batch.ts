/**
 * The batch runner's fast path (core/fast-path.ts decides, the transport applies): a batch it takes
 * ends as `done` (the replica has it, as rsync would have made it), `refused` by the replica guard
 * (handled exactly as rsync's refusal), or `rsync`: the runner goes on with rsync for the whole
 * batch, so a fast path that cannot finish never loses a change.
 */
import type createDebug from 'debug';
import { decideFastPath, rsyncByShape } from '../core/fast-path.js';
import type { Plan } from '../core/plan.js';
import type { GuardSpec } from '../core/replica-guard.js';
import type { NormalizedOptions } from '../options.js';
import type { RsyncRun, Transport } from '../transport/transport.js';
import { readSourceEntries } from './fast-source.js';

export type FastTry = { kind: 'done'; files: number; bytes: number } | { kind: 'refused'; run: RsyncRun } | { kind: 'rsync' };

export async function tryFastPath(transport: Transport, options: NormalizedOptions, plan: Plan, guard: GuardSpec | undefined, log: createDebug.Debugger): Promise<FastTry> {
  if (plan.kind !== 'paths' || options.dryRun || !options.fastPath || transport.apply === undefined || transport.fastCaps === undefined) return { kind: 'rsync' };
  if (rsyncByShape(plan) !== undefined) return { kind: 'rsync' };
  try {
    const caps = await transport.fastCaps();
    if (caps === undefined) return { kind: 'rsync' };
    const entries = await readSourceEntries(options.source, [...plan.paths, ...(plan.recheck ?? [])]);
    const decision = decideFastPath({ plan, entries, caps, excludes: options.exclude.length > 0 });
    if (decision.kind === 'rsync') {
      log('rsync: %s', decision.reason);
      return { kind: 'rsync' };
    }
    const result = await transport.apply(decision.batch, guard);
    if (result.kind === 'refused') return { kind: 'refused', run: { exitCode: result.exitCode, stderr: result.stderr } };
    if (result.kind === 'rsync') {
      log('fast path left to rsync: %s', result.reason);
      return { kind: 'rsync' };
    }
    const files = decision.batch.ops.filter((op) => op.kind === 'write').length;
    return { kind: 'done', files, bytes: decision.batch.bytes };
  } catch (e) {
    log('fast path failed, rsync instead: %s', (e as Error).message);
    return { kind: 'rsync' };
  }
}

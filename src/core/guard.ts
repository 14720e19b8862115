/**
 * The replica root is sacred (docs/internals.md, invariant 7). Pure: decides from facts about the source
 * root whether a plan may run. A source root that vanished, or that is empty while the plan would
 * delete (an unmounted disk leaves an empty mount point), would wipe the replicas: such a plan is
 * held back, and the lane retries with backoff until the root is back or the operator allows an
 * empty source.
 */
import { MirrorError } from '../errors.js';
import type { Plan } from './plan.js';

export interface RootFacts {
  exists: boolean;
  /** Entries directly in the root (0 = empty). */
  entries: number;
}

export function guardPlan(plan: Plan, root: RootFacts, source: string, allowEmptySource: boolean): MirrorError | undefined {
  if (plan.kind === 'none') return undefined;
  if (!root.exists) {
    return new MirrorError('ERR_SOURCE_VANISHED', `Source ${source} has vanished; nothing is sent or deleted until it is back (is its disk unmounted?).`, { path: source });
  }
  const deletes = plan.kind === 'full' || plan.deleted > 0;
  if (root.entries === 0 && deletes && !allowEmptySource) {
    return new MirrorError(
      'ERR_SOURCE_EMPTY',
      `Source ${source} is empty: mirroring it would delete everything on the replicas, so the replicas are left alone. Mount or restore the source; if it is meant to be empty, set allowEmptySource (--allow-empty-source).`,
      { path: source },
    );
  }
  return undefined;
}

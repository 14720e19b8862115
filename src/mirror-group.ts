/**
 * Several watched roots mirrored to the same replicas, as the CLI's `--watch-list` does: one Mirror
 * per root, all sharing one ssh connection per host (a ConnectionPool), started, flushed, verified,
 * reconfigured and closed together. Where each root lands on a replica and how never-replicate paths
 * and per-root excludes become options is core/watch-list.ts.
 */
import { resolve } from 'node:path';
import { Mirror, type FlushOptions, type FlushResult, type StartResult } from './mirror.js';
import { MirrorError } from './errors.js';
import type { MirrorOptions } from './options.js';
import { rootOptions, type WatchRoot } from './core/watch-list.js';
import { ConnectionPool } from './transport/pool.js';
import type { MirrorEvents, ReplicaStatus, VerifyResult } from './types.js';

export interface MirrorGroupOptions extends Omit<MirrorOptions, 'source'> {
  /** The watched roots: a directory, or `{ source, exclude }` with excludes of that root only. */
  roots: Array<string | { source: string; exclude?: string[] }>;
  /** Absolute paths never watched, sent or deleted (anchored excludes of the root they are in). */
  never?: string[];
}

/** What reconfigure() did, per root; the roots themselves cannot change on a running group. */
export interface GroupReconfigureResult {
  /** The new options name other roots than the running ones (they keep running as they are). */
  rootsChanged: boolean;
  roots: Array<{ source: string; added: string[]; removed: string[]; restartNeeded: string[] }>;
}

export class MirrorGroup {
  readonly #mirrors: readonly Mirror[];

  /**
   * Validates the options of every root as `new Mirror()` does (a MirrorError names what is wrong)
   * and creates one Mirror per root; nothing starts before start(). `shared.pool` may be shared
   * further, with other groups or mirrors (internal: kept out of the published types).
   */
  constructor(options: MirrorGroupOptions);
  /** @internal */
  constructor(options: MirrorGroupOptions, shared: { pool?: ConnectionPool });
  constructor(options: MirrorGroupOptions, shared: { pool?: ConnectionPool } = {}) {
    const pool = shared.pool ?? new ConnectionPool();
    this.#mirrors = Object.freeze(perRoot(options).map((o) => new Mirror(o, { pool })));
  }

  /** One Mirror per root, in the order of `roots` (for per-root events, options and status). */
  get mirrors(): readonly Mirror[] {
    return this.#mirrors;
  }

  /** Listens to an event of every root's Mirror; the listener also gets the Mirror it came from. */
  on<E extends keyof MirrorEvents>(event: E, listener: (...args: [...MirrorEvents[E], Mirror]) => void): this {
    for (const mirror of this.#mirrors) {
      (mirror.on as (e: E, l: (...args: MirrorEvents[E]) => void) => Mirror)(event, (...args) => listener(...args, mirror));
    }
    return this;
  }

  /** Starts every root; a failed start of one closes them all (nothing is left watching). */
  async start(): Promise<StartResult> {
    try {
      const results = await Promise.all(this.#mirrors.map((m) => m.start()));
      return { seeded: results.flatMap((r) => r.seeded), unseeded: results.flatMap((r) => r.unseeded), failed: results.flatMap((r) => r.failed) };
    } catch (e) {
      await this.close().catch(() => {});
      throw e;
    }
  }

  /** Resolves when every root's replicas have every change seen before the call (see Mirror.flush). */
  async flush(opts: FlushOptions = {}): Promise<FlushResult> {
    const results = await Promise.all(this.#mirrors.map((m) => m.flush(opts)));
    return { complete: results.every((r) => r.complete), behind: results.flatMap((r) => r.behind), problems: results.flatMap((r) => r.problems) };
  }

  status(): ReplicaStatus[] {
    return this.#mirrors.flatMap((m) => m.status());
  }

  /** Compares every root with its replicas by checksum, one root after the other; changes nothing. */
  async verify(): Promise<VerifyResult[]> {
    const out: VerifyResult[] = [];
    for (const mirror of this.#mirrors) out.push(...(await mirror.verify()));
    return out;
  }

  /** Queues a full pass of every root to every replica. */
  reconcile(): void {
    for (const mirror of this.#mirrors) mirror.reconcile();
  }

  /**
   * Applies new options to the running roots (what the CLI does on SIGHUP), each validated as the
   * constructor does, all before any is applied: bad options throw and change nothing. The replica
   * list changes live; every other option that differs is named in `restartNeeded`, as are changed roots.
   */
  async reconfigure(options: MirrorGroupOptions): Promise<GroupReconfigureResult> {
    const wanted = normalizeGroup(options);
    const running = this.#mirrors.map((m) => m.options.source);
    const rootsChanged = wanted.roots.map((r) => r.source).join('\n') !== running.join('\n');
    const next = running.map((source) => rootOptions(wanted.shared, wanted.roots, wanted.never, source, process.cwd()));
    for (const o of next) Mirror.checkOptions(o);
    const roots: GroupReconfigureResult['roots'] = [];
    for (const [i, mirror] of this.#mirrors.entries()) roots.push({ source: mirror.options.source, ...(await mirror.reconfigure(next[i]!)) });
    return { rootsChanged, roots };
  }

  async close(): Promise<void> {
    await Promise.all(this.#mirrors.map((m) => m.close()));
  }
}

function perRoot(options: MirrorGroupOptions): MirrorOptions[] {
  const { shared, roots, never } = normalizeGroup(options);
  return roots.map((root) => rootOptions(shared, roots, never, root.source, process.cwd()));
}

/** The group's own options checked (the rest is checked per root by normalizeOptions). */
function normalizeGroup(options: MirrorGroupOptions): { shared: Omit<MirrorOptions, 'source'>; roots: WatchRoot[]; never: string[] } {
  if (options === null || typeof options !== 'object') bad('options', 'must be an object');
  const { roots, never = [], ...shared } = options;
  if ('source' in shared) bad('source', 'is not an option of a MirrorGroup: list the directories in "roots"');
  if (!Array.isArray(roots) || roots.length === 0) bad('roots', 'must list at least one directory to watch');
  const cwd = process.cwd();
  const watched = roots.map((r): WatchRoot => {
    const root = typeof r === 'string' ? { source: r } : r;
    if (root === null || typeof root !== 'object' || typeof root.source !== 'string' || root.source === '') bad('roots', 'must be directories, or objects { source, exclude }');
    if (root.exclude !== undefined && (!Array.isArray(root.exclude) || root.exclude.some((p) => typeof p !== 'string'))) bad('roots', `exclude of ${root.source} must be a list of patterns`);
    return { source: resolve(cwd, root.source), exclude: [...(root.exclude ?? [])] };
  });
  if (!Array.isArray(never) || never.some((p) => typeof p !== 'string' || !p.startsWith('/'))) bad('never', 'must list absolute paths');
  return { shared, roots: watched, never: never.map((p) => p.replace(/\/+$/, '')) };
}

function bad(key: string, why: string): never {
  throw new MirrorError('ERR_OPTIONS', `Option "${key}" ${why}.`);
}

/**
 * What the batch runner makes of the replica guard's answer (core/replica-guard.ts): the refusals
 * as MirrorErrors that say what to do, and the state the guard needs from one batch to the next.
 */
import { hostname } from 'node:os';
import { FENCE_FILE, OWNER_FILE, ownerFromStderr, type GuardRefusal, type GuardSpec } from '../core/replica-guard.js';
import { MirrorError } from '../errors.js';
import type { NormalizedOptions } from '../options.js';
import type { Transport } from '../transport/transport.js';
import type { GuardMemory } from './guard-memory.js';

/** This master, as its owner record spells it: `host:source`. */
export function masterName(source: string): string {
  return `${hostname()}:${source}`;
}

/** What one replica's batch runner remembers between batches for its guard (and, with a state directory, across restarts). */
export class GuardState {
  #seeded = false;
  /** Whether the root was a mount point when first seen (undefined: not looked yet). */
  #mount: boolean | undefined;
  readonly #owner: string;

  constructor(
    readonly transport: Transport,
    readonly options: NormalizedOptions,
    readonly memory?: GuardMemory,
  ) {
    this.#owner = masterName(options.source);
    const memo = memory?.recall();
    this.#seeded = memo?.seeded ?? false;
    // Once a mount point, always expected to be one (a root that was not may become one: looked at again).
    if (memo?.mount === true) this.#mount = true;
  }

  /** This master's own record was on the replica at a batch that succeeded. */
  get seeded(): boolean {
    return this.#seeded;
  }

  set seeded(value: boolean) {
    if (value === this.#seeded) return;
    this.#seeded = value;
    this.#remember();
  }

  /**
   * The spec of the guard for one batch. The first one looks at the root once (one stat, the only
   * round trip the guard ever costs): a root that is a mount point then must stay one.
   */
  async spec(full: boolean): Promise<GuardSpec> {
    if (this.#mount === undefined) {
      const root = await this.transport.inspectRoot().catch(() => undefined);
      if (root !== undefined) {
        this.#mount = root.exists && root.device !== undefined && root.parentDevice !== undefined && root.device !== root.parentDevice;
        if (this.#mount) this.#remember();
      }
    }
    return {
      root: this.transport.replica.path,
      owner: this.#owner,
      expectMount: this.#mount === true,
      seeded: this.#seeded && !full,
      takeOver: this.options.takeOver,
      write: !this.options.dryRun,
    };
  }

  #remember(): void {
    if (!this.options.dryRun) this.memory?.remember({ seeded: this.#seeded, mount: this.#mount === true });
  }

  refusalError(refusal: Exclude<GuardRefusal, 'reseed'>, stderr: string, exitCode: number): MirrorError {
    const { replica, host } = this.transport;
    const details = { host, path: replica.path, exitCode };
    if (refusal === 'fenced') {
      return new MirrorError(
        'ERR_REPLICA_FENCED',
        `${replica.id} is fenced (${FENCE_FILE} at its root: it was promoted, or an operator fenced it), so this master sends it nothing. Once it is to follow this master again, run "fam-mirror unfence ${replica.path}" on its host.`,
        details,
      );
    }
    if (refusal === 'owned') {
      const owner = ownerFromStderr(stderr) ?? 'another master';
      return new MirrorError(
        'ERR_REPLICA_OWNED',
        `${replica.id} is fed by ${owner} (its ${OWNER_FILE}), not by this master (${this.#owner}), so this master sends it nothing. Stop that master and run "fam-mirror release ${replica.path}" on the replica's host, or start this one with --take-over.`,
        details,
      );
    }
    return new MirrorError(
      'ERR_TARGET_UNMOUNTED',
      `${replica.id}: ${replica.path} was a mount point and no longer is (its file system unmounted?), so nothing is written into the bare directory. Mount it again; the mirror checks every ${Math.round(this.options.retryMaxMs / 1000)} s.${this.memory === undefined ? '' : ` If it is no longer meant to be a mount point, stop the mirror, delete ${this.memory.file} and start it again.`}`,
      details,
    );
  }
}

/**
 * One mirror's transports: one per replica, made on first use by the factory (local, ssh, or a
 * test's fake) and reused by its lane, verify() and every later call. Closing one releases its share
 * of a pooled ssh connection; the connection itself closes when its last user lets go.
 */
import type { Replica } from '../types.js';
import { LocalTransport } from './local.js';
import { SshTransport } from './ssh-transport.js';
import type { Transport, TransportContext, TransportFactory } from './transport.js';

/** Local rsync for a plain directory, the ssh2 bridge for `user@host:path`. */
export const defaultTransport: TransportFactory = (replica, ctx) => (replica.kind === 'local' ? new LocalTransport(replica, ctx.options.rsyncPath) : new SshTransport(replica, ctx));

export class Transports {
  readonly #byReplica = new Map<string, Transport>();
  readonly #factory: TransportFactory;
  readonly #context: () => TransportContext;
  /** Logins of transports already closed, so loginCounts() still answers after close() (as it always did). */
  readonly #closedLogins = new Map<string, number>();

  /** `context` is read when a transport is made: the options in force then. */
  constructor(factory: TransportFactory, context: () => TransportContext) {
    this.#factory = factory;
    this.#context = context;
  }

  for(replica: Replica): Transport {
    let t = this.#byReplica.get(replica.id);
    if (t === undefined) {
      t = this.#factory(replica, this.#context());
      this.#byReplica.set(replica.id, t);
    }
    return t;
  }

  /** After a replica-list change: closes the transports of replicas no longer in it. */
  async keepOnly(replicas: readonly Replica[]): Promise<void> {
    const keep = new Set(replicas.map((r) => r.id));
    const gone = [...this.#byReplica].filter(([id]) => !keep.has(id));
    for (const [id] of gone) this.#byReplica.delete(id);
    await Promise.all(gone.map(([, t]) => t.close()));
  }

  async closeAll(): Promise<void> {
    const all = [...this.#byReplica.values()];
    this.#byReplica.clear();
    for (const t of all) {
      const l = t.logins();
      if (l !== undefined) this.#closedLogins.set(l.connection, l.count);
    }
    await Promise.all(all.map((t) => t.close()));
  }

  /** Successful ssh logins per connection (`user@host:port`) of this mirror's replicas. */
  loginCounts(): Record<string, number> {
    const counts = new Map(this.#closedLogins);
    for (const t of this.#byReplica.values()) {
      const l = t.logins();
      if (l !== undefined) counts.set(l.connection, l.count);
    }
    return Object.fromEntries(counts);
  }
}

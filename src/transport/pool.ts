/**
 * Shares one SshConnection per `user@host:port` among every Mirror that uses the pool (several
 * watched roots mirrored to the same hosts still log in once per host). A connection closes when
 * its last user releases it.
 */
import type { SshConnection } from './ssh.js';

export class ConnectionPool {
  readonly #entries = new Map<string, { conn: SshConnection; users: Set<object> }>();

  acquire(user: object, key: string, make: () => SshConnection): SshConnection {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { conn: make(), users: new Set() };
      this.#entries.set(key, entry);
    }
    entry.users.add(user);
    return entry.conn;
  }

  async release(user: object, key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry === undefined || !entry.users.delete(user) || entry.users.size > 0) return;
    this.#entries.delete(key);
    await entry.conn.close();
  }
}

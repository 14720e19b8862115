/**
 * fam-mirror's transport used directly, without the Mirror around it: the project's own runRsync over
 * an exec channel of the project's persistent SshConnection. This lets the bench run the *same* rsync
 * argv over the bridge as over OpenSSH, so the difference is the transport alone.
 *
 * These are internal modules (not the public API): if their signatures change, only this file needs
 * to follow.
 */
import { BRIDGE_HOST } from '../../src/rsync/args.js';
import { bridgeRsh, runRsync } from '../../src/transport/run-rsync.js';
import { SshConnection } from '../../src/transport/ssh.js';
import type { SshdHost } from '../../test/helpers/sshd.js';

export interface BridgeRun {
  ms: number;
  exitCode: number;
  stderr: string;
}

export class DirectBridge {
  readonly #conn: SshConnection;

  constructor(h: SshdHost) {
    this.#conn = new SshConnection({
      host: '127.0.0.1',
      port: h.port,
      user: h.user,
      identityFiles: [h.identityFile],
      passphrase: undefined,
      agent: undefined,
      knownHostsFiles: [h.knownHostsFile],
      hostKeyPolicy: 'yes',
      connectTimeoutMs: 15_000,
      keepaliveIntervalMs: 5_000,
      keepaliveCountMax: 3,
    });
  }

  get logins(): number {
    return this.#conn.logins;
  }

  /** rsync's argv for `rsync -a SRC/ DST/` through the bridge. */
  args(src: string, dst: string): string[] {
    return ['-a', `--rsh=${bridgeRsh()}`, '--', `${src}/`, `${BRIDGE_HOST}:${dst}/`];
  }

  async connect(): Promise<void> {
    await this.#conn.connect();
  }

  /** Timed from the call to runRsync's resolution (rsync closed and the channel done). */
  async run(src: string, dst: string, timeoutMs: number): Promise<BridgeRun> {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rsync over the bridge did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const run = await Promise.race([runRsync('rsync', this.args(src, dst), undefined, (command) => this.#conn.exec(command)), timeout]);
      return { ms: performance.now() - t0, exitCode: run.exitCode, stderr: run.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#conn.close();
  }
}

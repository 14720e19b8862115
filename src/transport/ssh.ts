/**
 * One persistent ssh2 connection per host, shared by every batch to it (README.md, "How it works"):
 * a fresh login costs ~90 ms and a process, an exec channel one round trip.
 *
 * ssh2 does none of OpenSSH's safety work by itself (docs/internals.md, "ssh2"): with no hostVerifier it
 * accepts any host key, Nagle is on, keepalive is off and a channel open can hang forever. So:
 * host keys are checked against known_hosts before anything else happens; setNoDelay(true) after
 * ready; keepalive always on; our own deadline on connect and on every channel open.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2, { type AuthMethod, type AgentAuthMethod, type Client, type PublicKeyAuthMethod, type ClientChannel, type SFTPWrapper } from 'ssh2';
import createDebug from 'debug';
import { MirrorError } from '../errors.js';
import { recordExit, type ExecChannel } from './exit-status.js';
import { shellQuote } from '../core/shell-quote.js';
import { loadIdentities } from './ssh-identities.js';
import { checkHostKey, fingerprintSha256, hostToken, keyTypeOf, loadKnownHosts, type HostKeyVerdict } from './known-hosts.js';

// ssh2 is CommonJS and Node's ESM loader cannot see all of its named exports.
const { Client: SshClient } = ssh2;
const debug = createDebug('fam-mirror:ssh');

export interface SshSettings {
  host: string;
  port: number;
  user: string;
  identityFiles: readonly string[];
  passphrase: string | undefined;
  agent: string | undefined;
  knownHostsFiles: readonly string[];
  hostKeyPolicy: HostKeyPolicy;
  /** Told when a host key is accepted without a known_hosts match (accept-new, no). */
  onWarning?: (message: string) => void;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** OpenSSH's HostKeyAlias: the name looked up in (and added to) known_hosts instead of host:port. */
  hostKeyAlias?: string | undefined;
  /** ProxyJump: the stream to this host, forwarded by the previous hop (its errors name that hop). */
  sock?: (() => Promise<Duplex>) | undefined;
  /** Called once by close(): releases what the settings hold (the hops' connections). */
  onClose?: (() => Promise<void>) | undefined;
}

/** Settings read afresh before each login (the ssh config files may have changed). */
export type SettingsSource = () => Promise<SshSettings>;
export type HostKeyPolicy = 'yes' | 'accept-new' | 'no';

export class SshConnection {
  #settings: SshSettings;
  readonly #source: SettingsSource | undefined;
  readonly #label: string;
  readonly #log: createDebug.Debugger;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #keys: PublicKeyAuthMethod[] | undefined;
  #undecryptable: string[] = [];
  #closed = false;
  /** Successful logins so far: tests and status read it to prove the connection is reused. */
  logins = 0;

  /** `settings` name the connection; `source`, when given, says what to log in with each time. */
  constructor(settings: SshSettings, source?: SettingsSource) {
    this.#settings = settings;
    this.#source = source;
    this.#label = `${settings.user}@${settings.host}:${settings.port}`;
    this.#log = debug.extend(this.#label);
  }

  get label(): string {
    return this.#label;
  }

  /** Connects (or reuses the open connection); rejects with a MirrorError saying why not. */
  async connect(): Promise<void> {
    await this.#connected();
  }

  /** Runs `command` on an exec channel, connecting (once) first when needed; its exit status is recorded from the start (exit-status.ts). */
  exec(command: string): Promise<ExecChannel> {
    return this.#open('a channel', (client, cb) => client.exec(command, cb));
  }

  /** An SFTP session on sshd's sftp subsystem (the fast path, fast-session.ts). */
  sftp(): Promise<SFTPWrapper> {
    return this.#open('an sftp channel', (client, cb) => client.sftp(cb as never)) as unknown as Promise<SFTPWrapper>;
  }

  /**
   * Runs `fn` with the connection's socket corked, so the ssh packets it sends leave in one write:
   * each packet is otherwise a system call of its own, a large part of the master's cost per change
   * on loopback (a profile of the master under a stream of small changes). Uncorked after the
   * promise jobs `fn` started (a queued step writes in one of them).
   */
  batched<T>(fn: () => T): T {
    const sock = (this.#client as unknown as { _sock?: { cork?: () => void; uncork: () => void } } | undefined)?._sock;
    if (sock?.cork === undefined) return fn();
    sock.cork();
    try {
      return fn();
    } finally {
      setImmediate(() => sock.uncork());
    }
  }
  /** A direct-tcpip channel to `host:port` from this host (a ProxyJump hop for the next one). */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    return this.#open(`a forward to ${host}:${port}`, (client, cb) => client.forwardOut('127.0.0.1', 0, host, port, cb));
  }

  async #open(what: string, open: (client: Client, cb: (err: Error | undefined, channel: ClientChannel) => void) => void): Promise<ExecChannel> {
    const client = await this.#connected();
    return await new Promise<ExecChannel>((resolve, reject) => {
      const timer = setTimeout(() => {
        // ssh2 has no timeout on channel open: a silent peer would hold the batch forever.
        client.destroy();
        reject(new MirrorError('ERR_SSH_CONNECT', `${this.#label}: no answer to ${what} within ${this.#settings.connectTimeoutMs} ms; reconnecting.`, { host: this.#settings.host }));
      }, this.#settings.connectTimeoutMs);
      open(client, (err, channel) => {
        clearTimeout(timer);
        if (err) reject(new MirrorError('ERR_SSH_CONNECT', `${this.#label}: could not open ${what}: ${err.message}`, { host: this.#settings.host, cause: err }));
        else resolve(recordExit(channel));
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    if (client !== undefined) {
      await new Promise<void>((resolve) => {
        client.once('close', () => resolve());
        client.end();
        setTimeout(() => {
          client.destroy();
          resolve();
        }, 2000).unref();
      });
    }
    await this.#settings.onClose?.(); // the hops this connection came through, after it
  }

  #connected(): Promise<Client> {
    if (this.#closed) return Promise.reject(new MirrorError('ERR_CLOSED', `${this.#label}: the connection is closed.`));
    if (this.#client !== undefined) return Promise.resolve(this.#client);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Client> {
    if (this.#source !== undefined) {
      const next = await this.#source();
      if (next.identityFiles.join('\0') !== this.#settings.identityFiles.join('\0')) this.#keys = undefined;
      this.#settings = next;
    }
    const s = this.#settings;
    const sock = await s.sock?.();
    const known = await loadKnownHosts([...s.knownHostsFiles]);
    const auth = await this.#authMethods();
    const client = new SshClient();
    let verdict: HostKeyVerdict | undefined;
    let presented: Buffer | undefined;
    /** Only a key we refused makes a failure a host-key error: accept-new and no accept unknown keys. */
    let refused = false;
    const started = Date.now();
    return await new Promise<Client>((resolve, reject) => {
      client.on('ready', () => {
        client.setNoDelay(true);
        this.logins++;
        this.#client = client;
        this.#log('connected in %d ms', Date.now() - started);
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (this.#client === client) {
          this.#log('connection error: %s', err.message);
          return; // 'close' follows; the next exec reconnects
        }
        reject(this.#connectError(err, refused ? verdict : undefined, presented));
      });
      client.on('close', () => {
        if (this.#client === client) this.#client = undefined;
        this.#log('connection closed');
        // A peer that drops the handshake after its banner gets 'close' and no 'error' from ssh2: settle anyway (a no-op once settled).
        reject(new MirrorError('ERR_SSH_CONNECT', `${this.#label}: the connection closed during the handshake (sshd's MaxStartups or a firewall, or no ssh server there?).`, { host: s.host }));
      });
      client.connect({
        host: s.host,
        port: s.port,
        ...(sock === undefined ? {} : { sock }),
        username: s.user,
        readyTimeout: s.connectTimeoutMs,
        keepaliveInterval: s.keepaliveIntervalMs,
        keepaliveCountMax: s.keepaliveCountMax,
        authHandler: auth,
        hostVerifier: (key: Buffer, accept: (ok: boolean) => void) => {
          presented = key;
          verdict = checkHostKey(known, s.hostKeyAlias ?? s.host, s.hostKeyAlias === undefined ? s.port : 22, key);
          this.#decideHostKey(verdict, key).then(
            (ok) => {
              refused = !ok;
              accept(ok);
            },
            (e: Error) => {
              this.#log('could not record the host key: %s', e.message);
              refused = true;
              accept(false);
            },
          );
        },
      });
    });
  }

  /**
   * OpenSSH's StrictHostKeyChecking: 'yes' accepts only a known key; 'accept-new' also trusts a host
   * seen for the first time and records its key; 'no' accepts anything (the user opted out, loudly).
   * A changed or revoked key is refused under 'yes' and 'accept-new' alike.
   */
  async #decideHostKey(verdict: HostKeyVerdict, key: Buffer): Promise<boolean> {
    const s = this.#settings;
    const token = s.hostKeyAlias ?? hostToken(s.host, s.port);
    if (verdict.ok) return true;
    if (s.hostKeyPolicy === 'no') {
      s.onWarning?.(`Host key of ${token} (${fingerprintSha256(key)}) was NOT verified (${verdict.reason}): strictHostKeyChecking is "no", so anyone on the network path can impersonate this host.`);
      return true;
    }
    if (s.hostKeyPolicy === 'accept-new' && verdict.reason === 'unknown') {
      const file = s.knownHostsFiles[0];
      if (file === undefined) return false;
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await appendFile(file, `${token} ${keyTypeOf(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
      s.onWarning?.(`Host ${token} seen for the first time: its key ${fingerprintSha256(key)} was added to ${file} (strictHostKeyChecking accept-new).`);
      return true;
    }
    return false;
  }

  #connectError(err: Error & { level?: string }, verdict: HostKeyVerdict | undefined, key: Buffer | undefined): MirrorError {
    const s = this.#settings;
    const host = s.host;
    if (verdict !== undefined && !verdict.ok && key !== undefined) {
      const fp = fingerprintSha256(key);
      const files = s.knownHostsFiles.join(', ');
      const token = s.hostKeyAlias ?? hostToken(host, s.port);
      if (verdict.reason === 'unknown') {
        return new MirrorError(
          'ERR_HOST_KEY_UNKNOWN',
          `Host key of ${token} is not known (${fp}); refusing to connect. Check the fingerprint with the host's admin, then add it: ssh-keyscan -p ${s.port} ${shellQuote(host)} >> ${s.knownHostsFiles[0] === undefined ? '~/.ssh/known_hosts' : shellQuote(s.knownHostsFiles[0])} (or pass --known-hosts FILE). Searched: ${files}.`,
          { host, cause: err },
        );
      }
      if (verdict.reason === 'revoked') {
        return new MirrorError('ERR_HOST_KEY_REVOKED', `Host key of ${token} (${fp}) is marked @revoked in known_hosts; refusing to connect. Give the host a new key.`, { host, cause: err });
      }
      return new MirrorError(
        'ERR_HOST_KEY_CHANGED',
        `Host key of ${token} has CHANGED: it presented ${fp}, known_hosts has ${verdict.knownFingerprints.join(', ')}; refusing to connect (this could be an attack). If the change is expected, remove the old line with: ssh-keygen -R '${token}'. Searched: ${files}.`,
        { host, cause: err },
      );
    }
    if (err.level === 'client-authentication') {
      return new MirrorError(
        'ERR_SSH_AUTH',
        `Authentication as ${s.user} on ${host}:${s.port} was refused (tried ${this.#describeAuth()}). Install the public key in that account's authorized_keys, or pass --identity FILE.`,
        { host, cause: err },
      );
    }
    return new MirrorError('ERR_SSH_CONNECT', `Could not connect to ${host}:${s.port}: ${err.message}. Check the host is up and sshd listens on that port.`, { host, cause: err });
  }

  #describeAuth(): string {
    const parts: string[] = [];
    if (this.#settings.agent !== undefined) parts.push('ssh-agent');
    for (const k of this.#keys ?? []) parts.push((k as PublicKeyAuthMethod & { file?: string }).file ?? 'a key');
    return parts.length === 0 ? 'no key' : parts.join(', ');
  }

  /** Agent first, then each readable identity file; keys are parsed (and decrypted) once. */
  async #authMethods(): Promise<AuthMethod[]> {
    const s = this.#settings;
    this.#keys ??= await loadIdentities(s.identityFiles, s.passphrase, s.user, this.#log, this.#undecryptable);
    const methods: AuthMethod[] = [];
    if (s.agent !== undefined) methods.push({ type: 'agent', username: s.user, agent: s.agent } as AgentAuthMethod);
    methods.push(...this.#keys);
    if (methods.length === 0) {
      const locked = this.#undecryptable.length > 0 ? ` (${this.#undecryptable.join(', ')} could not be decrypted: wrong or missing passphrase)` : '';
      throw new MirrorError(
        'ERR_SSH_NO_IDENTITY',
        `No usable ssh identity for ${this.#label}: none of ${s.identityFiles.join(', ')} could be used${locked}, and no ssh-agent was given. Create a key (ssh-keygen -t ed25519), pass --identity FILE and its passphrase, or start ssh-agent.`,
        { host: s.host },
      );
    }
    return methods;
  }
}

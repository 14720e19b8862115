/**
 * How a replica's host is reached: its ssh settings as the ssh config files, the replica spec and the
 * options given say (core/ssh-config.ts decides; the files are read again before each login, so an
 * edit applies at the next reconnect), and the ProxyJump hops in front of it. Each hop is an
 * SshConnection of its own, verified against known_hosts like any host, shared through the
 * ConnectionPool (a bastion in front of several replicas is one login), and the next host's stream
 * is a direct-tcpip channel forwarded over it (ssh2's `sock`). A hop that fails is named in the error.
 */
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { resolveSshRoute, type SshEndpoint, type SshGiven } from '../core/ssh-config.js';
import { MirrorError, isMirrorError } from '../errors.js';
import type { NormalizedOptions } from '../options.js';
import type { SshReplica } from '../types.js';
import type { ConnectionPool } from './pool.js';
import { loadSshConfig } from './ssh-config-file.js';
import { SshConnection, type SettingsSource, type SshSettings } from './ssh.js';

const debug = createDebug('fam-mirror:ssh-config');
/** Unsupported keywords are named once per process, not at every reconnect. */
const named = new Set<string>();

export interface RouteContext {
  options: NormalizedOptions;
  pool: ConnectionPool;
  onWarning(message: string): void;
}

/** The settings a replica's connection logs in with, resolved afresh before each login. */
export function routeSettings(replica: SshReplica, ctx: RouteContext): SettingsSource {
  const o = ctx.options;
  const holder = {};
  const held = new Set<string>();
  const release = async () => {
    const keys = [...held];
    held.clear();
    await Promise.all(keys.map((k) => ctx.pool.release(holder, k)));
  };
  return async () => {
    const entries = await loadSshConfig(o.sshConfigFiles, o.ssh.homeDir);
    // A port of 22 in the spec cannot be told from none: the file's Port then applies.
    const route = resolveSshRoute({ alias: replica.host, user: replica.user, port: replica.port === 22 ? undefined : replica.port }, entries, givenOf(o), defaultsOf(o));
    for (const note of route.notes) {
      if (!named.has(note)) debug('%s', note);
      named.add(note);
    }
    let chain = '';
    let previous: { conn: SshConnection; hop: SshEndpoint } | undefined;
    for (const hop of route.jumps) {
      chain += `${chain === '' ? '' : ' > '}${labelOf(hop)}`;
      const sock = previous === undefined ? undefined : forwarded(previous, hop, route.target.alias);
      const key = `jump ${chain}`;
      const conn = ctx.pool.acquire(holder, key, () => new SshConnection(settingsOf(hop, o, ctx, sock)));
      held.add(key);
      previous = { conn, hop };
    }
    if (previous !== undefined) debug('%s: through %s', route.target.alias, chain);
    return { ...settingsOf(route.target, o, ctx, previous === undefined ? undefined : forwarded(previous, route.target, route.target.alias)), onClose: release };
  };
}

/** The stream to `next` through the hop before it; a failure there (its login included) names the hop. */
function forwarded(previous: { conn: SshConnection; hop: SshEndpoint }, next: SshEndpoint, target: string): () => Promise<Duplex> {
  return async () => {
    try {
      return await previous.conn.forwardOut(next.hostName, next.port);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const hop = `ProxyJump hop ${previous.hop.alias} (${labelOf(previous.hop)}) on the way to ${target}`;
      if (isMirrorError(e)) throw new MirrorError(e.code, `${hop}: ${why}`, { host: previous.hop.hostName, cause: e });
      throw new MirrorError('ERR_SSH_CONNECT', `${hop}: ${why}`, { host: previous.hop.hostName, cause: e });
    }
  };
}

function settingsOf(e: SshEndpoint, o: NormalizedOptions, ctx: RouteContext, sock: SshSettings['sock']): SshSettings {
  return {
    host: e.hostName,
    port: e.port,
    user: e.user,
    identityFiles: e.identityFiles,
    passphrase: o.passphrase,
    agent: e.identitiesOnly ? undefined : o.agent,
    knownHostsFiles: e.knownHostsFiles,
    hostKeyPolicy: e.strictHostKeyChecking,
    hostKeyAlias: e.hostKeyAlias,
    onWarning: (message) => ctx.onWarning(message),
    connectTimeoutMs: e.connectTimeoutMs,
    keepaliveIntervalMs: e.keepaliveIntervalMs,
    keepaliveCountMax: e.keepaliveCountMax,
    sock,
  };
}

const labelOf = (e: SshEndpoint) => `${e.user}@${e.hostName}:${e.port}`;

function givenOf(o: NormalizedOptions): SshGiven {
  const g = new Set(o.ssh.given);
  return {
    ...(g.has('identityFiles') ? { identityFiles: o.identityFiles } : {}),
    ...(g.has('knownHostsFiles') ? { knownHostsFiles: o.knownHostsFiles } : {}),
    ...(g.has('strictHostKeyChecking') ? { strictHostKeyChecking: o.strictHostKeyChecking } : {}),
    ...(g.has('connectTimeoutMs') ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
  };
}

function defaultsOf(o: NormalizedOptions) {
  return {
    homeDir: o.ssh.homeDir,
    localUser: o.userName,
    identityFiles: o.identityFiles,
    knownHostsFiles: o.knownHostsFiles,
    strictHostKeyChecking: o.strictHostKeyChecking,
    connectTimeoutMs: o.connectTimeoutMs,
    // A third of the rsync timeout, within 0.5-5 s: a hung host is noticed well before rsync gives up.
    keepaliveIntervalMs: Math.max(500, Math.min(5000, Math.floor((o.timeoutSec * 1000) / 3))),
    keepaliveCountMax: 3,
  };
}

/**
 * Parses the replica specs users write (fam_mirror's bare `host`, rsync's `[user@]host:/path`,
 * `ssh://[user@]host[:port]/path`, a local absolute path, or a local path starting with `./` or
 * `../`) into data. Pure.
 *
 * Host and user names are validated strictly: they end up as ssh2 connection parameters, and a
 * leading '-' must never be able to pose as an option anywhere. Paths come out normalized (no `//`,
 * `.`, `..` or trailing '/'), so the loop and duplicate checks compare like with like. A relative
 * spec is local only when it says so with `./` or `../`: `web2/srv/www` is far more often a remote
 * spec whose colon was forgotten than a directory below the current one.
 */
import { posix } from 'node:path';
import { MirrorError } from './errors.js';
import type { ParsedReplicaSpec } from './types.js';

const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const HINT = 'Write it as HOST, HOST:/path, USER@HOST:/path, ssh://USER@HOST:PORT/path, or a local path (/abs/path, ./path or ../path).';

/** `cwd` resolves a relative local spec (`./x`, `../x`); without it such a spec is refused. */
export function parseReplicaSpec(spec: string, cwd?: string): ParsedReplicaSpec {
  if (typeof spec !== 'string' || spec.trim() === '') fail(String(spec), 'it is empty');
  if (/[\0\n\r]/.test(spec)) fail(spec, 'it contains a NUL or line break');
  if (spec.startsWith('/')) {
    const path = normalizePath(spec);
    return { kind: 'local', id: path, path };
  }
  if (spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../')) {
    if (cwd === undefined || !cwd.startsWith('/')) fail(spec, 'a relative local path needs the current directory to resolve it against');
    const path = normalizePath(posix.resolve(cwd, spec));
    return { kind: 'local', id: path, path };
  }
  if (spec.startsWith('ssh://')) return parseSshUrl(spec);
  return parseScpLike(spec);
}

function parseSshUrl(spec: string): ParsedReplicaSpec {
  const rest = spec.slice('ssh://'.length);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? undefined : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  const user = at === -1 ? undefined : decodeUser(spec, authority.slice(0, at));
  let hostPort = at === -1 ? authority : authority.slice(at + 1);
  let port = 22;
  let host: string;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) fail(spec, 'an IPv6 address lacks its closing "]"');
    host = hostPort.slice(1, close);
    hostPort = hostPort.slice(close + 1);
    if (hostPort !== '') port = parsePort(spec, hostPort);
    checkHost(spec, host, true);
  } else {
    const colon = hostPort.indexOf(':');
    host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    if (colon !== -1) port = parsePort(spec, hostPort.slice(colon));
    checkHost(spec, host, false);
  }
  if (user !== undefined) checkUser(spec, user);
  const cleanPath = path === undefined || path === '/' ? undefined : normalizePath(path);
  return { kind: 'ssh', host, port, user, path: cleanPath };
}

function parseScpLike(spec: string): ParsedReplicaSpec {
  let rest = spec;
  let user: string | undefined;
  const at = rest.indexOf('@');
  const firstColon = rest.indexOf(':');
  if (at !== -1 && (firstColon === -1 || at < firstColon || rest.startsWith('['))) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    checkUser(spec, user);
  }
  let host: string;
  let path: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) fail(spec, 'an IPv6 address lacks its closing "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(spec, 'expected ":" after the IPv6 address');
    path = after === '' ? undefined : after.slice(1);
    checkHost(spec, host, true);
  } else {
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (slash !== -1 && (colon === -1 || slash < colon)) {
      const head = rest.slice(0, slash);
      const remote = HOST_NAME.test(head) && slash < rest.length - 1 ? ` (or did you mean "${spec.slice(0, spec.length - rest.length)}${head}:${rest.slice(slash)}", a path on host ${head}?)` : '';
      fail(spec, `a relative local path must start with "./" or "../"${remote}`);
    }
    host = colon === -1 ? rest : rest.slice(0, colon);
    path = colon === -1 ? undefined : rest.slice(colon + 1);
    checkHost(spec, host, false);
  }
  if (path !== undefined) {
    if (path === '') path = undefined;
    else if (!path.startsWith('/')) fail(spec, `the remote path "${path}" is not absolute`);
  }
  return { kind: 'ssh', host, port: 22, user, path: path === undefined ? undefined : normalizePath(path) };
}

function decodeUser(spec: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    fail(spec, `"${text}" is not a valid user name`);
  }
}

function parsePort(spec: string, text: string): number {
  const digits = text.startsWith(':') ? text.slice(1) : text;
  const port = /^\d{1,5}$/.test(digits) ? Number(digits) : NaN;
  if (!(port >= 1 && port <= 65535)) fail(spec, `"${digits}" is not a port number (1-65535)`);
  return port;
}

function checkHost(spec: string, host: string, bracketed: boolean): void {
  const ok = bracketed ? IPV6.test(host) : HOST_NAME.test(host);
  if (!ok) fail(spec, `"${host}" is not a valid host name`);
}

function checkUser(spec: string, user: string): void {
  if (!USER_NAME.test(user)) fail(spec, `"${user}" is not a valid user name`);
}

/** An absolute path without `//`, `.`, `..` or a trailing '/' (`..` taken lexically, as `cd` does). */
function normalizePath(path: string): string {
  const stripped = posix.normalize(path).replace(/\/+$/, '');
  return stripped === '' ? '/' : stripped;
}

function fail(spec: string, why: string): never {
  throw new MirrorError('ERR_REPLICA_SPEC', `Invalid replica "${spec}": ${why}. ${HINT}`);
}

/** The display id of an ssh replica; the port shows only when it is not 22. */
export function sshReplicaId(user: string | undefined, host: string, port: number, path: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${user === undefined ? '' : `${user}@`}${h}${port === 22 ? '' : `:${port}`}:${path}`;
}

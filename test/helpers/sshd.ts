/**
 * Throwaway OpenSSH servers on 127.0.0.1 for end-to-end tests.
 *
 * Each host is a real `/usr/sbin/sshd -D` child with its own temp dir (config, ed25519 host key,
 * authorized_keys, pid file, log). Nothing here trusts the machine's ~/.ssh or /etc/ssh: every path the
 * daemon reads is absolute and lives in that dir.
 *
 * known_hosts choice for startSshdHosts(n): every returned host's `knownHostsFile` is ONE combined file
 * listing all n hosts (`[127.0.0.1]:PORT key` each), so a single identity file plus a single known_hosts
 * file reach every host. `knownHostsLine` carries a host's own line for tests that need a file trusting
 * only some hosts (or a wrong key). For startSshd() alone, `knownHostsFile` lists just that host.
 *
 * Lifecycle: stop() kills the daemon and its session processes and deletes the dirs; stopAll() does that
 * for everything this process started; a process 'exit' handler (plus SIGINT/SIGTERM/SIGHUP) SIGKILLs
 * whatever is still running, so a crashed test file leaks no daemon.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = 'ssh-keygen';
const START_DEADLINE_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const KILL_DEADLINE_MS = 2_000;
const PORT_ATTEMPTS = 5;
const POLL_MS = 10;

export interface SshdHost {
  host: '127.0.0.1';
  port: number;
  /** os.userInfo().username: sshd only lets a non-root daemon log in as its own user anyway. */
  user: string;
  /** Private temp dir holding config, keys and log; deleted by stop(). */
  dir: string;
  /** Client private key (ed25519, no passphrase) in this host's authorized_keys. */
  identityFile: string;
  /** known_hosts trusting this host (for startSshdHosts: the combined file trusting all of them). */
  knownHostsFile: string;
  /** This host's own known_hosts line: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`. */
  knownHostsLine: string;
  /** 'SHA256:…' of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** sshd's log (-E); appended across restart(), readable until stop(). */
  logFile: string;
  /** PID of the listening sshd; changes on restart(). */
  pid: number;
  /** Kill the daemon and its sessions (SIGTERM, SIGKILL after a grace period), delete the dirs. Idempotent. */
  stop(): Promise<void>;
  /**
   * SIGSTOP the host. Default scope 'host' also stops every live session process (per-connection sshd,
   * shells, `rsync --server`), which is what a hung peer looks like to an already-connected client;
   * 'listener' stops only the listening sshd: new connections then hang at the banner while established
   * ones keep working.
   */
  pause(scope?: 'host' | 'listener'): void;
  /** SIGCONT whatever pause() stopped (and the listener's current descendants). */
  resume(): void;
  /** Kill the daemon and its sessions but keep dir, keys and port, so restart() can bring it back (outage tests). */
  halt(): Promise<void>;
  /** (Re)start on the SAME port with the same keys, so known_hosts stays valid; kills a running daemon first. */
  restart(): Promise<void>;
  /** Successful logins so far (log lines matching /Accepted publickey for/), cumulative across restarts. */
  logins(): Promise<number>;
}

interface Daemon {
  child: ChildProcess;
  pid: number;
  /** Resolves when the child has exited (or failed to spawn). */
  exited: Promise<void>;
  exitInfo?: string;
}

interface Group {
  dir: string;
  members: Set<HostImpl>;
}

const live = new Set<HostImpl>();
const liveGroups = new Set<Group>();

// ---------------------------------------------------------------- process bookkeeping (/proc)

/** State letter from /proc/PID/stat ('R', 'S', 'T', 'Z', …), undefined when the process is gone. */
function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** A zombie counts as dead: our container's PID 1 may be slow to reap re-parented orphans. */
function isAlive(pid: number): boolean {
  const st = procState(pid);
  return st !== undefined && st !== 'Z' && st !== 'X';
}

/**
 * All descendants of `root`. sshd's per-connection children call setsid(), so neither the process group
 * nor the session finds them; the parent links in /proc do. Must be read before the listener dies, since
 * orphans are re-parented.
 */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let s: string;
    try {
      s = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(name));
    else children.set(ppid, [Number(name)]);
  }
  const out: number[] = [];
  const queue = [root];
  // Bounded by the number of processes: each pid enters the queue once (parent links form a tree).
  while (queue.length > 0 && out.length < names.length) {
    const pid = queue.shift()!;
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function signal(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // ESRCH: already gone, which is the goal.
    }
  }
}

async function pollUntil(done: () => boolean, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
  return true;
}

let handlersInstalled = false;

function killEverythingSync(): void {
  for (const h of live) h.killSync();
  for (const g of liveGroups) rmSync(g.dir, { recursive: true, force: true });
  liveGroups.clear();
}

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killEverythingSync);
  // 'exit' does not run when a signal kills the process (e.g. the test runner's SIGTERM on timeout).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killEverythingSync();
      process.removeListener(sig, onSignal);
      // Only re-raise when nobody else handles it; otherwise their choice stands.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------- small tools

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

/**
 * True when something on the port speaks SSH. A bare TCP connect is not enough: the kernel completes
 * handshakes for a stopped listener, and another process may have taken the port.
 */
function bannerProbe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let got = '';
    const sock = net.connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      got += d;
      if (got.includes('\n')) finish(got.startsWith('SSH-'));
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(false));
  });
}

async function ensurePrivsepDir(): Promise<void> {
  // sshd refuses to start without its privilege-separation directory.
  try {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  } catch (err) {
    if (
      !(await stat('/run/sshd').then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      throw err;
  }
}

async function keygen(file: string): Promise<void> {
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
}

async function publicKeyOf(identityFile: string): Promise<string> {
  const pub = `${identityFile}.pub`;
  if (
    await access(pub).then(
      () => true,
      () => false,
    )
  )
    return (await readFile(pub, 'utf8')).trim();
  return (await run(SSH_KEYGEN, ['-y', '-f', identityFile])).stdout.trim();
}

function quoteConf(p: string): string {
  if (/["\n]/.test(p)) throw new Error(`path not usable in sshd_config: ${JSON.stringify(p)}`);
  return `"${p}"`;
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------- one host

class HostImpl implements SshdHost {
  readonly host = '127.0.0.1' as const;
  port = 0;
  readonly user = os.userInfo().username;
  pid = 0;
  knownHostsFile: string;
  knownHostsLine = '';
  hostKeyFingerprint = '';
  readonly logFile: string;
  group: Group | undefined;

  private readonly configFile: string;
  private readonly hostKey: string;
  private daemon: Daemon | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private paused: number[] = [];
  private finalLogins: number | undefined;
  private hostPubKey = '';
  /** Lines put before the standard ones (sshd takes the first value of a keyword). */
  extraConfig: readonly string[] = [];

  constructor(
    readonly dir: string,
    readonly identityFile: string,
  ) {
    this.configFile = path.join(dir, 'sshd_config');
    this.hostKey = path.join(dir, 'ssh_host_ed25519_key');
    this.logFile = path.join(dir, 'sshd.log');
    this.knownHostsFile = path.join(dir, 'known_hosts');
  }

  /** Keys, authorized_keys and fingerprint; the daemon is started by launch(). */
  async prepare(): Promise<void> {
    await keygen(this.hostKey);
    const [clientPub, hostPub, fp] = await Promise.all([publicKeyOf(this.identityFile), readFile(`${this.hostKey}.pub`, 'utf8'), run(SSH_KEYGEN, ['-l', '-f', `${this.hostKey}.pub`])]);
    await writeFile(path.join(this.dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
    const fingerprint = fp.stdout.trim().split(/\s+/)[1];
    if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${fp.stdout}`);
    this.hostKeyFingerprint = fingerprint;
    // type + base64 only: a comment would be noise in known_hosts.
    this.hostPubKey = hostPub.trim().split(/\s+/).slice(0, 2).join(' ');
  }

  private config(port: number): string {
    const d = (name: string): string => quoteConf(path.join(this.dir, name));
    return [
      ...this.extraConfig,
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${quoteConf(this.hostKey)}`,
      `PidFile ${d('sshd.pid')}`,
      `AuthorizedKeysFile ${d('authorized_keys')}`,
      'UsePAM no',
      // Keys live under /tmp, whose permissions StrictModes would reject.
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin yes',
      // root's bash would otherwise source ~/.bashrc for every command (≈ 150 ms with pyenv there).
      'SetEnv SHLVL=1',
      'LogLevel VERBOSE',
      // Fan-out tests open many connections at once; the default 10:30:100 drops some at random.
      'MaxStartups 100',
      // A test's own Subsystem line replaces this one (sshd refuses a subsystem defined twice); `Subsystem none none` leaves sftp out.
      ...(this.extraConfig.some((l) => /^\s*subsystem\s/i.test(l)) ? [] : ['Subsystem sftp internal-sftp']),
      '',
    ].join('\n');
  }

  /**
   * Start sshd, retrying on a fresh port when the chosen one was taken between our probe and sshd's bind
   * (other test files pick ports the same way). `fixedPort` (restart) never moves.
   */
  async launch(fixedPort?: number): Promise<void> {
    const failures: string[] = [];
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = fixedPort ?? (await freePort());
      const outcome = await this.tryStart(port);
      if (outcome === 'ok') {
        this.port = port;
        this.knownHostsLine = `[127.0.0.1]:${port} ${this.hostPubKey}`;
        return;
      }
      failures.push(`attempt ${attempt} on port ${port}: ${outcome}`);
      // A fixed port can only become free by itself; give the other holder a moment.
      if (fixedPort !== undefined) await delay(100);
    }
    const log = await readFile(this.logFile, 'utf8').catch(() => '');
    throw new Error(`sshd failed to start:\n${failures.join('\n')}\n--- ${this.logFile} ---\n${tail(log)}`);
  }

  private async tryStart(port: number): Promise<'ok' | string> {
    await writeFile(this.configFile, this.config(port));
    const logStart = await stat(this.logFile).then(
      (s) => s.size,
      () => 0,
    );
    // sshd's own pre-log errors (bad config) go to stderr; send them to the same file, appended.
    const errFd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      // Absolute -E path: the re-exec'd per-connection children chdir to / and would write a relative
      // log file there (measured: "-E log" put the login lines in /log).
      child = spawn(SSHD, ['-D', '-e', '-f', this.configFile, '-E', this.logFile], {
        stdio: ['ignore', 'ignore', errFd],
      });
    } finally {
      closeSync(errFd);
    }
    const daemon: Daemon = {
      child,
      pid: child.pid ?? 0,
      exited: new Promise<void>((resolve) => {
        child.once('exit', (code, sig) => {
          daemon.exitInfo = `exited with ${sig ?? `code ${code}`}`;
          resolve();
        });
        child.once('error', (err) => {
          daemon.exitInfo = `spawn failed: ${err.message}`;
          resolve();
        });
      }),
    };
    // An exit handler kills it if the test forgets; it must not keep the event loop alive on its own.
    child.unref();
    this.daemon = daemon;
    this.pid = daemon.pid;

    const ready = `Server listening on 127.0.0.1 port ${port}.`;
    const deadline = Date.now() + START_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (daemon.exitInfo) return `${daemon.exitInfo}: ${tail(await this.logSince(logStart), 5)}`;
      if ((await this.logSince(logStart)).includes(ready) && (await bannerProbe(port, 1_000))) return 'ok';
      await Promise.race([delay(POLL_MS), daemon.exited]);
    }
    await this.killDaemon();
    throw new Error(`sshd on port ${port} not ready after ${START_DEADLINE_MS} ms\n--- ${this.logFile} ---\n${tail(await this.logSince(logStart))}`);
  }

  private async logSince(offset: number): Promise<string> {
    const buf = await readFile(this.logFile).catch(() => Buffer.alloc(0));
    return buf.subarray(offset).toString('utf8');
  }

  private daemonRunning(): boolean {
    return this.daemon !== undefined && this.daemon.exitInfo === undefined;
  }

  /** Kill listener and session processes: SIGTERM, SIGKILL after a grace period; await their end. */
  private async killDaemon(): Promise<void> {
    const d = this.daemon;
    if (!d) return;
    const procs = d.exitInfo === undefined ? [d.pid, ...descendants(d.pid)] : [];
    // SIGCONT after SIGTERM: a paused process keeps the TERM pending until it runs again.
    signal(procs, 'SIGTERM');
    signal(procs, 'SIGCONT');
    this.paused = [];
    const allGone = (): boolean => d.exitInfo !== undefined && procs.every((p) => p === d.pid || !isAlive(p));
    if (!(await pollUntil(allGone, STOP_GRACE_MS))) {
      signal(
        procs.filter((p) => (p === d.pid ? d.exitInfo === undefined : isAlive(p))),
        'SIGKILL',
      );
      if (!(await pollUntil(allGone, KILL_DEADLINE_MS))) {
        throw new Error(`sshd pid ${d.pid} (or one of its sessions) survived SIGKILL`);
      }
    }
  }

  /** For the exit handler: no awaiting possible there. */
  killSync(): void {
    const d = this.daemon;
    if (d && d.exitInfo === undefined) signal([d.pid, ...descendants(d.pid)], 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  pause(scope: 'host' | 'listener' = 'host'): void {
    const d = this.daemon;
    if (!d || !this.daemonRunning()) throw new Error(`sshd on port ${this.port} is not running`);
    // Listener first, so it cannot fork a session we would miss.
    signal([d.pid], 'SIGSTOP');
    const pids = scope === 'host' ? [d.pid, ...descendants(d.pid)] : [d.pid];
    signal(pids, 'SIGSTOP');
    this.paused = [...new Set([...this.paused, ...pids])];
  }

  resume(): void {
    const d = this.daemon;
    const pids = new Set(this.paused);
    if (d && this.daemonRunning()) for (const p of [d.pid, ...descendants(d.pid)]) pids.add(p);
    signal(pids, 'SIGCONT');
    this.paused = [];
  }

  async halt(): Promise<void> {
    if (this.stopped) return;
    await this.killDaemon();
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`restart() after stop(): sshd on port ${this.port} was deleted`);
    await this.killDaemon();
    await this.launch(this.port);
  }

  async logins(): Promise<number> {
    if (this.finalLogins !== undefined) return this.finalLogins;
    const log = await readFile(this.logFile, 'utf8');
    return log.split('\n').filter((l) => /Accepted publickey for /.test(l)).length;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    try {
      await this.killDaemon();
    } finally {
      // Keep the answer of logins() once the log is gone.
      this.finalLogins = await this.logins().catch(() => 0);
      live.delete(this);
      await rm(this.dir, { recursive: true, force: true });
      const g = this.group;
      if (g) {
        g.members.delete(this);
        if (g.members.size === 0 && liveGroups.delete(g)) await rm(g.dir, { recursive: true, force: true });
      }
    }
  }
}

// ---------------------------------------------------------------- public API

async function createHost(opts: { clientKey?: { identityFile: string }; group?: Group; extraConfig?: readonly string[] }): Promise<HostImpl> {
  installProcessHandlers();
  await ensurePrivsepDir();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fam-sshd-'));
  let identityFile = opts.clientKey?.identityFile;
  try {
    if (identityFile === undefined) {
      identityFile = path.join(dir, 'id_ed25519');
      await keygen(identityFile);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const h = new HostImpl(dir, path.resolve(identityFile));
  h.group = opts.group;
  h.extraConfig = opts.extraConfig ?? [];
  opts.group?.members.add(h);
  live.add(h);
  try {
    await h.prepare();
    await h.launch();
    await writeFile(h.knownHostsFile, `${h.knownHostsLine}\n`);
  } catch (err) {
    await h.stop().catch(() => {});
    throw err;
  }
  return h;
}

/**
 * One host. Without `clientKey`, a fresh client key pair is made in the host's dir. `extraConfig`:
 * sshd_config lines that win over the standard ones (e.g. `LogLevel DEBUG1` to see forwards in the log).
 */
export async function startSshd(opts?: { clientKey?: { identityFile: string }; extraConfig?: readonly string[] }): Promise<SshdHost> {
  return createHost({ clientKey: opts?.clientKey, extraConfig: opts?.extraConfig });
}

/**
 * `n` hosts, each with its own host key and port, all authorizing ONE client key. Every returned host's
 * `knownHostsFile` is the same combined file listing all of them (see the header comment).
 */
export async function startSshdHosts(n: number): Promise<SshdHost[]> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`startSshdHosts: bad count ${n}`);
  installProcessHandlers();
  const group: Group = { dir: await mkdtemp(path.join(os.tmpdir(), 'fam-sshd-group-')), members: new Set() };
  liveGroups.add(group);
  const identityFile = path.join(group.dir, 'id_ed25519');
  const settled: PromiseSettledResult<HostImpl>[] = await keygen(identityFile).then(
    () => Promise.allSettled(Array.from({ length: n }, () => createHost({ clientKey: { identityFile }, group }))),
    (err: unknown) => [{ status: 'rejected', reason: err }],
  );
  const hosts = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    if (liveGroups.delete(group)) await rm(group.dir, { recursive: true, force: true });
    throw failed.reason;
  }
  const combined = path.join(group.dir, 'known_hosts');
  await writeFile(combined, hosts.map((h) => `${h.knownHostsLine}\n`).join(''));
  for (const h of hosts) h.knownHostsFile = combined;
  return hosts;
}

/** Stop every sshd this process started (for after() hooks). */
export async function stopAll(): Promise<void> {
  const results = await Promise.allSettled([...live].map((h) => h.stop()));
  for (const g of liveGroups) await rm(g.dir, { recursive: true, force: true });
  liveGroups.clear();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

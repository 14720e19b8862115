/**
 * A replica endpoint in memory, for Mirror-level tests without rsync or sshd: the source is real (the
 * watcher, the probes and the plans run for real), only the replica side is this fake.
 *
 * By default a call is applied: the fake reads the argv the batch runner built (full pass, listed
 * paths with -r, directories one level deep with -d, dry runs), looks at the real source as rsync
 * would, updates the tree it holds and prints the itemized lines rsync prints (ITEM_FORMAT), so the
 * `synced` counts, `createdItem` and problem paths all work. Every call is recorded.
 *
 * Scriptable per replica, switchable at any time: fail or hold the start-up check (check(); a refused
 * connect fails it too), refuse connects with a MirrorError code, exit with
 * a code (23 naming problem paths applies the rest, as rsync does), delay, or hold every rsync until
 * release(). A held call blocks the mirror's close() as a real rsync in flight does: release first.
 * An aborted call (RunOptions.signal: a drift pass yielding) ends at once, unapplied, with exit 20.
 * Not modelled: the exclude rule file (tests on the fake use no excludes), content compared beyond
 * size and mtime, ownership.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { MirrorError, type MirrorErrorCode } from '../../src/errors.js';
import type { Rename } from '../../src/core/plan.js';
import { GUARD_EXIT, OWNER_PREFIX, guardDecision, type GuardSpec } from '../../src/core/replica-guard.js';
import type { RsyncTarget } from '../../src/rsync/args.js';
import type { ReplicaRoot, RsyncRun, RunOptions, Transport, TransportFactory } from '../../src/transport/transport.js';
import type { Replica, ReplicaCheck } from '../../src/types.js';

/** Walks of the source stop here: a fake is for small trees. */
const MAX_ENTRIES = 100_000;

export interface FakeCall {
  at: number;
  args: string[];
  /** The decoded --files-from list (`dir/.` entries of a -d call as given), or 'full' for a full pass. */
  paths: string[] | 'full';
  dryRun: boolean;
  /** Undefined while the call is still held or delayed. */
  exitCode: number | undefined;
}

type Entry = { type: 'file'; size: number; mtimeMs: number; mode: number } | { type: 'dir'; mode: number } | { type: 'link'; target: string } | { type: 'other' };

export class FakeTransport implements Transport {
  readonly replica: Replica;
  readonly target: RsyncTarget;
  /** A fake ssh replica's host is named in its errors as a real one's would be. */
  get host(): string | undefined {
    return this.replica.kind === 'ssh' ? this.replica.host : undefined;
  }
  /** Every rsync call, in the order they started. */
  readonly calls: FakeCall[] = [];
  readonly moves: Rename[] = [];
  /** What the replica holds after the applied calls: root-relative path → entry. */
  readonly tree = new Map<string, Entry>();
  /** Every path listed to it by a call that was applied (not a dry run, not failed). */
  readonly received = new Set<string>();
  connects = 0;
  /** Calls ended by their abort signal (a drift pass yielding), unapplied. */
  aborted = 0;
  closes = 0;
  closed = false;
  /** What inspectRoot() answers: an existing directory, no mount point, unless a test says otherwise. */
  root: ReplicaRoot = { exists: true, isDirectory: true, device: 1, parentDevice: 1 };
  /** Start-up checks answered or failed. */
  checks = 0;
  #checkFails: MirrorErrorCode | undefined;
  #checkHeld: Array<() => void> | undefined;
  /**
   * The replica guard's facts (src/core/replica-guard.ts), decided by the same rules as the real
   * transports: a fence marker at the root, and the owner record (written by the first guarded call).
   * An unmounted file system: set `root` to a mount point (device ≠ parentDevice) before the first
   * batch, then to device = parentDevice.
   */
  fenced = false;
  ownerRecord: string | undefined;
  #refuse: MirrorErrorCode | undefined;
  #exit: { code: number; problems: string[] } | undefined;
  #delayMs = 0;
  #held: Array<() => void> | undefined;

  constructor(replica: Replica) {
    this.replica = replica;
    this.target = { path: replica.path };
  }

  // --- scripting -------------------------------------------------------------------------------

  /** connect() rejects with a MirrorError of this code (ERR_SSH_CONNECT: down; a host-key code: needs a human). */
  refuseConnect(code: MirrorErrorCode = 'ERR_SSH_CONNECT'): this {
    this.#refuse = code;
    return this;
  }

  /** check() rejects with a MirrorError of this code (ERR_TARGET_MISSING, ERR_RSYNC_MISSING, …) until heal(). */
  failCheck(code: MirrorErrorCode): this {
    this.#checkFails = code;
    return this;
  }

  /** Every check() from now on waits until releaseCheck(). */
  holdCheck(): this {
    this.#checkHeld ??= [];
    return this;
  }

  releaseCheck(): this {
    const waiting = this.#checkHeld ?? [];
    this.#checkHeld = undefined;
    for (const go of waiting) go();
    return this;
  }

  /** Every rsync exits with `code`; with 23 and `problems`, only calls that touch those paths fail, the rest is applied. */
  exitWith(code: number, problems: string[] = []): this {
    this.#exit = { code, problems };
    return this;
  }

  delay(ms: number): this {
    this.#delayMs = ms;
    return this;
  }

  /** Every rsync from now on waits until release(). */
  hold(): this {
    this.#held ??= [];
    return this;
  }

  /** Lets the held calls go (they then follow the script as it is at that moment) and stops holding. */
  release(): this {
    const waiting = this.#held ?? [];
    this.#held = undefined;
    for (const go of waiting) go();
    return this;
  }

  /** Back to a healthy replica: no refusal, no exit code, no delay, nothing held. */
  heal(): this {
    this.#refuse = undefined;
    this.#checkFails = undefined;
    this.releaseCheck();
    this.#exit = undefined;
    this.#delayMs = 0;
    return this.release();
  }

  /** Calls waiting in hold(). */
  get waiting(): number {
    return this.#held?.length ?? 0;
  }

  fullPasses(): FakeCall[] {
    return this.calls.filter((c) => c.paths === 'full' && !c.dryRun && c.exitCode === 0);
  }

  // --- Transport -------------------------------------------------------------------------------

  async connect(): Promise<void> {
    this.connects++;
    if (this.#refuse !== undefined) throw new MirrorError(this.#refuse, `${this.replica.id}: connection refused (scripted by the test).`, { path: this.replica.path });
  }

  async check(): Promise<ReplicaCheck> {
    if (this.#checkHeld !== undefined) await new Promise<void>((go) => this.#checkHeld!.push(go));
    this.checks++;
    const code = this.#refuse ?? this.#checkFails;
    if (code !== undefined) throw new MirrorError(code, `${this.replica.id}: check failed (scripted by the test).`, { path: this.replica.path });
    return { rsyncVersion: '3.2.7', path: this.replica.path, created: false };
  }

  async rsync(args: string[], stdin: Buffer | undefined, opts: RunOptions = {}): Promise<RsyncRun> {
    const call = describeCall(args, stdin);
    this.calls.push(call);
    // An abort ends a delayed or held call at once, unapplied, with rsync's exit code on a signal.
    const aborted = new Promise<'aborted'>((r) => (opts.signal?.aborted === true ? r('aborted') : opts.signal?.addEventListener('abort', () => r('aborted'), { once: true })));
    if (this.#delayMs > 0) await Promise.race([aborted, new Promise((r) => setTimeout(r, this.#delayMs))]);
    if (this.#held !== undefined && opts.signal?.aborted !== true) await Promise.race([aborted, new Promise<void>((go) => this.#held!.push(go))]);
    if (opts.signal?.aborted === true) {
      call.exitCode = 20;
      this.aborted++;
      return { exitCode: 20, stderr: 'rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)\n', ...(opts.maxLines === undefined ? {} : { lines: [], moreLines: 0 }) };
    }
    const refused = opts.guard === undefined ? undefined : this.#guard(opts.guard);
    if (refused !== undefined) {
      call.exitCode = refused.exitCode;
      return refused;
    }
    const out: string[] = [];
    let stderr = '';
    let exitCode = 0;
    const exit = this.#exit;
    if (exit !== undefined && !(exit.code === 23 && exit.problems.length > 0)) {
      exitCode = exit.code;
      stderr = `rsync error: scripted by the test (code ${exit.code})\n`;
    } else {
      const source = sourceOf(args);
      const problems = exit === undefined ? [] : await this.#touched(source, call, exit.problems);
      for (const p of problems) stderr += `rsync: [generator] recv_generator: failed to stat "${join(this.replica.path, p)}": Permission denied (13)\n`;
      if (problems.length > 0) exitCode = 23;
      await this.#apply(source, call, new Set(problems), out);
    }
    call.exitCode = exitCode;
    const lines: string[] = [];
    let moreLines = 0;
    for (const line of out) {
      opts.onLine?.(line);
      if (lines.length < (opts.maxLines ?? 0)) lines.push(line);
      else moreLines++;
    }
    const run: RsyncRun = { exitCode, stderr };
    if (opts.maxLines !== undefined) Object.assign(run, { lines, moreLines });
    return run;
  }

  /** A root emptied by a re-image: no entries, no owner record. */
  empty(): this {
    this.tree.clear();
    this.ownerRecord = undefined;
    return this;
  }

  #guard(spec: GuardSpec): RsyncRun | undefined {
    const facts = { rootExists: this.root.exists, parentExists: true, sameDeviceAsParent: this.root.device === this.root.parentDevice, fenced: this.fenced, ownerRecord: this.ownerRecord };
    const answer = guardDecision(spec, facts);
    if (answer.kind === 'refuse') return { exitCode: GUARD_EXIT[answer.refusal], stderr: answer.owner === undefined ? '' : `${OWNER_PREFIX}${answer.owner}\n` };
    if (answer.writeOwner) this.ownerRecord = spec.owner;
    return undefined;
  }

  async move(renames: readonly Rename[], guard?: GuardSpec): Promise<void> {
    if (guard !== undefined && this.#guard(guard) !== undefined) return;
    for (const r of renames) {
      this.moves.push(r);
      if (this.tree.has(r.to) || this.tree.get(r.from)?.type !== 'dir') continue;
      for (const [p, e] of [...this.tree]) {
        if (p !== r.from && !p.startsWith(`${r.from}/`)) continue;
        this.tree.delete(p);
        this.tree.set(r.to + p.slice(r.from.length), e);
      }
    }
  }

  async inspectRoot(): Promise<ReplicaRoot> {
    return { ...this.root };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closes++;
  }

  logins(): undefined {
    return undefined;
  }

  // --- what rsync would do ---------------------------------------------------------------------

  /** The scripted problem paths this call concerns (listed, below a listed directory, or anywhere for a full pass). */
  async #touched(source: string, call: FakeCall, problems: string[]): Promise<string[]> {
    if (call.paths === 'full') {
      const present = await Promise.all(
        problems.map((p) =>
          lstat(join(source, p)).then(
            () => true,
            () => false,
          ),
        ),
      );
      return problems.filter((_, i) => present[i]);
    }
    const listed = call.paths.map((p) => p.replace(/\/?\.$/, ''));
    return problems.filter((p) => listed.some((l) => l === '' || l === p || p.startsWith(`${l}/`)));
  }

  async #apply(source: string, call: FakeCall, skip: Set<string>, out: string[]): Promise<void> {
    // What the source has now in the scope of this call, and which held entries that scope covers.
    const scope = new Map<string, Entry>();
    const covers: Array<(p: string) => boolean> = [];
    if (call.paths === 'full') {
      await walk(source, '', scope);
      covers.push((p) => p !== '');
    } else if (call.args.includes('-d')) {
      for (const listed of call.paths) {
        const dir = listed.replace(/\/?\.$/, '');
        await walk(source, dir, scope, 1);
        covers.push((p) => p !== dir && parentOf(p) === dir);
      }
    } else {
      for (const p of call.paths) {
        // Gone: --delete-missing-args; a directory: -r with --delete inside it; a type change: the old subtree goes.
        covers.push((q) => q === p || q.startsWith(`${p}/`));
        const e = await entryOf(join(source, p));
        if (e === undefined) continue;
        scope.set(p, e);
        if (e.type === 'dir') await walk(source, p, scope);
        // --files-from implies --relative: missing parents are created.
        for (let up = parentOf(p); up !== '' && !this.tree.has(up); up = parentOf(up)) {
          const parent = await entryOf(join(source, up));
          if (parent !== undefined) scope.set(up, parent);
        }
      }
    }
    if (call.dryRun) {
      for (const [p, e] of [...scope].sort()) if (!same(this.tree.get(p), e)) out.push(item(this.tree.get(p), e, p));
      for (const [p, e] of [...this.tree].sort()) if (!scope.has(p) && covers.some((c) => c(p))) out.push(deleting(p, e));
      return;
    }
    for (const p of [...this.tree.keys()].sort().reverse()) {
      if (scope.has(p) || skip.has(p) || !covers.some((c) => c(p))) continue;
      out.push(deleting(p, this.tree.get(p)!));
      this.tree.delete(p);
    }
    for (const [p, e] of [...scope].sort()) {
      if (skip.has(p) || same(this.tree.get(p), e)) continue;
      out.push(item(this.tree.get(p), e, p));
      this.tree.set(p, e);
    }
    if (call.paths !== 'full') for (const p of call.paths) if (!skip.has(p)) this.received.add(p);
  }
}

/** One fake per replica id, made on first use and handed out again (reopened) to every later mirror. */
export class FakeReplicas {
  readonly #fakes = new Map<string, FakeTransport>();

  /** The factory to give a Mirror: `new Mirror(options, { transport: fakes.factory })`. */
  readonly factory: TransportFactory = (replica) => {
    const fake = this.#fakes.get(replica.id) ?? new FakeTransport(replica);
    this.#fakes.set(replica.id, fake);
    fake.closed = false;
    return fake;
  };

  /** The fake of a replica (by id, i.e. its normalized spec); made now when no mirror asked for it yet. */
  get(id: string): FakeTransport {
    let fake = this.#fakes.get(id);
    if (fake === undefined) {
      fake = new FakeTransport({ kind: 'local', id, path: id });
      this.#fakes.set(id, fake);
    }
    return fake;
  }

  /** Releases every held call (a test's finally, before closing its mirror). */
  releaseAll(): void {
    for (const fake of this.#fakes.values()) fake.release().releaseCheck();
  }
}

function describeCall(args: string[], stdin: Buffer | undefined): FakeCall {
  const listed = args.includes('--files-from=-');
  const paths = listed
    ? (stdin ?? Buffer.alloc(0))
        .toString('utf8')
        .split('\0')
        .filter((p) => p !== '')
        .map((p) => p.replace(/^\.\//, '').replace(/^\.$/, ''))
    : 'full';
  return { at: Date.now(), args, paths, dryRun: args.includes('--dry-run') || args.includes('-n'), exitCode: undefined };
}

function sourceOf(args: string[]): string {
  const i = args.lastIndexOf('--');
  const source = args[i + 1];
  if (i === -1 || source === undefined) throw new Error(`fake transport: no source in ${JSON.stringify(args)}`);
  return source.replace(/\/+$/, '') || '/';
}

function parentOf(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash === -1 ? '' : p.slice(0, slash);
}

async function entryOf(abs: string): Promise<Entry | undefined> {
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch {
    return undefined;
  }
  if (st.isFile()) return { type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode: st.mode };
  if (st.isDirectory()) return { type: 'dir', mode: st.mode };
  if (st.isSymbolicLink()) return { type: 'link', target: await readlink(abs).catch(() => '') };
  return { type: 'other' };
}

/** The source entries below `dir` (`''`: the root), `depth` levels deep (default: all). */
async function walk(source: string, dir: string, into: Map<string, Entry>, depth = Infinity): Promise<void> {
  if (depth <= 0 || into.size >= MAX_ENTRIES) return;
  const names = await readdir(join(source, dir)).catch(() => [] as string[]);
  for (const name of names) {
    const p = dir === '' ? name : `${dir}/${name}`;
    const e = await entryOf(join(source, p));
    if (e === undefined) continue;
    into.set(p, e);
    if (e.type === 'dir') await walk(source, p, into, depth - 1);
  }
}

function same(a: Entry | undefined, b: Entry): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** One ITEM_FORMAT line (`%i %b %n%L`) as rsync prints it for this change. */
function item(before: Entry | undefined, now: Entry, p: string): string {
  const name = escapeName(p);
  const created = before === undefined || before.type !== now.type;
  if (now.type === 'file') return `${created ? '>f+++++++++' : '>f.st......'} ${now.size} ${name}`;
  if (now.type === 'dir') return `${created ? 'cd+++++++++' : '.d...p.....'} 0 ${name}/`;
  if (now.type === 'link') return `${created ? 'cL+++++++++' : 'cL.......'} 0 ${name} -> ${now.target}`;
  return `${created ? 'cD+++++++++' : 'cD.......'} 0 ${name}`;
}

function deleting(p: string, e: Entry): string {
  return `*deleting   0 ${escapeName(p)}${e.type === 'dir' ? '/' : ''}`;
}

/** rsync's escape of unprintable bytes in names (`\#ooo`), as createdItem undoes it. */
function escapeName(p: string): string {
  return p.replace(/[\x00-\x1f\x7f]/g, (c) => `\\#${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The randomized churn check: seeded operations (churn.ts) on a source tree mirrored to one local
 * and two ssh replicas (real sshd on 127.0.0.1, real rsync), in four phases:
 *   fast      — operations back to back;
 *   pauses    — random 0-50 ms pauses between them;
 *   outage    — one replica's sshd stopped during the operations, started again after;
 *   kill      — the mirror SIGKILLed during the operations, more operations while it is down,
 *               then started again (without --init) from its state directory.
 * After each phase: flush() (the mirror's own "done"), then every replica is compared with the
 * source (type, content, mode, symlink target, mtimes of files, links and directories). A
 * difference, a flush that does not complete, or a mirror process that dies ends the run with the
 * seed, the phase and the last operations.
 *
 * The mirror runs in a child process (mirror-child.ts) so it can be killed and so a crash of it is
 * seen as what it is.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MirrorOptions } from '../../src/index.js';
import { Churn, type ChurnOptions } from './churn.js';
import { startSshdHosts, type SshdHost } from './sshd.js';
import { diffTrees, makeTempDir } from './tree.js';

const CHILD = fileURLToPath(new URL('./mirror-child.ts', import.meta.url));
const FLUSH_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 60_000;

export type Phase = 'fast' | 'pauses' | 'outage' | 'kill';
export const ALL_PHASES: readonly Phase[] = ['fast', 'pauses', 'outage', 'kill'];

export interface ChurnRunOptions extends ChurnOptions {
  seed: number;
  /** Operations per phase. */
  ops: number;
  phases?: readonly Phase[];
  /** Progress lines (the soak script prints them). */
  log?: (line: string) => void;
  /** Extra mirror options (e.g. exclude). */
  mirror?: Partial<MirrorOptions>;
}

export interface ChurnRunResult {
  ops: number;
  phases: Phase[];
}

export class ChurnFailure extends Error {}

interface Child {
  proc: ChildProcess;
  stderr: string[];
  exited: Promise<string>;
  dead: boolean;
}

function startChild(options: MirrorOptions): Child {
  const proc = fork(CHILD, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const stderr: string[] = [];
  // For a post-mortem: FAM_CHURN_LOG=file (with DEBUG=fam-mirror:*) keeps the mirror's whole stderr.
  if (process.env.FAM_CHURN_LOG) proc.stderr!.pipe(createWriteStream(process.env.FAM_CHURN_LOG, { flags: 'a' }));
  proc.stderr!.on('data', (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 200) stderr.shift();
  });
  const child: Child = { proc, stderr, dead: false, exited: Promise.resolve('') };
  child.exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      child.dead = true;
      resolve(`mirror process exited (code ${code}, signal ${signal})`);
    }),
  );
  return child;
}

/** The next message of `type` from the child, or a ChurnFailure when it exits first or the time is up. */
function expect<T>(child: Child, type: string | string[], timeoutMs: number): Promise<T> {
  const types = Array.isArray(type) ? type : [type];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(() => reject(new ChurnFailure(`no ${types.join('/')} from the mirror within ${timeoutMs} ms`))), timeoutMs);
    const onMessage = (m: { type: string }) => {
      if (types.includes(m.type)) done(() => resolve(m as T));
    };
    const onExit = () => done(() => reject(new ChurnFailure(`the mirror process died:\n${child.stderr.join('').slice(-3000)}`)));
    const done = (f: () => void) => {
      clearTimeout(timer);
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
      f();
    };
    if (child.dead) return onExit();
    child.proc.on('message', onMessage);
    child.proc.on('exit', onExit);
  });
}

async function started(child: Child): Promise<void> {
  const m = await expect<{ type: string; message?: string }>(child, ['started', 'start-failed'], START_TIMEOUT_MS);
  if (m.type === 'start-failed') throw new ChurnFailure(`the mirror did not start: ${m.message}`);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChurn(opts: ChurnRunOptions): Promise<ChurnRunResult> {
  const log = opts.log ?? (() => {});
  const phases = [...(opts.phases ?? ALL_PHASES)];
  const hosts: SshdHost[] = await startSshdHosts(2);
  const src = await makeTempDir('fam-churn-src-');
  const local = await makeTempDir('fam-churn-local-');
  const remote = [await makeTempDir('fam-churn-r1-'), await makeTempDir('fam-churn-r2-')];
  const stateDir = join(await makeTempDir('fam-churn-state-'), 'state');
  await mkdir(stateDir);
  const churn = new Churn(src, opts.seed, opts);
  // A tree to seed, so the phases start from something.
  for (let i = 0; i < 40; i++) churn.step();
  const options: MirrorOptions = {
    source: src,
    replicas: [local, ...hosts.map((h, i) => `ssh://${h.user}@127.0.0.1:${h.port}${remote[i]}`)],
    identityFiles: [hosts[0]!.identityFile],
    knownHostsFiles: [hosts[0]!.knownHostsFile],
    initMirror: true,
    stateDir,
    timeoutSec: 5,
    connectTimeoutMs: 3000,
    retryMinMs: 100,
    retryMaxMs: 1000,
    ...opts.mirror,
  };
  const replicas: Array<[string, string]> = [
    ['local', local],
    ['ssh 1', remote[0]!],
    ['ssh 2', remote[1]!],
  ];
  let child = startChild(options);
  const fail = (phase: string, why: string) => new ChurnFailure(`churn seed ${opts.seed}, phase ${phase}, after ${churn.count} operations: ${why}\nlast operations:\n${churn.lastOps()}`);
  try {
    await started(child).catch((e: Error) => {
      throw fail('seed', e.message);
    });
    for (const phase of phases) {
      const t0 = Date.now();
      try {
        if (phase === 'fast') for (let i = 0; i < opts.ops; i++) churn.step();
        else if (phase === 'pauses') {
          for (let i = 0; i < opts.ops; i++) {
            churn.step();
            await pause(churn.int(51));
          }
        } else if (phase === 'outage') {
          await hosts[0]!.halt();
          for (let i = 0; i < opts.ops; i++) {
            churn.step();
            if (churn.int(4) === 0) await pause(churn.int(20));
          }
          await hosts[0]!.restart();
        } else {
          const half = Math.floor(opts.ops / 2);
          for (let i = 0; i < half; i++) {
            churn.step();
            if (churn.int(4) === 0) await pause(churn.int(20));
          }
          child.proc.kill('SIGKILL');
          await child.exited;
          // While no mirror runs, a rewrite that keeps size and mtime is invisible to any restart
          // (the snapshot diff and rsync's quick check both go by mtime and size; README): left out.
          for (let i = half; i < opts.ops; i++) churn.step(['rewrite-keep-mtime']);
          child = startChild({ ...options, initMirror: false });
          await started(child);
        }
        if (child.dead) throw new ChurnFailure(`the mirror process died:\n${child.stderr.join('').slice(-3000)}`);
        child.proc.send({ type: 'flush', timeoutMs: FLUSH_TIMEOUT_MS }, () => {});
        const flushed = await expect<{ result?: { complete: boolean; behind: string[] }; error?: string; status: unknown }>(child, 'flushed', FLUSH_TIMEOUT_MS + 10_000);
        if (flushed.error !== undefined || flushed.result?.complete !== true) {
          throw new ChurnFailure(`flush did not complete: ${flushed.error ?? JSON.stringify(flushed.result)}; status ${JSON.stringify(flushed.status)}`);
        }
      } catch (e) {
        if (e instanceof ChurnFailure && !e.message.startsWith('churn seed')) throw fail(phase, e.message);
        throw e;
      }
      const diffs: string[] = [];
      for (const [name, dir] of replicas) {
        for (const d of await diffTrees(src, dir)) diffs.push(`${name}: ${d}`);
      }
      log(`seed ${opts.seed} ${phase}: ${churn.count} operations, ${Date.now() - t0} ms, ${diffs.length} differences`);
      if (diffs.length > 0) {
        throw fail(phase, `replicas differ from the source after flush() said complete (${diffs.length}):\n${diffs.slice(0, 40).join('\n')}`);
      }
    }
  } finally {
    if (!child.dead) {
      child.proc.send({ type: 'close' }, () => {});
      await Promise.race([expect(child, 'closed', 15_000).catch(() => {}), child.exited]);
      if (!child.dead) child.proc.kill('SIGKILL');
    }
    await Promise.all(hosts.map((h) => h.stop()));
  }
  return { ops: churn.count, phases };
}

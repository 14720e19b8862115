/**
 * Child processes for the bench: always an argument array (no shell), always a deadline.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface TimedRun {
  /** From just before spawn() to the child's 'exit' event. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last 4 KiB of stderr. */
  stderr: string;
}

const STDERR_KEEP = 4096;
/**
 * After 'exit', wait at most this long for stderr to close. A ControlPersist master forked by the first
 * ssh of a ControlMaster pair may keep a copy of the pipe; the timing is taken at 'exit' anyway.
 */
const STDIO_GRACE_MS = 500;

/** Runs `cmd args`, timed from spawn to exit. Never rejects for a non-zero exit: the caller checks `code`. */
export function runTimed(cmd: string, args: readonly string[], timeoutMs: number): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let exited: Omit<TimedRun, 'stderr'> | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled || exited === undefined) return;
      settled = true;
      clearTimeout(killer);
      child.stderr.destroy();
      resolve({ ...exited, stderr });
    };
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      if (!settled) {
        settled = true;
        reject(new Error(`${cmd} did not finish within ${timeoutMs} ms (killed): ${stderr.slice(-500)}`));
      }
    }, timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exited = { ms: performance.now() - t0, code, signal };
      setTimeout(finish, STDIO_GRACE_MS).unref();
    });
    child.on('close', finish);
  });
}

export interface Captured {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** execFile that reports instead of throwing (for versions, `ssh -O check`, git). */
export function capture(cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<Captured> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * True while `pid` exists and is not a zombie (read from /proc: a daemonized ControlMaster is
 * re-parented, and a container's PID 1 may be slow to reap it).
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Waits (bounded) until `pid` is gone; true when it went. */
export async function waitGone(pid: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(20);
  }
  return true;
}

/** Live processes whose process group is `pgid` (read from /proc; a zombie does not count). */
export function groupMembers(pgid: number): number[] {
  if (pgid <= 0) return [];
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'latin1');
      // Fields after the last ')': state ppid pgrp …
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && isAlive(Number(name))) out.push(Number(name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** Whether `p` settles within `ms` (the timer is cleared either way). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const r = await Promise.race([p.then(() => true), delay(ms, false, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  return r;
}

/**
 * Applies one fast-path batch (core/fast-path.ts) over a connection's FastSession, in the order that
 * keeps every reader safe and the guard first:
 *
 * 1. sh: the replica guard and the checks, then deletes, empty directories, symlinks
 *    (core/fast-script.ts `beforeScript`); nothing is written unless they all pass;
 * 2. SFTP: each file to a temporary name `.NAME.XXXXXX` in its own directory, as rsync does;
 * 3. sh: the temporary files' mtime and owner; then SFTP: their mode (an explicit SETSTAT, after
 *    chown, which clears set-ID bits; the server's umask applies to OPEN's mode);
 * 4. SFTP: posix-rename@openssh.com over the target (rename(2): a reader sees the old file or the
 *    new one, never part of one);
 * 5. sh: symlinks', directories' and parents' mtime and owner; then SFTP: the directories' modes.
 *
 * Any failure leaves the batch to rsync (`{ kind: 'rsync' }`), which makes the replica right; the
 * temporary files of a failed batch are removed on a best-effort basis.
 */
import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import type { FastBatch } from '../core/fast-path.js';
import { afterScript, beforeScript, remoteRoot, tempsScript } from '../core/fast-script.js';
import { guardRefusal, type GuardSpec } from '../core/replica-guard.js';
import type { FastSession } from './fast-session.js';

export type FastResult = { kind: 'done' } | { kind: 'refused'; exitCode: number; stderr: string } | { kind: 'rsync'; reason: string };

export async function applyFast(session: FastSession, batch: FastBatch, root: string, guard: GuardSpec | undefined): Promise<FastResult> {
  const before = await session.step(beforeScript(batch, root, guard));
  if (guardRefusal(before.code) !== undefined) return { kind: 'refused', exitCode: before.code, stderr: before.output };
  if (before.code !== 0) return { kind: 'rsync', reason: `checks: exit ${before.code} ${before.output.slice(0, 200)}` };
  const writes = batch.ops.flatMap((op) => (op.kind === 'write' ? [op] : []));
  const sftp = await session.sftp();
  const base = remoteRoot(root);
  const remote = (p: string) => (p === '' ? base : base === '.' ? p : `${base.replace(/\/$/, '')}/${p}`);
  const temps = writes.map((w) => tempName(w.path));
  let placed = 0;
  try {
    await Promise.all(
      writes.map(async (w, i) => {
        await call<void>((cb) => sftp.writeFile(remote(temps[i]!), w.data, { flag: 'wx', mode: 0o600 }, cb));
      }),
    );
    if (writes.length > 0) {
      const t = await session.step(tempsScript(batch, root, temps));
      if (t.code !== 0) return await dropTemps(sftp, temps.map(remote), `temporary files: exit ${t.code} ${t.output.slice(0, 200)}`);
      // After chown, which clears set-user-ID and set-group-ID bits; a mode change keeps the mtime.
      await Promise.all(writes.map((w, i) => call<void>((cb) => sftp.chmod(remote(temps[i]!), w.attrs.mode ?? 0o644, cb))));
      await Promise.all(writes.map((w, i) => call<void>((cb) => sftp.ext_openssh_rename(remote(temps[i]!), remote(w.path), cb)).then(() => placed++)));
    }
  } catch (e) {
    return await dropTemps(sftp, temps.map(remote), `sftp: ${(e as Error).message}`);
  }
  const after = afterScript(batch, root);
  if (after !== '') {
    const a = await session.step(after);
    if (a.code !== 0) return { kind: 'rsync', reason: `attributes: exit ${a.code} ${a.output.slice(0, 200)}` };
  }
  // Directory modes last, after their owners (the parents were checked to be real directories).
  const dirs = [...batch.ops.flatMap((op) => (op.kind === 'mkdir' ? [op.attrs] : [])), ...batch.parents];
  try {
    await Promise.all(dirs.map((d) => call<void>((cb) => sftp.chmod(remote(d.path), d.mode ?? 0o755, cb))));
  } catch (e) {
    return { kind: 'rsync', reason: `directory modes: ${(e as Error).message}` };
  }
  return placed === writes.length ? { kind: 'done' } : { kind: 'rsync', reason: 'not every file was renamed into place' };
}

/** `dir/.NAME.XXXXXX`, as rsync names its temporary files. */
function tempName(path: string): string {
  const slash = path.lastIndexOf('/');
  const suffix = randomBytes(9)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, 6);
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${suffix}`;
}

async function dropTemps(sftp: SFTPWrapper, paths: string[], reason: string): Promise<FastResult> {
  await Promise.all(paths.map((p) => call<void>((cb) => sftp.unlink(p, cb)).catch(() => undefined)));
  return { kind: 'rsync', reason };
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

/**
 * Applies one fast-path batch (core/fast-path.ts) over a connection's FastSession, in the order that
 * keeps every reader safe and the guard first:
 *
 * 1. sh: the replica guard and the checks, then deletes, empty directories, symlinks, and the small
 *    files' temporary copies `.NAME.XXXXXX` (in their own directories, as rsync names them) with
 *    their mtime and owner (core/fast-script.ts `beforeScript`); nothing is written unless the
 *    guard and the checks pass;
 * 2. SFTP, only for files too big to travel inside step 1: upload to a temporary name, then sh:
 *    their mtime and owner;
 * 3. SFTP, sent together and answered in order: each temporary file's mode (after its owner, as
 *    chown clears set-ID bits; the server's umask applies to OPEN's mode), then posix-rename@openssh.com
 *    over the target (rename(2): a reader sees the old file or the new one, never part of one), and
 *    the directories' modes when none has a set-ID bit (else after step 4);
 * 4. sh, in the same write as step 3: waits on the replica until the renames are done, then sets
 *    symlinks', directories' and parents' mtime and owner.
 *
 * Any failure leaves the batch to rsync (`{ kind: 'rsync' }`), which makes the replica right; the
 * temporary files of a failed batch are removed on a best-effort basis.
 */
import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import type { FastAttrs, FastBatch } from '../core/fast-path.js';
import { afterScript, beforeScript, type TempCopy, remoteRoot, tempsScript } from '../core/fast-script.js';
import { guardRefusal, type GuardSpec } from '../core/replica-guard.js';
import type { FastSession, StepResult } from './fast-session.js';

export type FastResult = { kind: 'done' } | { kind: 'refused'; exitCode: number; stderr: string } | { kind: 'rsync'; reason: string };

/**
 * Files up to this size travel inside step 1 as printf escapes (up to 4 bytes of script per byte),
 * saving SFTP's open/write/close round trips and a step; bigger ones, or past the batch's share, go by SFTP.
 */
export const INLINE_LIMITS = { fileBytes: 16 * 1024, batchBytes: 64 * 1024 };

export async function applyFast(session: FastSession, batch: FastBatch, root: string, guard: GuardSpec | undefined): Promise<FastResult> {
  const caps = await session.caps();
  const sftp = await session.sftp();
  const base = remoteRoot(root);
  const remote = (p: string) => (p === '' ? base : base === '.' ? p : `${base.replace(/\/$/, '')}/${p}`);
  const temps: TempCopy[] = batch.ops.flatMap((op) => (op.kind === 'write' ? [{ temp: tempName(op.path), data: op.data, attrs: op.attrs }] : []));
  const inline: TempCopy[] = [];
  const uploads: TempCopy[] = [];
  let budget = INLINE_LIMITS.batchBytes;
  for (const t of temps) {
    if (caps?.inline === true && t.data.length <= INLINE_LIMITS.fileBytes && t.data.length <= budget) {
      budget -= t.data.length;
      inline.push(t);
    } else uploads.push(t);
  }
  const drop = (reason: string) =>
    dropTemps(
      sftp,
      temps.map((t) => remote(t.temp)),
      reason,
    );
  const before = await session.step(beforeScript(batch, root, guard, { inline, login: caps?.login }));
  if (guardRefusal(before.code) !== undefined) return { kind: 'refused', exitCode: before.code, stderr: before.output };
  if (before.code !== 0) return await drop(`checks: exit ${before.code} ${before.output.slice(0, 200)}`);
  const dirs = [...batch.ops.flatMap((op) => (op.kind === 'mkdir' ? [op.attrs] : [])), ...batch.parents];
  // chown never clears a directory's set-ID bits on Linux, but a mode with them waits for the owners all the same.
  const dirsEarly = dirs.every((d) => ((d.mode ?? 0o755) & 0o6000) === 0);
  try {
    if (uploads.length > 0) {
      await Promise.all(uploads.map((u) => call<void>((cb) => sftp.writeFile(remote(u.temp), u.data, { flag: 'wx', mode: 0o600 }, cb))));
      const t = await session.step(tempsScript(root, uploads, caps?.login));
      if (t.code !== 0) return await drop(`temporary files: exit ${t.code} ${t.output.slice(0, 200)}`);
    }
  } catch (e) {
    return await drop(`sftp: ${(e as Error).message}`);
  }
  // One write for both: sftp-server answers in the order sent (each mode before its rename), and the
  // last sh step waits on the replica for the renames it follows (core/fast-script.ts afterScript).
  const after = afterScript(
    batch,
    root,
    caps?.login,
    temps.map((t) => t.temp),
  );
  let sent: Promise<void>[] = [];
  let attrs: Promise<StepResult> | undefined;
  session.batched(() => {
    sent = [
      ...temps.map((t) => call<void>((cb) => sftp.chmod(remote(t.temp), t.attrs.mode ?? 0o644, cb))),
      ...temps.map((t) => call<void>((cb) => sftp.ext_openssh_rename(remote(t.temp), remote(t.attrs.path), cb))),
      ...(dirsEarly ? chmodDirs(sftp, dirs, remote) : []),
    ];
    attrs = after === '' ? undefined : session.step(after);
  });
  const failed = (await Promise.allSettled(sent)).find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    // Removing what is left of the temporary files also ends the step's wait.
    const dropped = await drop(`sftp: ${(failed.reason as Error).message}`);
    await attrs?.catch(() => undefined);
    return dropped;
  }
  const a = await attrs;
  if (a !== undefined && a.code !== 0) return { kind: 'rsync', reason: `attributes: exit ${a.code} ${a.output.slice(0, 200)}` };
  if (!dirsEarly) {
    try {
      await Promise.all(chmodDirs(sftp, dirs, remote));
    } catch (e) {
      return { kind: 'rsync', reason: `directory modes: ${(e as Error).message}` };
    }
  }
  return { kind: 'done' };
}

/** Directory modes (the parents were checked to be real directories). */
function chmodDirs(sftp: SFTPWrapper, dirs: readonly FastAttrs[], remote: (p: string) => string): Promise<void>[] {
  return dirs.map((d) => call<void>((cb) => sftp.chmod(remote(d.path), d.mode ?? 0o755, cb)));
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

/**
 * The replica guard (core/replica-guard.ts) for a root on this machine: the facts by fs calls, the
 * decision by the pure rules, and a refusal as the exit code the shell guard would give, so the
 * batch runner reads both transports' answers alike.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FENCE_FILE, GUARD_EXIT, OWNER_FILE, OWNER_PREFIX, OWNER_SHOWN, guardDecision, type GuardFacts, type GuardSpec } from '../core/replica-guard.js';
import type { RsyncRun } from './run-rsync.js';

export async function localGuardFacts(rootPath: string): Promise<GuardFacts> {
  const root = rootPath.replace(/(.)\/+$/, '$1');
  const [self, parent, fence, owner, holder] = await Promise.all([
    stat(root).catch(() => undefined),
    stat(`${root}/..`).catch(() => undefined),
    stat(`${root}/${FENCE_FILE}`).catch(() => undefined),
    readFile(`${root}/${OWNER_FILE}`, 'utf8').catch(() => undefined),
    stat(dirname(root)).catch(() => undefined),
  ]);
  const rootExists = self?.isDirectory() === true;
  return {
    rootExists,
    parentExists: holder?.isDirectory() === true,
    sameDeviceAsParent: self !== undefined && parent !== undefined && self.dev === parent.dev,
    fenced: fence !== undefined,
    ownerRecord: owner?.slice(0, 4 * OWNER_SHOWN).replace(/\n+$/, ''),
  };
}

/** Runs the guard; a refusal as an rsync-like run, or undefined when rsync may go on. */
export async function runLocalGuard(spec: GuardSpec): Promise<RsyncRun | undefined> {
  const answer = guardDecision(spec, await localGuardFacts(spec.root));
  if (answer.kind === 'refuse') {
    return { exitCode: GUARD_EXIT[answer.refusal], stderr: answer.owner === undefined ? '' : `${OWNER_PREFIX}${answer.owner}\n` };
  }
  const root = spec.root.replace(/(.)\/+$/, '$1');
  // As the shell guard: a record that cannot be written is not an error, rsync's answer says more.
  if (answer.mkdir) await mkdir(root).catch(() => {});
  if (answer.writeOwner) await writeFile(`${root}/${OWNER_FILE}`, `${spec.owner}\n`).catch(() => {});
  return undefined;
}

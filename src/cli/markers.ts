/**
 * fence, unfence and release: the markers at a replica root of this machine that every master's
 * replica guard reads (core/replica-guard.ts; README.md, "Failover"). Each prints one line saying
 * what it did; a DIR that is not a directory is an error and nothing is written.
 */
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FENCE_FILE, OWNER_FILE } from '../core/replica-guard.js';
import type { MarkerCommand } from '../core/option-table.js';
import { MirrorError } from '../errors.js';

/** The marker's text: what fenced it, when, where and why (read by people; the guard needs only its name). */
export function fenceText(at: Date, host: string, reason: string | undefined): string {
  return `fenced by fam-mirror fence\ntime: ${at.toISOString()}\nhost: ${host}\nreason: ${(reason ?? '').replace(/\n/g, ' ')}\n`;
}

export async function markerCommand(command: MarkerCommand, dir: string, reason: string | undefined, now: Date): Promise<string> {
  const st = await stat(dir).catch(() => undefined);
  if (st?.isDirectory() !== true) {
    throw new MirrorError('ERR_OPTIONS', `${command}: ${dir} is ${st === undefined ? 'missing' : 'not a directory'}. Give the replica's root directory on this host.`, { path: dir });
  }
  const fence = join(dir, FENCE_FILE);
  const owner = join(dir, OWNER_FILE);
  if (command === 'fence') {
    // Written aside and renamed: a guard never sees half a marker (any marker fences, even empty).
    const tmp = `${fence}.${process.pid}.tmp`;
    await writeFile(tmp, fenceText(now, hostname(), reason));
    await rename(tmp, fence);
    return `fenced ${dir}: no fam-mirror master writes it until "fam-mirror unfence ${dir}"`;
  }
  if (command === 'unfence') {
    const was = await stat(fence).then(
      () => true,
      () => false,
    );
    await rm(fence, { force: true });
    return was ? `unfenced ${dir}: its owner master (or, after "fam-mirror release", the next one) feeds it again` : `${dir} was not fenced`;
  }
  const record = await readFile(owner, 'utf8').catch(() => undefined);
  await rm(owner, { force: true });
  return record === undefined ? `${dir} had no owner record` : `released ${dir} from ${record.trim()}: the next master to write it becomes its owner`;
}

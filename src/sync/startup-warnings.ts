/**
 * What a start can see that will cost a day later, said once as a coded warning ('warning' event):
 * state that others on this machine can read (it names every path of the tree: the state files are
 * written 0600 in 0700 directories, and looser ones left from before are named, and made private
 * where they are this mirror's own), and a source on a network file system, whose other clients'
 * writes inotify never reports (core/network-fs.ts). A warning never stops the start; what cannot
 * be read is left unsaid (debug log).
 */
import { chmod, lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import createDebug from 'debug';
import { isNetworkFs, mountOf, parseMountInfo } from '../core/network-fs.js';
import type { WarningEvent } from '../types.js';
import type { NormalizedOptions } from '../options.js';
import { hashName } from './journal-format.js';

const debug = createDebug('fam-mirror:warnings');

export const MOUNT_INFO = '/proc/self/mountinfo';

/** What a start may warn about, before it writes any state (durable state: not in a dry run). */
export async function startupWarnings(o: Pick<NormalizedOptions, 'source' | 'reconcileIntervalSec' | 'stateDir' | 'dryRun'>, mountInfoFile: string): Promise<WarningEvent[]> {
  const warnings: WarningEvent[] = [];
  if (o.stateDir !== undefined && !o.dryRun) warnings.push(...(await stateWarnings(o.stateDir, join(o.stateDir, hashName(o.source)))));
  const network = await networkWarning(o.source, o.reconcileIntervalSec, mountInfoFile);
  if (network !== undefined) warnings.push(network);
  return warnings;
}

async function stateWarnings(stateDir: string, ownDir: string): Promise<WarningEvent[]> {
  const warnings: WarningEvent[] = [];
  const mode = await modeOf(stateDir);
  // The state directory may be the admin's (or systemd's StateDirectory=): named, not changed.
  if (mode !== undefined && (mode & 0o077) !== 0) {
    warnings.push({
      code: 'WARN_STATE_READABLE',
      path: stateDir,
      message: `The state directory ${stateDir} is readable by others (mode ${octal(mode)}): the state in it names every path of the mirrored trees. Run chmod 700 ${stateDir}.`,
    });
  }
  await ownState(ownDir, warnings);
  return warnings;
}

/** This mirror's own directory, recursively: a loose entry is named and made private. */
async function ownState(dir: string, warnings: WarningEvent[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    debug('cannot list %s: %s', dir, (e as Error).message);
    return;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || !(st.isFile() || st.isDirectory())) continue;
    if ((st.mode & 0o077) !== 0) {
      const want = st.isDirectory() ? 0o700 : 0o600;
      const fixed = await chmod(path, want).then(
        () => `it was made private (${octal(want)})`,
        (e: NodeJS.ErrnoException) => `it could not be made private (${e.code ?? e.message}): run chmod ${octal(want).slice(1)} ${path}`,
      );
      warnings.push({
        code: 'WARN_STATE_READABLE',
        path,
        message: `The state ${st.isDirectory() ? 'directory' : 'file'} ${path} is readable by others (mode ${octal(st.mode)}): ${fixed}.`,
      });
    }
    if (st.isDirectory()) await ownState(path, warnings);
  }
}

async function networkWarning(source: string, reconcileIntervalSec: number, mountInfoFile: string): Promise<WarningEvent | undefined> {
  let text: string;
  try {
    text = await readFile(mountInfoFile, 'utf8');
  } catch (e) {
    debug('cannot read %s: %s', mountInfoFile, (e as Error).message);
    return undefined;
  }
  const real = await realpath(source).catch(() => source);
  const mount = mountOf(parseMountInfo(text), real);
  if (mount === undefined || !isNetworkFs(mount.type)) return undefined;
  const pass = reconcileIntervalSec > 0 ? `the next full pass (every ${reconcileIntervalSec} s)` : 'a full pass (periodic passes are off)';
  return {
    code: 'WARN_SOURCE_NETWORK_FS',
    path: source,
    message: `The source ${source} is on ${mount.type} (${mount.device}): inotify sees only changes made on this machine, so what other clients of that file system write reaches no replica before ${pass}. Run fam-mirror on the file server itself, or lower --reconcile-every.`,
  };
}

async function modeOf(path: string): Promise<number | undefined> {
  return await lstat(path).then(
    (st) => st.mode,
    () => undefined,
  );
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

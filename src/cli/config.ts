/**
 * The files the command line names (the JSON config, watch lists, exclude and never-replicate
 * lists), turned into data. The reading itself is the caller's `Files` (the real file system in
 * main.ts, a table in the tests), so everything here is pure.
 */
import { MirrorError } from '../errors.js';
import type { MirrorOptions } from '../options.js';
import { parseListText } from '../core/watch-list.js';
import { LIBRARY_OPTIONS } from '../core/option-table.js';
import { suggest } from '../core/suggest.js';

/** How the command line reaches files: readText throws the file system's error (with its `code`). */
export interface Files {
  readText(path: string): string;
  exists(path: string): boolean;
  /** The file's `st_mode` (throws as readText does). */
  mode(path: string): number;
}

export const SYSTEM_CONFIG = '/etc/fam-mirror.json';

/**
 * A JSON object with the library's option names (validated by the library, so an unknown key or a
 * wrong type is an error naming the key). `--config FILE`, else /etc/fam-mirror.json when present.
 */
export function loadConfig(file: string | undefined, files: Files): Partial<MirrorOptions> {
  const path = file ?? (files.exists(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
  if (path === undefined) return {};
  let text: string;
  try {
    text = files.readText(path);
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `Cannot read the config file ${path}: ${errorCode(e)}. Check the path and its permissions.`, { path, cause: e });
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): Partial<MirrorOptions> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `The config file ${path} is not valid JSON: ${(e as Error).message}.`, { path, cause: e });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new MirrorError('ERR_CONFIG', `The config file ${path} must hold a JSON object of options, e.g. {"source": "/var/www", "replicas": ["web2"]}.`, { path });
  }
  // Checked here, not only by the library, so the message can name the file the key is in.
  const known = Object.keys(LIBRARY_OPTIONS);
  for (const key of Object.keys(parsed)) {
    if (known.includes(key)) continue;
    const near = suggest(
      key.replace(/[-_](\w)/g, (_m, c: string) => c.toUpperCase()),
      known,
    );
    throw new MirrorError(
      'ERR_CONFIG',
      `The config file ${path} has an unknown key "${key}"${near === undefined ? '' : `: did you mean "${near}"?`} (keys are the library option names of README's options table)`,
      { path },
    );
  }
  return parsed as Partial<MirrorOptions>;
}

/** The entries of a list file (comments dropped, see parseListText); `what` names it in the error. */
export function readList(file: string, what: string, files: Files): string[] {
  return parseListText(readListText(file, what, files));
}

export function readListText(file: string, what: string, files: Files): string {
  try {
    return files.readText(file);
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `Cannot read the ${what} ${file}: ${errorCode(e)}.`, { path: file, cause: e });
  }
}

/**
 * `--passphrase-file`: the first line of a private file (as ssh refuses a private key that group or
 * others may read, so this refuses such a file: the passphrase is worth as much as the key). The
 * passphrase itself is in no message.
 */
export function readPassphrase(file: string, files: Files): string {
  let text: string;
  let mode: number;
  try {
    mode = files.mode(file);
    text = files.readText(file);
  } catch (e) {
    throw new MirrorError('ERR_CONFIG', `Cannot read the passphrase file ${file}: ${errorCode(e)}.`, { path: file, cause: e });
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new MirrorError('ERR_CONFIG', `The passphrase file ${file} is readable by others (mode ${octal}): make it private (chmod 600 ${file}), as ssh requires of a private key.`, { path: file });
  }
  const first = text.split('\n')[0]!.replace(/\r$/, '');
  if (first === '') throw new MirrorError('ERR_CONFIG', `The passphrase file ${file} has an empty first line: put the passphrase on it.`, { path: file });
  return first;
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

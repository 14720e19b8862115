/**
 * What a dry run prints (design: every claim is true when made, and a dry run says "would"): per
 * rsync call, one log line with what it would send and delete, then rsync's itemized changes in
 * words, and the command an admin can run by hand (rsync/hand-command.ts). Pure.
 */
import type { NormalizedOptions } from '../options.js';
import { LIBRARY_OPTIONS } from '../core/option-table.js';
import { handArgv, shellLine, type HandSsh } from '../rsync/hand-command.js';
import type { PlannedEvent } from '../types.js';

/**
 * One itemized line (`--out-format=%i %b %n%L`, rsync's man page under --itemize-changes) in words;
 * rsync's own "created directory X" (the replica root it would make) too. Names stay as rsync
 * escapes them (\#ooo), in double quotes.
 */
export function describeItem(line: string): string {
  const created = /^created directory (.+)$/.exec(line);
  if (created !== null) return `would create the replica directory ${JSON.stringify(created[1])}`;
  const m = /^(\S+)\s+\d+ (.*)$/s.exec(line);
  if (m === null) return line;
  const [code, rest] = [m[1]!, m[2]!];
  // %L: " -> target" for a symlink, " => target" for a hard link.
  const link = / [-=]> /.exec(rest);
  const name = JSON.stringify(link === null ? rest : rest.slice(0, link.index));
  const target = link === null ? '' : ` -> ${JSON.stringify(rest.slice(link.index + 4))}`;
  if (code.startsWith('*deleting')) return `would delete ${name}`;
  const created2 = code.slice(2).startsWith('+++');
  const kind = { f: 'file', d: 'directory', L: 'symlink', D: 'device', S: 'special file' }[code[1]!] ?? 'entry';
  if (code[0] === '<' || code[0] === '>') return `would send ${name}${created2 ? ' (new)' : ''}`;
  if (code[0] === 'h') return `would hard-link ${name}${target.replace(' -> ', ' to ')}`;
  if (code[0] === 'c') return `would create ${kind} ${name}${target}`;
  return `would update the attributes of ${name}`;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** A dry run's call: the log line, then its listed paths, rsync's changes in words and the hand command, one a line. */
export function describePlanned(e: PlannedEvent, hand: string): { line: string; details: string } {
  const what = e.paths === 'full' ? 'a full pass' : plural(e.paths.length, 'listed path');
  const effect =
    e.changes === 0
      ? 'nothing would change'
      : `would send ${plural(e.files, 'file')}, would delete ${plural(e.deletions, 'entry').replace(/entrys$/, 'entries')}, ${plural(e.changes, 'change')} in all`;
  const paths = e.paths === 'full' ? [] : e.paths.map((p) => `  path ${JSON.stringify(p)}\n`);
  const items = e.items.map((item) => `  ${describeItem(item)}\n`);
  const more = e.changes > e.items.length ? [`  … and ${e.changes - e.items.length} more\n`] : [];
  const stdin = e.paths === 'full' ? '' : ' (the listed paths NUL-separated on stdin)';
  return { line: `dry run: ${e.replica}, ${what}: ${effect}`, details: [...paths, ...items, ...more, `  by hand${stdin}: ${hand}\n`].join('') };
}

/**
 * The hand command of a replica's planned call. Identity and known_hosts files are named only when
 * they are not OpenSSH's defaults under `homeDir`, which ssh reads by itself.
 */
export function handCommand(e: PlannedEvent, options: NormalizedOptions, homeDir: string): string {
  const replica = options.replicas.find((r) => r.id === e.replica);
  const home = (f: string) => (f.startsWith('~/') ? `${homeDir}/${f.slice(2)}` : f);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === home(b[i]!));
  let ssh: HandSsh | undefined;
  if (replica?.kind === 'ssh') {
    ssh = {
      host: replica.host,
      port: replica.port,
      user: replica.user,
      identityFiles: same(options.identityFiles, LIBRARY_OPTIONS.identityFiles.value.default) ? [] : options.identityFiles,
      knownHostsFiles: same(options.knownHostsFiles, LIBRARY_OPTIONS.knownHostsFiles.value.default) ? [] : options.knownHostsFiles,
      strictHostKeyChecking: options.strictHostKeyChecking,
    };
  }
  return shellLine(handArgv(options.rsyncPath, e.args, ssh, options.exclude));
}

/**
 * The rsync command an admin can run by hand for what the mirror runs (a dry run shows it): the
 * same argv, with OpenSSH as the remote shell (`-e 'ssh -p PORT -i KEY'`) and `[user@]host:path` as
 * the destination instead of the internal bridge. Pure.
 *
 * Two quoting levels: the shell line quotes every word that needs it, and every path, with the one
 * shell quoting function (core/shell-quote.ts); the `-e` command inside it is split by rsync itself,
 * not by a shell (rsync's man page, --rsh: single or double quotes keep spaces, a doubled quote
 * inside stands for itself, backslashes mean nothing), so its words are quoted rsync's way.
 */
import { shellQuote } from '../core/shell-quote.js';
import { BRIDGE_HOST } from './args.js';

/** How OpenSSH reaches the replica; each list holds only what differs from OpenSSH's own defaults. */
export interface HandSsh {
  host: string;
  port: number;
  /** undefined: ssh's own default (the local user, or the User of ~/.ssh/config). */
  user: string | undefined;
  identityFiles: readonly string[];
  knownHostsFiles: readonly string[];
  strictHostKeyChecking: 'yes' | 'accept-new' | 'no';
}

/**
 * The argv (rsync first) of the hand command; `ssh` undefined for a local replica. The mirror's
 * exclude rule file is removed when it stops: the hand command names its patterns with --exclude,
 * which means what a line of that file means (args.ts, encodeExcludeRules).
 */
export function handArgv(rsyncPath: string, args: readonly string[], ssh: HandSsh | undefined, excludes: readonly string[] = []): string[] {
  const out = [rsyncPath];
  for (const [i, arg] of args.entries()) {
    if (arg.startsWith('--exclude-from=')) out.push(...excludes.map((p) => `--exclude=${p}`));
    else if (arg.startsWith('--rsh=')) {
      if (ssh !== undefined) out.push('-e', sshCommand(ssh));
    } else if (ssh !== undefined && i === args.length - 1 && arg.startsWith(`${BRIDGE_HOST}:`)) {
      const host = ssh.host.includes(':') ? `[${ssh.host}]` : ssh.host;
      out.push(`${ssh.user === undefined ? '' : `${ssh.user}@`}${host}:${arg.slice(BRIDGE_HOST.length + 1)}`);
    } else out.push(arg);
  }
  return out;
}

function sshCommand(ssh: HandSsh): string {
  const words = ['ssh'];
  if (ssh.port !== 22) words.push('-p', String(ssh.port));
  for (const key of ssh.identityFiles) words.push('-i', key);
  // ssh splits this option's value itself, as a line of ssh_config: a name with a space in double quotes.
  if (ssh.knownHostsFiles.length > 0) words.push('-o', `UserKnownHostsFile=${ssh.knownHostsFiles.map((f) => (/\s/.test(f) ? `"${f}"` : f)).join(' ')}`);
  if (ssh.strictHostKeyChecking !== 'yes') words.push('-o', `StrictHostKeyChecking=${ssh.strictHostKeyChecking}`);
  return words.map(rshWord).join(' ');
}

/** A word of rsync's -e command: bare when plain, else single-quoted with inner quotes doubled. */
export function rshWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "''")}'`;
}

/**
 * The shell line of an argv: a word that is plain stays bare, any other word and every path
 * (source, destination, key) is shell-quoted.
 */
export function shellLine(argv: readonly string[]): string {
  const afterDashes = argv.indexOf('--');
  return argv.map((w, i) => (/^[A-Za-z0-9_%+=:,.-]+$/.test(w) && !(afterDashes >= 0 && i > afterDashes) ? w : shellQuote(w))).join(' ');
}

/**
 * The OpenSSH side of the comparison: `rsync -e "ssh …"` with a fresh login per call, and the same with
 * a ControlMaster that keeps one login open.
 *
 * `-F none` (as the test helpers do): Debian's /etc/ssh/ssh_config turns on GSSAPI and a user's
 * ~/.ssh/config could add a ControlMaster to the "fresh login" case; the figures must not depend on
 * either. `IdentitiesOnly=yes`: an agent's other keys would cost extra round trips.
 */
import type { SshdHost } from '../../test/helpers/sshd.js';
import { capture, isAlive, waitGone } from './proc.js';

/** ssh argv words (without the program name) reaching `h` with its test key and known_hosts. */
export function sshWords(h: SshdHost): string[] {
  return ['-F', 'none', '-i', h.identityFile, '-p', String(h.port), '-o', `UserKnownHostsFile=${h.knownHostsFile}`, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'];
}

export function controlMasterWords(controlPath: string): string[] {
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=60'];
}

/**
 * rsync's `-e` value. rsync splits it on whitespace itself (honouring quotes); no shell is involved.
 * A word that would need quoting is refused rather than quoted: the temp paths here never need it.
 */
export function rshValue(words: readonly string[]): string {
  for (const w of words) {
    if (w === '' || /[\s'"\\]/.test(w)) throw new Error(`refusing an ssh argument rsync would re-split: ${JSON.stringify(w)}`);
  }
  return ['ssh', ...words].join(' ');
}

/**
 * Closes the ControlMaster behind `controlPath` with `ssh -O exit`; if it is still alive after that,
 * SIGTERM to the pid `ssh -O check` reported (only that process). Returns what happened, for the JSON.
 */
export async function closeControlMaster(h: SshdHost, controlPath: string): Promise<string> {
  const base = [...sshWords(h), '-o', `ControlPath=${controlPath}`];
  const dest = `${h.user}@127.0.0.1`;
  const check = await capture('ssh', [...base, '-O', 'check', dest], 5_000);
  const pid = Number(/pid=(\d+)/.exec(check.stderr + check.stdout)?.[1] ?? 0);
  if (check.code !== 0) return 'no master running';
  const exit = await capture('ssh', [...base, '-O', 'exit', dest], 5_000);
  if (pid > 0 && !(await waitGone(pid, 3_000)) && isAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    return `ssh -O exit exited ${exit.code}; master pid ${pid} still alive, sent SIGTERM`;
  }
  return `closed with ssh -O exit (master pid ${pid || '?'})`;
}

/** The pid of the ControlMaster behind `controlPath` for `h` (`ssh -O check`), or undefined when none runs. */
export async function controlMasterPid(h: SshdHost, controlPath: string): Promise<number | undefined> {
  const check = await capture('ssh', [...sshWords(h), '-o', `ControlPath=${controlPath}`, '-O', 'check', `${h.user}@127.0.0.1`], 5_000);
  const pid = Number(/pid=(\d+)/.exec(check.stderr + check.stdout)?.[1] ?? 0);
  return check.code === 0 && pid > 0 ? pid : undefined;
}

/**
 * Reads OpenSSH client configuration files into plain entries for core/ssh-config.ts, which decides
 * what applies to a host. A missing file is no configuration (as for ssh); a file that cannot be
 * parsed is an ERR_SSH_CONFIG error naming the file and line. `Include` is followed (a `*` or `?` in
 * the last path component is expanded, relative names are under ~/.ssh for the user's file and
 * /etc/ssh otherwise, as ssh_config(5) says), at most a few levels deep.
 */
// The `ssh-config` package is the maintained, dependency-free parser of this format; only its parse()
// is used: its compute() would run `Match exec` commands through a shell.
import SSHConfig, { type Line } from 'ssh-config';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { SshConfigCondition, SshConfigEntry } from '../core/ssh-config.js';
import { MirrorError } from '../errors.js';

const MAX_INCLUDE_DEPTH = 8;

/** The entries of `files`, in order (the first file's first: first value wins). */
export async function loadSshConfig(files: readonly string[], homeDir: string): Promise<SshConfigEntry[]> {
  const out: SshConfigEntry[] = [];
  // As with `ssh -F FILE`, any file but the system one takes relative Includes from ~/.ssh.
  for (const file of files) await readOne(file, { kind: 'all' }, out, file.startsWith('/etc/ssh/') ? '/etc/ssh' : join(homeDir, '.ssh'), homeDir, 0);
  return out;
}

async function readOne(file: string, outer: SshConfigCondition, out: SshConfigEntry[], base: string, home: string, depth: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new MirrorError('ERR_SSH_CONFIG', `Cannot read the ssh config ${file}: ${(e as Error).message}. Fix its permissions, or pass --ssh-config none.`, { path: file, cause: e });
  }
  for (const entry of parseSshConfig(text, file, outer)) {
    if (entry.key !== 'include') {
      out.push(entry);
      continue;
    }
    if (depth >= MAX_INCLUDE_DEPTH) throw new MirrorError('ERR_SSH_CONFIG', `${file}:${entry.line}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?).`, { path: file });
    for (const pattern of entry.value.split(/\s+/).filter((p) => p !== '')) {
      const abs = pattern.replace(/^~(?=\/)/, home);
      for (const f of await expandGlob(isAbsolute(abs) ? abs : join(base, abs))) await readOne(f, entry.when, out, base, home, depth + 1);
    }
  }
}

/** One file's text to entries; each directive carries the condition of the Host/Match block it is in. */
export function parseSshConfig(text: string, file: string, outer: SshConfigCondition = { kind: 'all' }): SshConfigEntry[] {
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (e) {
    throw new MirrorError('ERR_SSH_CONFIG', `${file}:${failingLine(text)}: cannot parse it (${(e as Error).message}). Fix that line, or pass --ssh-config none.`, { path: file, cause: e });
  }
  const out: SshConfigEntry[] = [];
  let line = 1;
  const walk = (lines: readonly Line[], when: SshConfigCondition) => {
    for (const l of lines) {
      line += count(l.before);
      if (l.type === SSHConfig.DIRECTIVE) {
        const key = l.param.toLowerCase();
        const value = Array.isArray(l.value) ? l.value.map((v) => v.val) : [l.value];
        if (/\s/.test(l.param) || value.join('') === '') {
          throw new MirrorError('ERR_SSH_CONFIG', `${file}:${line}: "${l.param.trim()}" has no value. Fix that line, or pass --ssh-config none.`, { path: file });
        }
        const here = line;
        line += count(l.after);
        if ('config' in l) {
          const cond: SshConfigCondition = key === 'host' ? { kind: 'host', patterns: value } : { kind: 'match', criteria: value.join(' ') };
          walk(l.config, cond);
        } else out.push({ key, value: value.join(' '), file, line: here, when });
      } else line += count(l.after);
    }
  };
  walk(parsed, outer);
  return out;
}

/** The first line the parser refuses on its own (it says what, not where). */
function failingLine(text: string): number {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    try {
      SSHConfig.parse(lines[i]!);
    } catch {
      return i + 1;
    }
  }
  return lines.length;
}

function count(s: string): number {
  let n = 0;
  for (const c of s) if (c === '\n') n++;
  return n;
}

/** A `*`/`?` in the last component only (what Include lines use in practice), sorted as glob(3) does. */
async function expandGlob(path: string): Promise<string[]> {
  const name = basename(path);
  if (!/[*?]/.test(name)) return [path];
  const re = new RegExp(
    `^${name
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dirname(path), n));
}

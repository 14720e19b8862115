/**
 * What a figure depends on: machine, tool versions, the code measured, and how the run was started.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { capture } from './proc.js';

export interface RunEnvironment {
  date: string;
  command: string;
  argv: string[];
  machine: { nproc: number; cpuModel: string; kernel: string; os: string; memGiB: number; loadavgAtStart: number[]; loadavgAtEnd?: number[] };
  versions: { node: string; rsync: string; ssh: string; ssh2: string; parcelWatcher: string };
  git: { commit: string; dirty: boolean };
}

async function packageVersion(name: string): Promise<string> {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(await readFile(url, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

/** How the user typed it: npm sets npm_lifecycle_event for `npm run bench`. */
function commandLine(args: readonly string[]): string {
  const rest = args.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return rest ? `npm run bench -- ${rest}` : 'npm run bench';
  return `node --import tsx bench/run.ts${rest ? ` ${rest}` : ''}`;
}

export async function describeEnvironment(args: readonly string[]): Promise<RunEnvironment> {
  const [rsync, ssh, head, status, ssh2, watcher] = await Promise.all([
    capture('rsync', ['--version']),
    capture('ssh', ['-V']),
    capture('git', ['rev-parse', 'HEAD']),
    capture('git', ['status', '--porcelain']),
    packageVersion('ssh2'),
    packageVersion('@parcel/watcher'),
  ]);
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    command: commandLine(args),
    argv: [...args],
    machine: {
      nproc: os.availableParallelism(),
      cpuModel: cpus[0]?.model ?? '?',
      kernel: os.release(),
      os: `${os.type()} ${os.machine()}`,
      memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      loadavgAtStart: loadavg(),
    },
    versions: {
      node: process.version,
      rsync: /version\s+(\S+)/.exec(rsync.stdout)?.[1] ?? rsync.stdout.split('\n')[0] ?? '?',
      ssh: (ssh.stderr || ssh.stdout).trim().split(',')[0] ?? '?',
      ssh2,
      parcelWatcher: watcher,
    },
    git: { commit: head.stdout.trim() || '?', dirty: status.stdout.trim() !== '' },
  };
}

export function loadavg(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/**
 * What a running process costs, read from /proc: peak resident memory and inotify watches.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** VmHWM (peak RSS) of `pid` in KiB; undefined when the process is gone. */
export function vmHwmKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Inotify watches held by `pid`: the `inotify wd:` lines of every fd in /proc/PID/fdinfo (one line per
 * watch of an inotify instance). undefined when the process is gone.
 */
export function inotifyWatches(pid: number): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return undefined;
  }
  let n = 0;
  for (const fd of fds) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
    } catch {
      continue; // closed meanwhile
    }
    if (!text.includes('inotify wd:')) continue;
    // Bounded by the file's length: one match per line.
    for (let i = text.indexOf('inotify wd:'); i !== -1; i = text.indexOf('inotify wd:', i + 1)) n++;
  }
  return n;
}

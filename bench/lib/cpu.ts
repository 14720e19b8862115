/**
 * CPU time (user + system) of a group of processes and of everything they start, between two moments.
 *
 * Preferred: a cgroup v2 of our own (`/sys/fs/cgroup` when it is a pure v2 mount, else the hybrid
 * layout's `/sys/fs/cgroup/unified`): the processes are moved into it, their children are born in it,
 * and its `cpu.stat` `usage_usec` counts every process that ever ran there, exited ones included,
 * exactly. That needs root and a writable cgroup2 mount; the core accounting of `cpu.stat` is there
 * even when no controller is enabled (kernel 4.15+).
 *
 * Fallback (no cgroup2 we can write): the process trees under the given roots, read from /proc at
 * each reading: utime + stime + cutime + cstime of every live process. A child that exits and is reaped
 * by its parent in between shows up in the parent's cutime/cstime; what is lost is a process whose
 * parent died first (re-parented to init) and the part of a live child's children not yet reaped.
 * The meter says which method it used (`method`), so a figure never hides how it was taken.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Linux's USER_HZ as seen in /proc/PID/stat: 100 on every architecture Node supports. */
const CLOCK_TICKS_PER_SEC = 100;

/** `usage_usec` of a cgroup v2 `cpu.stat` text; undefined when absent. Pure. */
export function parseCpuStat(text: string): { usageUsec: number; userUsec?: number; systemUsec?: number } | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  const usageUsec = field('usage_usec');
  if (usageUsec === undefined) return undefined;
  return { usageUsec, userUsec: field('user_usec'), systemUsec: field('system_usec') };
}

/**
 * From one /proc/PID/stat line: the parent pid and utime + stime + cutime + cstime in clock ticks.
 * comm (field 2) may hold spaces and parentheses: the fields after the last ')' are fixed. Pure.
 */
export function parseProcStat(line: string): { ppid: number; ticks: number } | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") ": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17) → indexes 0, 1, 11..14.
  const f = line.slice(close + 2).split(' ');
  const nums = [f[1], f[11], f[12], f[13], f[14]].map(Number);
  if (nums.some((x) => !Number.isFinite(x))) return undefined;
  const [ppid, ...t] = nums as [number, number, number, number, number];
  return { ppid, ticks: t.reduce((a, b) => a + b, 0) };
}

/** The writable cgroup2 mount, or undefined. */
function cgroup2Root(): string | undefined {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (statSync(join(dir, 'cgroup.procs')).isFile() && parseCpuStat(readFileSync(join(dir, 'cpu.stat'), 'latin1')) !== undefined) return dir;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export interface CpuMeter {
  readonly method: 'cgroup2' | 'proc-tree';
  readonly name: string;
  /** Puts `pid` (and so everything it starts from now on) under this meter. Never throws: a pid gone is skipped. */
  add(pid: number): void;
  /** CPU µs so far (cgroup: since creation; proc-tree: of the live trees, so use differences only). */
  usec(): number;
  /** Moves what is left back to the parent and removes the cgroup. Idempotent. */
  close(): string;
}

let seq = 0;

/**
 * A meter named `name` (cgroup `fam-bench-PID-N-name`); cgroup2 when we can, else the /proc trees.
 * `method: 'proc-tree'` asks for the trees anyway (a cross-check of the cgroup figure).
 */
export function createCpuMeter(name: string, method?: 'proc-tree'): CpuMeter {
  const root = process.getuid?.() === 0 && method === undefined ? cgroup2Root() : undefined;
  if (root !== undefined) {
    const dir = join(root, `fam-bench-${process.pid}-${++seq}-${name.replace(/[^\w-]/g, '_')}`);
    try {
      mkdirSync(dir);
      return new CgroupMeter(name, root, dir);
    } catch {
      // read-only or delegated elsewhere: fall back
    }
  }
  return new ProcTreeMeter(name);
}

class CgroupMeter implements CpuMeter {
  readonly method = 'cgroup2' as const;
  #closed = false;
  constructor(
    readonly name: string,
    readonly root: string,
    readonly dir: string,
  ) {}

  add(pid: number): void {
    try {
      writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
    } catch {
      // ESRCH: gone already
    }
  }

  usec(): number {
    return parseCpuStat(readFileSync(join(this.dir, 'cpu.stat'), 'latin1'))?.usageUsec ?? NaN;
  }

  close(): string {
    if (this.#closed) return 'closed already';
    this.#closed = true;
    let moved = 0;
    // Bounded: a few passes; a process forking meanwhile is the only reason for a second one.
    for (let pass = 0; pass < 5; pass++) {
      let pids: string[];
      try {
        pids = readFileSync(join(this.dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean);
      } catch {
        return `cgroup ${this.dir} gone`;
      }
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          writeFileSync(join(this.root, 'cgroup.procs'), pid);
          moved++;
        } catch {
          // exited meanwhile
        }
      }
    }
    try {
      rmdirSync(this.dir);
      return `cgroup ${this.name} removed${moved > 0 ? ` (${moved} process(es) moved back first)` : ''}`;
    } catch (err) {
      return `cgroup ${this.dir} not removed: ${(err as Error).message}`;
    }
  }
}

class ProcTreeMeter implements CpuMeter {
  readonly method = 'proc-tree' as const;
  readonly #roots = new Set<number>();
  constructor(readonly name: string) {}

  add(pid: number): void {
    this.#roots.add(pid);
  }

  usec(): number {
    const procs = new Map<number, { ppid: number; ticks: number }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const p = parseProcStat(readFileSync(`/proc/${name}/stat`, 'latin1'));
        if (p !== undefined) procs.set(Number(name), p);
      } catch {
        // exited meanwhile
      }
    }
    const children = new Map<number, number[]>();
    for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
    const seen = new Set<number>();
    const queue = [...this.#roots].filter((p) => procs.has(p));
    let ticks = 0;
    // Bounded by the number of processes: each pid is counted once.
    while (queue.length > 0 && seen.size <= procs.size) {
      const pid = queue.shift()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      ticks += procs.get(pid)!.ticks;
      queue.push(...(children.get(pid) ?? []));
    }
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SEC;
  }

  close(): string {
    return 'proc-tree meter: nothing to remove';
  }
}

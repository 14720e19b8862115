/**
 * A seeded generator of file-system churn, in the spirit of lsyncd's own `churn` test: random
 * operations on a source tree (writes, renames, swaps, type changes, links, hostile names), applied
 * synchronously so that the order on disk is exactly the order logged. The same seed gives the same
 * operations; the log of the last ones is printed when a run ends in a difference.
 *
 * The generator keeps a model of the tree (path → type) to pick its operands; an operation that the
 * file system refuses (the model can drift, e.g. after `rename` onto a non-empty directory) is
 * logged as refused and changes nothing.
 *
 * Hard-linked names are created and written through, but never removed, renamed or moved with their
 * directory: a name linked, written through and removed before the mirror's next batch changes the
 * other name with no event naming anything that still exists (inotify reports the written name only),
 * which no watcher can see; only a full pass repairs it (README, "Hard links").
 */
import { appendFileSync, chmodSync, linkSync, mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './prng.js';

type Kind = 'file' | 'dir' | 'link';

/** Name parts a hostile user or a careless upload would produce; each name also gets a counter. */
const NAME_PARTS = [
  'a',
  'b',
  'index.html',
  'with space',
  "quo'te",
  'dq"uote',
  'new\nline',
  '-lead',
  '--delete',
  '$(id)',
  '`tick`',
  'ünï',
  '日本',
  'semi;colon',
  '*star?',
  '#hash',
  ';semi',
  '.dot',
  'back\\slash',
  'tab\tname',
  '[br]',
  'cache',
  '.git',
];

export type OpName =
  | 'mkdir'
  | 'write'
  | 'rewrite'
  | 'truncate'
  | 'append'
  | 'chmod'
  | 'symlink-file'
  | 'symlink-dir'
  | 'symlink-dangling'
  | 'rename-file'
  | 'rename-dir'
  | 'rename-over-file'
  | 'swap-dirs'
  | 'file-to-dir'
  | 'dir-to-file'
  | 'dir-to-symlink'
  | 'rm'
  | 'rm-r'
  | 'hardlink'
  | 'rewrite-keep-mtime'
  | 'write-through-link';

/** Relative weights: writes dominate, as on a real server; every kind still comes up in a few hundred ops. */
const WEIGHTS: Record<OpName, number> = {
  mkdir: 8,
  write: 14,
  rewrite: 8,
  truncate: 3,
  append: 4,
  chmod: 4,
  'symlink-file': 2,
  'symlink-dir': 2,
  'symlink-dangling': 2,
  'rename-file': 5,
  'rename-dir': 4,
  'rename-over-file': 3,
  'swap-dirs': 3,
  'file-to-dir': 2,
  'dir-to-file': 2,
  'dir-to-symlink': 2,
  rm: 5,
  'rm-r': 3,
  hardlink: 3,
  'rewrite-keep-mtime': 3,
  'write-through-link': 3,
};

export interface ChurnOptions {
  /** Leave out some operations (e.g. while a fix for one of them is under way elsewhere). */
  exclude?: readonly OpName[];
  /** How many of the last operations the log keeps (default 60). */
  keep?: number;
}

export class Churn {
  readonly root: string;
  readonly seed: number;
  readonly #rand: () => number;
  readonly #model = new Map<string, Kind>();
  /** Names of hard-linked files (see the header). */
  readonly #pinned = new Set<string>();
  readonly #ops: Array<[OpName, number]>;
  readonly #total: number;
  readonly #log: string[] = [];
  readonly #keep: number;
  #counter = 0;
  /** Operations applied (refused ones included). */
  count = 0;

  constructor(root: string, seed: number, opts: ChurnOptions = {}) {
    this.root = root;
    this.seed = seed;
    this.#rand = prng(seed);
    this.#keep = opts.keep ?? 60;
    this.#ops = (Object.entries(WEIGHTS) as Array<[OpName, number]>).filter(([n]) => !opts.exclude?.includes(n));
    this.#total = this.#ops.reduce((s, [, w]) => s + w, 0);
  }

  /** Applies one random operation (none of `without`); returns its log line. */
  step(without: readonly OpName[] = []): string {
    const ops = without.length === 0 ? this.#ops : this.#ops.filter(([n]) => !without.includes(n));
    const total = without.length === 0 ? this.#total : ops.reduce((sum, [, w]) => sum + w, 0);
    let r = this.#rand() * total;
    let op: OpName = ops[0]![0];
    for (const [name, w] of ops) {
      r -= w;
      if (r < 0) {
        op = name;
        break;
      }
    }
    this.count++;
    let line: string;
    try {
      line = this.#apply(op);
    } catch (e) {
      line = `${op} refused: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
    this.#log.push(`#${this.count} ${line}`);
    if (this.#log.length > this.#keep) this.#log.shift();
    return line;
  }

  /** A random integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#rand() * n);
  }

  /** The last operations, one per line, names JSON-quoted. */
  lastOps(): string {
    return this.#log.join('\n');
  }

  #pick(kind: Kind | 'any'): string | undefined {
    const all = [...this.#model].filter(([, k]) => kind === 'any' || k === kind).map(([p]) => p);
    return all.length === 0 ? undefined : all[this.int(all.length)];
  }

  /** An operand an operation may remove or move: no hard-linked name at or below it. */
  #pickMovable(kind: Kind): string | undefined {
    const all = [...this.#model].filter(([p, k]) => k === kind && ![...this.#pinned].some((n) => n === p || n.startsWith(`${p}/`))).map(([p]) => p);
    return all.length === 0 ? undefined : all[this.int(all.length)];
  }

  /** A directory to create something in ('' = the root). */
  #dir(): string {
    const dirs = ['', ...[...this.#model].filter(([, k]) => k === 'dir').map(([p]) => p)];
    return dirs[this.int(dirs.length)]!;
  }

  #newName(dir: string): string {
    const name = `${NAME_PARTS[this.int(NAME_PARTS.length)]}${++this.#counter}`;
    return dir === '' ? name : `${dir}/${name}`;
  }

  #abs(p: string): string {
    return join(this.root, p);
  }

  #content(): Buffer {
    const n = this.int(4) === 0 ? this.int(40_000) : this.int(600);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = 32 + this.int(90);
    return b;
  }

  /** Moves every model entry at or below `from` to `to`. */
  #moveModel(from: string, to: string): void {
    for (const [p, k] of [...this.#model]) {
      if (p === from || p.startsWith(`${from}/`)) {
        this.#model.delete(p);
        this.#model.set(to + p.slice(from.length), k);
      }
    }
  }

  #dropModel(path: string): void {
    for (const p of [...this.#model.keys()]) if (p === path || p.startsWith(`${path}/`)) this.#model.delete(p);
  }

  #apply(op: OpName): string {
    const q = JSON.stringify;
    switch (op) {
      case 'mkdir': {
        const p = this.#newName(this.#dir());
        mkdirSync(this.#abs(p));
        this.#model.set(p, 'dir');
        return `mkdir ${q(p)}`;
      }
      case 'write': {
        const p = this.#newName(this.#dir());
        writeFileSync(this.#abs(p), this.#content());
        this.#model.set(p, 'file');
        return `write ${q(p)}`;
      }
      case 'rewrite':
      case 'truncate':
      case 'append': {
        const p = this.#pick('file');
        if (p === undefined) return `${op} (no file)`;
        if (op === 'rewrite') writeFileSync(this.#abs(p), this.#content());
        else if (op === 'append') appendFileSync(this.#abs(p), this.#content());
        else truncateSync(this.#abs(p), this.int(100));
        return `${op} ${q(p)}`;
      }
      case 'rewrite-keep-mtime': {
        // Same size, same mtime, other bytes: what `cp -p` or an archive extraction leaves.
        const p = this.#pick('file');
        if (p === undefined) return `${op} (no file)`;
        const st = statSync(this.#abs(p));
        const data = Buffer.alloc(st.size, 97 + this.int(26));
        writeFileSync(this.#abs(p), data);
        utimesSync(this.#abs(p), st.atime, st.mtime);
        return `${op} ${q(p)}`;
      }
      case 'chmod': {
        const p = this.#pick(this.int(3) === 0 ? 'dir' : 'file');
        if (p === undefined) return 'chmod (nothing)';
        const isDir = this.#model.get(p) === 'dir';
        const modes = isDir ? [0o755, 0o700, 0o750, 0o775] : [0o644, 0o600, 0o640, 0o755, 0o664];
        const mode = modes[this.int(modes.length)]!;
        chmodSync(this.#abs(p), mode);
        return `chmod ${mode.toString(8)} ${q(p)}`;
      }
      case 'symlink-file':
      case 'symlink-dir':
      case 'symlink-dangling': {
        const p = this.#newName(this.#dir());
        const target = op === 'symlink-dangling' ? `nowhere-${this.#counter}` : (this.#pick(op === 'symlink-file' ? 'file' : 'dir') ?? 'nothing');
        // Relative to the link's directory is what a deploy does; an absolute or root-relative
        // target string is data to rsync either way.
        symlinkSync(target, this.#abs(p));
        this.#model.set(p, 'link');
        return `symlink ${q(p)} -> ${q(target)}`;
      }
      case 'rename-file':
      case 'rename-dir': {
        const from = this.#pickMovable(op === 'rename-file' ? (this.int(4) === 0 ? 'link' : 'file') : 'dir');
        if (from === undefined) return `${op} (nothing)`;
        let dir = this.#dir();
        // Never into itself.
        if (dir === from || dir.startsWith(`${from}/`)) dir = '';
        const to = this.#newName(dir);
        renameSync(this.#abs(from), this.#abs(to));
        this.#moveModel(from, to);
        return `rename ${q(from)} ${q(to)}`;
      }
      case 'rename-over-file': {
        // rename(2) onto an existing file replaces it in one step.
        const from = this.#pickMovable('file');
        const to = this.#pickMovable('file');
        if (from === undefined || to === undefined || from === to) return `${op} (nothing)`;
        renameSync(this.#abs(from), this.#abs(to));
        this.#model.delete(from);
        return `rename-over ${q(from)} ${q(to)}`;
      }
      case 'swap-dirs': {
        const a = this.#pickMovable('dir');
        const b = this.#pickMovable('dir');
        if (a === undefined || b === undefined || a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)) return `${op} (nothing)`;
        const tmp = `${a}.swap${++this.#counter}`;
        renameSync(this.#abs(a), this.#abs(tmp));
        renameSync(this.#abs(b), this.#abs(a));
        renameSync(this.#abs(tmp), this.#abs(b));
        this.#moveModel(a, tmp);
        this.#moveModel(b, a);
        this.#moveModel(tmp, b);
        return `swap ${q(a)} ${q(b)}`;
      }
      case 'file-to-dir': {
        const p = this.#pickMovable('file');
        if (p === undefined) return `${op} (nothing)`;
        unlinkSync(this.#abs(p));
        mkdirSync(this.#abs(p));
        writeFileSync(this.#abs(`${p}/inside`), this.#content());
        this.#model.set(p, 'dir');
        this.#model.set(`${p}/inside`, 'file');
        return `file-to-dir ${q(p)}`;
      }
      case 'dir-to-file':
      case 'dir-to-symlink': {
        const p = this.#pickMovable('dir');
        if (p === undefined) return `${op} (nothing)`;
        rmSync(this.#abs(p), { recursive: true, force: true });
        this.#dropModel(p);
        if (op === 'dir-to-file') {
          writeFileSync(this.#abs(p), this.#content());
          this.#model.set(p, 'file');
        } else {
          symlinkSync(this.#pick('dir') ?? '.', this.#abs(p));
          this.#model.set(p, 'link');
        }
        return `${op} ${q(p)}`;
      }
      case 'rm': {
        const p = this.#pickMovable(this.int(3) === 0 ? 'link' : 'file');
        if (p === undefined) return 'rm (nothing)';
        unlinkSync(this.#abs(p));
        this.#model.delete(p);
        return `rm ${q(p)}`;
      }
      case 'rm-r': {
        const p = this.#pickMovable('dir');
        if (p === undefined) return 'rm-r (nothing)';
        rmSync(this.#abs(p), { recursive: true, force: true });
        this.#dropModel(p);
        return `rm -r ${q(p)}`;
      }
      case 'hardlink': {
        const from = this.#pick('file');
        if (from === undefined) return 'hardlink (nothing)';
        const to = this.#newName(this.#dir());
        linkSync(this.#abs(from), this.#abs(to));
        this.#model.set(to, 'file');
        this.#pinned.add(from);
        this.#pinned.add(to);
        return `hardlink ${q(from)} ${q(to)}`;
      }
      case 'write-through-link': {
        // Writes through one name of a file; any other hard link to it changes too.
        const p = this.#pick('file');
        if (p === undefined) return `${op} (nothing)`;
        appendFileSync(this.#abs(p), `+${this.#counter}\n`);
        return `append ${q(p)}`;
      }
    }
  }
}

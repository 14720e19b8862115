/**
 * rsync exclude patterns → one predicate over root-relative paths, so the watcher drops events that
 * rsync would skip anyway (an excluded path must cause no transfer at all). Pure.
 *
 * Follows rsync's rules for the common forms (man rsync, "INCLUDE/EXCLUDE PATTERN RULES"):
 * a leading '/' anchors at the root; a trailing '/' means directories only (we cannot tell the type
 * from an event, so it matches that name as a directory prefix: everything below it); a pattern with
 * a '/' or '**' matches the full path's tail, others match any single component; `*`, `?`, `[...]`
 * and `**` are globs. An excluded directory excludes everything below it.
 */
export type PathFilter = (path: string) => boolean;

export function compileExcludes(patterns: readonly string[]): PathFilter {
  if (patterns.length === 0) return () => false;
  // Testing every pattern against every path cost 0.5 s per path with 200,000 patterns: literal
  // ones (most of any long list) are looked up in sets instead, with the same answers.
  const literals = new LiteralIndex();
  const regexes = patterns.filter((p) => !literals.add(p)).map(compileOne);
  return (path: string) => {
    // Test the path and each of its ancestors: an excluded directory hides its whole subtree.
    let prefix = path;
    for (;;) {
      if (literals.matches(prefix) || regexes.some((r) => r.test(prefix))) return true;
      const slash = prefix.lastIndexOf('/');
      if (slash === -1) return false;
      prefix = prefix.slice(0, slash);
    }
  };
}

/**
 * Patterns without wildcards and without a trailing '/', as compileOne would match them: anchored,
 * the whole path (`^body$`); unanchored, the whole path or a tail after a '/' (`(?:^|/)body$`).
 */
class LiteralIndex {
  readonly #anchored = new Set<string>();
  readonly #tails = new Set<string>();

  /** Takes the pattern when it is a literal one; false leaves it to the pattern matcher. */
  add(pattern: string): boolean {
    const p = pattern.startsWith('- ') ? pattern.slice(2) : pattern;
    if (/[*?[]/.test(p) || p.endsWith('/')) return false;
    if (p.startsWith('/')) this.#anchored.add(p.slice(1));
    else this.#tails.add(p);
    return true;
  }

  matches(path: string): boolean {
    if (this.#anchored.has(path) || this.#tails.has(path)) return true;
    if (this.#tails.size === 0) return false;
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      if (this.#tails.has(path.slice(slash + 1))) return true;
    }
    return false;
  }
}

function compileOne(pattern: string): RegExp {
  let p = pattern;
  if (p.startsWith('- ')) p = p.slice(2);
  const anchored = p.startsWith('/');
  if (anchored) p = p.slice(1);
  if (p.endsWith('/')) p = p.replace(/\/+$/, '');
  // Unanchored, a pattern matches the path's tail at a component boundary: for a pattern without
  // '/' that is one component (its globs cannot cross '/'), for one with '/' the last components.
  // A leading '**/' also matches zero directories, as rsync does ('**/x' excludes a top-level x).
  const deep = p.startsWith('**/');
  const body = globToRegex(deep ? p.slice(3) : p, /[*?[]/.test(p));
  const prefix = deep ? '(?:^|/)(?:.*/)?' : anchored ? '^' : '(?:^|/)';
  return new RegExp(`${prefix}${body}$`, 's');
}

/** rsync reads a backslash as an escape only in a pattern that has wildcards (man rsync). */
function globToRegex(glob: string, escapes: boolean): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) out += '\\[';
      else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        out += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (escapes && c === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i]!);
    } else out += escapeRegex(c);
  }
  return out;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/**
 * The anchored patterns without wildcards (`/cache`, `/db/`), as root-relative paths: the watcher
 * can leave these out entirely (no inotify watches, no crawl), not just drop their events.
 */
export function literalAnchoredPaths(patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (let p of patterns) {
    if (p.startsWith('- ')) p = p.slice(2);
    if (!p.startsWith('/') || /[*?[]/.test(p)) continue;
    const rel = p.replace(/^\/+/, '').replace(/\/+$/, '');
    if (rel !== '') out.push(rel);
  }
  return out;
}

/**
 * Where a path really leads: the symlinks of its existing part resolved, the part that does not
 * exist yet appended as written. The loop and duplicate checks of options.ts compare these, because
 * rsync, like any program, writes through every symlink on a replica's path.
 */
import { readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

/** As the kernel's limit on symlinks in one lookup (ELOOP). */
const MAX_HOPS = 40;

/** `path` must be absolute and normalized (no `.`, `..`, `//`): replica-spec.ts hands them so. */
export function realPathOfExisting(path: string): string {
  let current = path;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const { real, rest } = splitExisting(current);
    if (rest.length === 0) return real;
    // The first missing component may be a dangling symlink: rsync would write where it points.
    const first = posix.join(real, rest[0]!);
    let target: string;
    try {
      target = readlinkSync(first, 'utf8');
    } catch {
      return posix.join(real, ...rest);
    }
    current = posix.resolve(real, target, ...rest.slice(1));
  }
  return current;
}

/** The longest existing prefix of `path`, resolved, and the components below it that are missing. */
function splitExisting(path: string): { real: string; rest: string[] } {
  const rest: string[] = [];
  let head = path;
  for (;;) {
    try {
      return { real: realpathSync(head), rest: rest.reverse() };
    } catch {
      const parent = posix.dirname(head);
      if (parent === head) return { real: head, rest: rest.reverse() };
      rest.push(posix.basename(head));
      head = parent;
    }
  }
}

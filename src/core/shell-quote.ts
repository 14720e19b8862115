/**
 * The one place a string is made safe for a POSIX shell (docs/internals.md, invariant 6): single quotes, with
 * each embedded quote closed, escaped and reopened. Any byte sequence survives, newlines included.
 * Pure; property-tested against a real `sh`.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot hold a NUL byte');
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

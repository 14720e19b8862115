/** Root-relative POSIX path helpers shared along the flow. '' is the root itself. */
export function parentOf(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash === -1 ? '' : p.slice(0, slash);
}

/**
 * The bench's own command-line values that need more than parseArgs. Pure.
 */

/** Most replicas a farm run may ask for: each is an sshd and a connection per contender on this machine. */
export const MAX_REPLICAS = 64;

/**
 * `--replicas 16,4,32` → [16, 4, 32], in the order given (the scenario runs them in that order).
 * Throws a message that says what was wrong and what to write instead.
 */
export function parseReplicaCounts(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const counts: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > MAX_REPLICAS) {
      throw new Error(`--replicas: "${p}" is not a whole number from 1 to ${MAX_REPLICAS} (write e.g. --replicas 16,4,32)`);
    }
    if (counts.includes(Number(p))) throw new Error(`--replicas: ${p} is listed twice (write each count once, e.g. --replicas 16,4,32)`);
    counts.push(Number(p));
  }
  return counts;
}

/**
 * Compares a replica with the source by checksum, changing nothing: an rsync dry run of a full
 * `--delete` pass with `--checksum`, whose itemized lines are exactly the differences (rsync's own
 * notion of "not equal": content, type, mode, mtime, link target, missing and extra entries).
 */
import { MirrorError } from '../errors.js';
import { buildVerifyCall, type RsyncSettings } from './args.js';
import type { Transport } from '../transport/transport.js';
import { writeExcludeFile, type ExcludeFile } from './exclude-file.js';

// Declared with the public types, so the published VerifyResult does not pull in the transport's.
import type { VerifyResult } from '../types.js';

export type { VerifyResult };

const MAX_LISTED = 1000;

export async function verifyReplica(transport: Transport, settings: RsyncSettings): Promise<VerifyResult> {
  const replicaId = transport.replica.id;
  const call = buildVerifyCall(transport.target, settings);
  const run = await transport.rsync(call.args, call.stdin, { maxLines: MAX_LISTED });
  if (run.exitCode !== 0 && run.exitCode !== 24) {
    const reason = run.stderr.trim().split('\n').slice(-4).join(' | ');
    throw new MirrorError(
      'ERR_RSYNC',
      `Verifying ${replicaId} failed: rsync exited with code ${run.exitCode}${reason ? `: ${reason}` : ''}. Check that the replica is reachable and its path exists.`,
      {
        exitCode: run.exitCode,
        stderr: run.stderr,
        path: transport.target.path,
      },
    );
  }
  const differences = (run.lines ?? []).filter((l) => l.trim() !== '');
  const more = run.moreLines ?? 0;
  return { replica: replicaId, identical: differences.length === 0 && more === 0, differences, more };
}

/**
 * Verifies every replica at once. A running mirror passes its rule file; otherwise one is written for
 * the time this call runs.
 */
export async function verifyAll(
  transports: readonly Transport[],
  settings: Omit<RsyncSettings, 'excludeFile'>,
  rules: { exclude: readonly string[]; file: ExcludeFile | undefined },
): Promise<VerifyResult[]> {
  const own = rules.file === undefined ? await writeExcludeFile(rules.exclude) : undefined;
  const excludeFile = (own ?? rules.file)?.path;
  try {
    return await Promise.all(
      transports.map(async (t) => {
        await t.connect();
        return verifyReplica(t, { ...settings, excludeFile });
      }),
    );
  } finally {
    await own?.remove();
  }
}

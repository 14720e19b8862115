/**
 * A batch runner for one local replica, as the Mirror builds it but with every hook inert: tests
 * of the batch runner against real rsync override only what they watch or inject.
 */
import { makeBatchRunner, type BatchRunnerDeps } from '../../src/sync/batch-runner.js';
import { normalizeOptions } from '../../src/options.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { LocalReplica } from '../../src/types.js';

export function localExecutor(source: string, replica: string, overrides: Partial<BatchRunnerDeps> & { exclude?: string[] } = {}) {
  const { exclude = [], ...deps } = overrides;
  const options = normalizeOptions({ source, replicas: [replica], exclude }, { cwd: '/', homeDir: '/root', userName: 'root' });
  return makeBatchRunner({
    options,
    transport: new LocalTransport(options.replicas[0] as LocalReplica, options.rsyncPath),
    excludeFile: undefined,
    limit: (fn) => fn(),
    onSynced: () => {},
    onProblem: () => {},
    onPlanned: () => {},
    onProgress: () => {},
    ...deps,
  });
}

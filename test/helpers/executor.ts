/**
 * A batch executor for one local replica, as the Mirror builds it but with every hook inert: tests
 * of the executor against real rsync override only what they watch or inject.
 */
import { makeExecutor, type ExecutorDeps } from '../../src/sync/batch-runner.js';
import { normalizeOptions } from '../../src/options.js';

export function localExecutor(source: string, replica: string, overrides: Partial<ExecutorDeps> & { exclude?: string[] } = {}) {
  const { exclude = [], ...deps } = overrides;
  const options = normalizeOptions({ source, replicas: [replica], exclude }, { cwd: '/', homeDir: '/root', userName: 'root' });
  return makeExecutor({
    options,
    replica: options.replicas[0]!,
    target: { path: replica },
    remote: undefined,
    connect: undefined,
    excludeFile: undefined,
    limit: (fn) => fn(),
    onSynced: () => {},
    onProblem: () => {},
    onPlanned: () => {},
    onProgress: () => {},
    ...deps,
  });
}

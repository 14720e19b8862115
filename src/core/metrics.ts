/**
 * Replica status → Prometheus text exposition format (version 0.0.4). Pure. One series per replica
 * and metric, so the output stays small whatever the tree's size.
 */
import type { ReplicaStatus } from '../types.js';
import { answered } from './lane-transitions.js';

interface Metric {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  value(s: ReplicaStatus): number | undefined;
}

const METRICS: Metric[] = [
  {
    name: 'fam_mirror_replica_up',
    type: 'gauge',
    help: '1 when the replica answered and is in step, syncing or catching up; 0 while checking, down or failed.',
    value: (s) => (s.state !== 'closed' && answered(s.state) ? 1 : 0),
  },
  { name: 'fam_mirror_replica_failed', type: 'gauge', help: '1 when the replica needs a human (host key, auth, rsync missing).', value: (s) => (s.state === 'failed' ? 1 : 0) },
  { name: 'fam_mirror_replica_lag_seconds', type: 'gauge', help: 'Age of the oldest change the replica does not have yet.', value: (s) => s.lagSec },
  { name: 'fam_mirror_replica_problem_paths', type: 'gauge', help: 'Paths the replica could not be given (retried slowly); 0 when it has everything else too.', value: (s) => s.problems },
  { name: 'fam_mirror_replica_backlog_paths', type: 'gauge', help: 'Dirty paths waiting or in flight (a full pass counts as one).', value: (s) => s.backlog },
  {
    name: 'fam_mirror_replica_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last successful batch.',
    value: (s) => (s.lastSuccessAt === undefined ? undefined : s.lastSuccessAt / 1000),
  },
  { name: 'fam_mirror_replica_syncs_total', type: 'counter', help: 'Successful batches.', value: (s) => s.syncs },
  { name: 'fam_mirror_replica_files_sent_total', type: 'counter', help: 'Regular files whose data was sent.', value: (s) => s.filesSent },
  { name: 'fam_mirror_replica_bytes_sent_total', type: 'counter', help: 'Bytes rsync reported as transferred.', value: (s) => s.bytesSent },
];

export function formatMetrics(replicas: readonly ReplicaStatus[]): string {
  const lines: string[] = [];
  for (const m of METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of replicas) {
      const v = m.value(s);
      if (v !== undefined) lines.push(`${m.name}{replica="${escapeLabel(s.replica)}"} ${v}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatMetrics } from '../../src/core/metrics.js';
import { parseMetricsAddress } from '../../src/cli/control.js';
import type { ReplicaStatus } from '../../src/types.js';

const base: ReplicaStatus = {
  replica: 'web2:/var/www',
  state: 'idle',
  backlog: 0,
  lagSec: 0,
  lastSuccessAt: 1_700_000_000_000,
  lastError: undefined,
  lastErrorAt: undefined,
  syncs: 3,
  problems: 0,
  filesSent: 7,
  bytesSent: 4096,
};

describe('formatMetrics', () => {
  it('up is 1 only for a replica that answered: 0 while checking, down, failed or closed', () => {
    const states: Array<[ReplicaStatus['state'], number]> = [
      ['checking', 0],
      ['idle', 1],
      ['syncing', 1],
      ['catching-up', 1],
      ['down', 0],
      ['failed', 0],
      ['closed', 0],
    ];
    const text = formatMetrics(states.map(([state]) => ({ ...base, replica: state, state })));
    for (const [state, up] of states) assert.ok(text.split('\n').includes(`fam_mirror_replica_up{replica="${state}"} ${up}`), state);
  });

  it('one series per replica and metric, with HELP and TYPE', () => {
    const text = formatMetrics([base, { ...base, replica: 'web3:/var/www', state: 'down', lagSec: 12.5, backlog: 4, lastSuccessAt: undefined }]);
    for (const line of [
      '# TYPE fam_mirror_replica_up gauge',
      'fam_mirror_replica_up{replica="web2:/var/www"} 1',
      'fam_mirror_replica_up{replica="web3:/var/www"} 0',
      'fam_mirror_replica_lag_seconds{replica="web3:/var/www"} 12.5',
      'fam_mirror_replica_backlog_paths{replica="web3:/var/www"} 4',
      'fam_mirror_replica_last_success_timestamp_seconds{replica="web2:/var/www"} 1700000000',
      '# TYPE fam_mirror_replica_bytes_sent_total counter',
      'fam_mirror_replica_bytes_sent_total{replica="web2:/var/www"} 4096',
    ])
      assert.ok(text.split('\n').includes(line), line);
    assert.ok(!text.includes('last_success_timestamp_seconds{replica="web3'), 'no sample for an unknown value');
  });

  it('escapes label values', () => {
    assert.match(formatMetrics([{ ...base, replica: '/srv/a"b\\c\nd' }]), /replica="\/srv\/a\\"b\\\\c\\nd"/);
  });
});

describe('parseMetricsAddress', () => {
  const ok: Array<[string, string, number]> = [
    ['127.0.0.1:9477', '127.0.0.1', 9477],
    ['[::1]:80', '::1', 80],
    ['localhost:1', 'localhost', 1],
  ];
  for (const [addr, host, port] of ok) it(`accepts ${addr}`, () => assert.deepEqual(parseMetricsAddress(addr), { host, port }));
  for (const addr of ['0.0.0.0:9477', '10.0.0.1:9477', '127.0.0.1', '127.0.0.1:99999', ':9477', 'example.org:80']) {
    it(`refuses ${addr}`, () => assert.throws(() => parseMetricsAddress(addr), { code: 'ERR_OPTIONS' }));
  }
});

/**
 * The start-up check's verdicts, as data: what a host's answer (rsync's version line, the target)
 * makes of a replica, per cell of TARGET_ANSWERS, and the version parse.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeCheck, rsyncVersion, TARGET_ANSWERS, type TargetAnswer } from '../../src/core/replica-check.js';
import { isMirrorError, type MirrorErrorCode } from '../../src/errors.js';

const facts = { replica: 'web2:/srv/www', host: 'web2', path: '/srv/www', rsyncCommand: 'rsync', versionLine: 'rsync  version 3.2.7  protocol version 31' };

describe('rsyncVersion', () => {
  const rows: Array<[string, string | undefined]> = [
    ['rsync  version 3.2.7  protocol version 31', '3.2.7'],
    ['rsync  version v3.4.1  protocol version 32', '3.4.1'],
    ['openrsync: protocol version 29', '29'],
    ['sh: 1: /nope: not found', undefined],
    ['', undefined],
  ];
  for (const [line, want] of rows) it(JSON.stringify(line), () => assert.equal(rsyncVersion(line), want));
});

describe('judgeCheck: target answer → ready or the code a human needs', () => {
  const EXPECTED: Record<TargetAnswer, { created: boolean } | MirrorErrorCode> = {
    ok: { created: false },
    created: { created: true },
    'would-create': { created: false },
    unwritable: 'ERR_TARGET_UNUSABLE',
    'not-a-directory': 'ERR_TARGET_UNUSABLE',
    'no-parent': 'ERR_TARGET_MISSING',
  };
  it('covers every answer', () => assert.deepEqual(Object.keys(EXPECTED).sort(), [...TARGET_ANSWERS].sort()));
  for (const target of TARGET_ANSWERS) {
    const want = EXPECTED[target];
    it(`${target} → ${typeof want === 'string' ? want : `ready, created ${want.created}`}`, () => {
      if (typeof want !== 'string') {
        assert.deepEqual(judgeCheck({ ...facts, target }), { rsyncVersion: '3.2.7', path: '/srv/www', created: want.created });
        return;
      }
      assert.throws(
        () => judgeCheck({ ...facts, target }),
        (e: unknown) => isMirrorError(e, want) && e.host === 'web2' && e.message.includes('/srv/www'),
      );
    });
  }
  it('no rsync there (whatever the target) → ERR_RSYNC_MISSING naming the command', () => {
    for (const versionLine of [undefined, 'sh: rsync: not found']) {
      assert.throws(
        () => judgeCheck({ ...facts, rsyncCommand: '/opt/rsync', versionLine, target: 'ok' }),
        (e: unknown) => isMirrorError(e, 'ERR_RSYNC_MISSING') && e.message.includes('/opt/rsync') && e.message.includes('on web2'),
      );
    }
  });
});

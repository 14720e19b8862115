/**
 * Every error code's verdict, cell by cell. The expected table is typed over the whole
 * MirrorErrorCode union, so a code added to src/errors.ts fails the typecheck until it has a row
 * here and in the table.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CODE_VERDICTS, codeVerdict, type CodeVerdict } from '../../src/core/error-verdicts.js';
import type { MirrorErrorCode } from '../../src/errors.js';

const EXPECTED: Record<MirrorErrorCode, CodeVerdict> = {
  ERR_OPTIONS: 'needs-a-human',
  ERR_CONFIG: 'needs-a-human',
  ERR_SOURCE_MISSING: 'needs-a-human',
  ERR_SOURCE_NOT_DIR: 'needs-a-human',
  ERR_SOURCE_IS_ROOT: 'needs-a-human',
  ERR_REPLICA_SPEC: 'needs-a-human',
  ERR_REPLICA_DUPLICATE: 'needs-a-human',
  ERR_REPLICA_LOOP: 'needs-a-human',
  ERR_HOST_KEY_UNKNOWN: 'needs-a-human',
  ERR_METRICS_PORT: 'needs-a-human',
  ERR_STDOUT_CLOSED: 'needs-a-human',
  ERR_HOST_KEY_CHANGED: 'needs-a-human',
  ERR_HOST_KEY_REVOKED: 'needs-a-human',
  ERR_HOST_KEY_UNCHECKED: 'retry',
  ERR_SSH_AUTH: 'needs-a-human',
  ERR_SSH_CONNECT: 'retry',
  ERR_SSH_NO_IDENTITY: 'needs-a-human',
  ERR_SSH_CONFIG: 'needs-a-human',
  ERR_RSYNC_MISSING: 'needs-a-human',
  ERR_RSYNC: 'retry',
  ERR_RSYNC_FATAL: 'needs-a-human',
  ERR_RSYNC_PATH: 'retry',
  ERR_TARGET_MISSING: 'needs-a-human',
  ERR_TARGET_UNUSABLE: 'needs-a-human',
  ERR_SOURCE_VANISHED: 'retry',
  ERR_SOURCE_EMPTY: 'retry',
  ERR_REPLICA_FENCED: 'needs-a-human',
  ERR_REPLICA_OWNED: 'needs-a-human',
  ERR_TARGET_UNMOUNTED: 'needs-a-human',
  ERR_TARGET_EMPTIED: 'retry',
  ERR_STATE: 'needs-a-human',
  ERR_STATE_DAMAGED: 'retry',
  ERR_STATE_UNCLEAN: 'retry',
  ERR_EXCLUDE_FILE: 'needs-a-human',
  ERR_WATCH: 'retry',
  ERR_WATCH_LIMIT: 'needs-a-human',
  ERR_WATCH_LIST: 'needs-a-human',
  ERR_CLOSED: 'retry',
  ERR_STARTED: 'needs-a-human',
  ERR_NOT_STARTED: 'needs-a-human',
};

describe('error-code verdicts', () => {
  it('the table covers exactly the codes of the expected table', () => {
    assert.deepEqual(Object.keys(CODE_VERDICTS).sort(), Object.keys(EXPECTED).sort());
  });

  for (const [code, want] of Object.entries(EXPECTED) as Array<[MirrorErrorCode, CodeVerdict]>) {
    it(`${code} → ${want}`, () => assert.equal(codeVerdict(code), want));
  }

  it('a failed connect needs a human exactly for the host-key and login codes (what made a batch fatal before the table)', () => {
    const connectCodes: MirrorErrorCode[] = ['ERR_SSH_CONNECT', 'ERR_CLOSED', 'ERR_HOST_KEY_UNKNOWN', 'ERR_HOST_KEY_CHANGED', 'ERR_HOST_KEY_REVOKED', 'ERR_SSH_AUTH', 'ERR_SSH_NO_IDENTITY'];
    assert.deepEqual(
      connectCodes.filter((c) => codeVerdict(c) === 'needs-a-human'),
      ['ERR_HOST_KEY_UNKNOWN', 'ERR_HOST_KEY_CHANGED', 'ERR_HOST_KEY_REVOKED', 'ERR_SSH_AUTH', 'ERR_SSH_NO_IDENTITY'],
    );
  });
});

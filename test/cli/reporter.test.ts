/**
 * The reporter's one-message-per-failure rule, on a stand-in Mirror (an EventEmitter with the few
 * members report() reads) and a Logger writing to arrays: the events of one failure make one line; a
 * changed error makes one more; back up, the next failure is news again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { MirrorError } from '../../src/errors.js';
import type { Mirror } from '../../src/mirror.js';
import { Terminal } from '../../src/cli/format.js';
import { Logger } from '../../src/cli/logger.js';
import { report } from '../../src/cli/reporter.js';

function rig() {
  const out: string[] = [];
  const err: string[] = [];
  let state = 'idle';
  const mirror = Object.assign(new EventEmitter(), {
    options: { dryRun: false, source: '/src' },
    status: () => [{ replica: 'web2', state }],
  });
  const log = new Logger(new Terminal({ write: (t: string) => out.push(t) }), { write: (t: string) => err.push(t) }, { style: 'plain', quiet: false });
  report(mirror as unknown as Mirror, new Terminal({ write: (t: string) => out.push(t) }), log, { onDown: undefined, onUp: undefined, env: {} });
  return { mirror, out, err, setState: (s: string) => (state = s) };
}

describe('reporter: one message per failure', () => {
  it('check, down, problem and error of one failure: one line; a new error: one more; repeats: none; up, then down again: news', () => {
    const { mirror, out, err, setState } = rig();
    const refused = new MirrorError('ERR_SSH_CONNECT', 'Could not connect to web2: refused.');
    setState('down');
    mirror.emit('replica-checked', { replica: 'web2', attempt: 1, error: refused });
    mirror.emit('replica-down', { replica: 'web2', error: refused });
    mirror.emit('problem', { replica: 'web2', code: refused.code, message: refused.message });
    mirror.emit('error', refused);
    assert.deepEqual(err, ['web2: down, retrying: ERR_SSH_CONNECT Could not connect to web2: refused.\n']);

    const auth = new MirrorError('ERR_SSH_AUTH', 'Login to web2 refused.');
    setState('failed');
    for (let i = 0; i < 3; i++) {
      mirror.emit('problem', { replica: 'web2', code: auth.code, message: auth.message });
      mirror.emit('error', auth);
    }
    assert.deepEqual(err.slice(1), ['replica web2 is still failed: Login to web2 refused. (ERR_SSH_AUTH)\n']);

    setState('idle');
    mirror.emit('replica-up', { replica: 'web2' });
    assert.deepEqual(out, ['replica web2 is back up\n']);
    setState('down');
    mirror.emit('replica-down', { replica: 'web2', error: refused });
    assert.equal(err.at(-1), 'replica web2 is down: Could not connect to web2: refused. (ERR_SSH_CONNECT)\n');
    assert.equal(err.length, 3);
  });
});

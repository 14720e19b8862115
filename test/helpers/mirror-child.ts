/**
 * A Mirror in a process of its own, driven over Node's IPC channel: the churn check can SIGKILL it
 * and start it again, and a crash of the mirror (an unhandled rejection from a dependency) ends this
 * process, which the parent sees as an unexpected exit with its stderr. No handler for
 * 'unhandledRejection' is installed on purpose: Node's default (exit 1) is what a user would get.
 *
 * argv[2]: JSON of MirrorOptions. Messages in: { type: 'flush', timeoutMs } | { type: 'close' }.
 * Messages out: { type: 'started' } | { type: 'flushed', result, status } | { type: 'closed' } |
 * { type: 'start-failed', message, code }.
 */
import { Mirror, type MirrorOptions } from '../../src/index.js';

const options = JSON.parse(process.argv[2]!) as MirrorOptions;
const mirror = new Mirror(options);
const send = (m: unknown) => process.send!(m);
mirror.on('error', (e) => process.stderr.write(`mirror error: ${e.code} ${e.message}\n`));
mirror.on('problem', (p) => process.stderr.write(`problem: ${p.replica} ${p.code} ${p.path ?? ''} ${p.message.slice(0, 300)}\n`));

process.on('message', (m: { type: string; timeoutMs?: number }) => {
  if (m.type === 'flush') {
    mirror.flush({ timeoutMs: m.timeoutMs }).then(
      (result) => send({ type: 'flushed', result, status: mirror.status() }),
      (e: Error & { code?: string }) => send({ type: 'flushed', error: `${e.code ?? ''} ${e.message}`, status: mirror.status() }),
    );
  } else if (m.type === 'close') {
    void mirror.close().then(() => {
      send({ type: 'closed' });
      process.disconnect();
    });
  }
});

mirror.start().then(
  () => send({ type: 'started' }),
  (e: Error & { code?: string }) => send({ type: 'start-failed', message: e.message, code: e.code }),
);

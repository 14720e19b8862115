/**
 * What each public method of Mirror does in each phase of its life, as one table (a
 * `close()` during `start()` once left a watcher subscribed after the close, a status reading
 * `idle` and a later `flush()` resolving "complete" with nothing sent). Pure.
 *
 * - `run`: the method does its work.
 * - `wait`: it waits for the phase to end (flush during start waits for the start; close during
 *   closing waits for the close), then answers as the next phase does.
 * - `noop`: it resolves at once and changes nothing.
 * - an error code: it rejects (or throws) a MirrorError with that code.
 */
import { MirrorError, type MirrorErrorCode } from '../errors.js';

export type Phase = 'new' | 'starting' | 'running' | 'closing' | 'closed';
export type PublicMethod = 'start' | 'flush' | 'setReplicas' | 'reconfigure' | 'reconcile' | 'verify' | 'status' | 'close';
export type Answer = 'run' | 'wait' | 'noop' | Extract<MirrorErrorCode, 'ERR_STARTED' | 'ERR_NOT_STARTED' | 'ERR_CLOSED'>;

export const LIFECYCLE = {
  start: { new: 'run', starting: 'ERR_STARTED', running: 'ERR_STARTED', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  flush: { new: 'ERR_NOT_STARTED', starting: 'wait', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  setReplicas: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  reconfigure: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  reconcile: { new: 'ERR_NOT_STARTED', starting: 'ERR_NOT_STARTED', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  // verify needs no watcher; after close() its connections would never be released again.
  verify: { new: 'run', starting: 'run', running: 'run', closing: 'ERR_CLOSED', closed: 'ERR_CLOSED' },
  status: { new: 'run', starting: 'run', running: 'run', closing: 'run', closed: 'run' },
  close: { new: 'run', starting: 'run', running: 'run', closing: 'wait', closed: 'noop' },
} as const satisfies Record<PublicMethod, Record<Phase, Answer>>;

const ADVICE: Record<Exclude<Answer, 'run' | 'wait' | 'noop'>, (method: string) => string> = {
  ERR_STARTED: (m) => `${m}(): this mirror was already started; create a new Mirror to start again.`,
  ERR_NOT_STARTED: (m) => `${m}() needs a running mirror: await start() first.`,
  ERR_CLOSED: (m) => `${m}(): this mirror is closed (or closing); create a new Mirror.`,
};

/** The table's answer; an error answer is thrown as a MirrorError naming the method. */
export function answerFor(method: PublicMethod, phase: Phase): 'run' | 'wait' | 'noop' {
  const answer: Answer = LIFECYCLE[method][phase];
  if (answer === 'run' || answer === 'wait' || answer === 'noop') return answer;
  throw new MirrorError(answer, ADVICE[answer](method));
}

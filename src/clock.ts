/**
 * The real Clock: what the lanes, the reconcile scheduler and the watcher get unless a test injects
 * a manual one (src/core/schedule.ts says why time is an argument).
 */
import type { Clock } from './core/schedule.js';

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};

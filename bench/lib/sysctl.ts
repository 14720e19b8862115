/**
 * Raising a kernel limit for one scenario, and putting it back: the previous value is restored by
 * the scenario's `finally` (restore()), and by a process 'exit' handler should the bench die first.
 * Only /proc/sys files are written (as root); nothing is persisted in /etc/sysctl.d.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const pending = new Map<string, string>();
let exitHandler = false;

function file(name: string): string {
  if (!/^[a-z0-9_.]+$/.test(name)) throw new Error(`bad sysctl name ${name}`);
  return `/proc/sys/${name.replace(/\./g, '/')}`;
}

export function readSysctl(name: string): number {
  return Number(readFileSync(file(name), 'latin1').trim());
}

export interface Raised {
  name: string;
  before: number;
  /** The value now in force (= before when no raise was needed). */
  now: number;
  changed: boolean;
  /** Puts `before` back (idempotent). Returns a note for the JSON. */
  restore(): string;
}

/** Makes `name` at least `min`. Throws when it must be raised and cannot be (not root). */
export function raiseSysctlAtLeast(name: string, min: number): Raised {
  const before = readSysctl(name);
  if (before >= min) return { name, before, now: before, changed: false, restore: () => `${name} unchanged (${before})` };
  if (!exitHandler) {
    exitHandler = true;
    process.on('exit', () => {
      for (const [n, v] of pending) {
        try {
          writeFileSync(file(n), v);
        } catch {
          // Nothing more can be done while exiting.
        }
      }
    });
  }
  if (!pending.has(name)) pending.set(name, String(before));
  writeFileSync(file(name), String(min));
  const now = readSysctl(name);
  let restored = false;
  return {
    name,
    before,
    now,
    changed: true,
    restore: () => {
      if (restored) return `${name} already restored to ${before}`;
      restored = true;
      writeFileSync(file(name), String(before));
      pending.delete(name);
      const back = readSysctl(name);
      return back === before ? `${name} raised ${before} → ${now}, restored to ${back}` : `${name}: restore to ${before} FAILED (now ${back})`;
    },
  };
}

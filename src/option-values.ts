/**
 * Readers of one raw option value each: a value of the wrong type or out of range is ERR_OPTIONS,
 * naming the option and what it must be. Used by normalizeOptions (options.ts) only.
 */
import { MirrorError } from './errors.js';
import { excludeRuleProblem } from './rsync/args.js';

export function optString(raw: object, key: string): string | undefined {
  const v = (raw as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') bad(key, 'must be a non-empty string');
  return v;
}

export function optStrings(raw: object, key: string): string[] | undefined {
  const v = (raw as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) {
    bad(key, 'must be a list of non-empty strings');
  }
  return [...(v as string[])];
}

/** rsync patterns, each of which must survive the rule file rsync reads them from (rsync/args.ts). */
export function optExcludes(raw: object): string[] {
  const patterns = optStrings(raw, 'exclude') ?? [];
  for (const [i, p] of patterns.entries()) {
    const problem = excludeRuleProblem(p);
    if (problem !== undefined) bad('exclude', `pattern ${i + 1} (${JSON.stringify(p.length > 60 ? `${p.slice(0, 60)}…` : p)}) ${problem}: rsync cannot read it`);
  }
  return patterns;
}

export function optChoice<T extends string>(raw: object, key: string, choices: readonly T[]): T | undefined {
  const v = (raw as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) bad(key, `must be one of ${choices.join(', ')}`);
  return v as T;
}

export function optBoolean(raw: object, key: string): boolean | undefined {
  const v = (raw as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') bad(key, 'must be true or false');
  return v;
}

export function optInteger(raw: object, key: string, min: number, max: number): number | undefined {
  const v = (raw as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(key, `must be a whole number from ${min} to ${max}`);
  }
  return v;
}

export function bad(key: string, why: string): never {
  throw new MirrorError('ERR_OPTIONS', `Option "${key}" ${why}.`);
}

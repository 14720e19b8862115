/**
 * Every scenario, in the order they run. Adding one: write scenarios/NAME.ts exporting a Scenario
 * (lib/types.ts) and list it here; the runner does the rest (statistics, table, JSON).
 */
import type { Scenario } from '../lib/types.js';
import { oneFileEndToEnd } from './one-file-e2e.js';
import { restartVsSeed } from './restart-vs-seed.js';
import { transportOverhead } from './transport-overhead.js';

export const scenarios: readonly Scenario[] = [oneFileEndToEnd, transportOverhead, restartVsSeed];

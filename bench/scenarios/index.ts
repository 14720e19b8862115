/**
 * Every scenario, in the order they run. Adding one: write scenarios/NAME.ts exporting a Scenario
 * (lib/types.ts) and list it here; the runner does the rest (statistics, table, JSON). A scenario with
 * `optIn: true` runs only when named with --only.
 */
import type { Scenario } from '../lib/types.js';
import { bigFile } from './big-file.js';
import { drift100k } from './drift-100k.js';
import { farm } from './farm.js';
import { burst } from './burst.js';
import { latencyVsLsyncd } from './latency-vs-lsyncd.js';
import { oneFileEndToEnd } from './one-file-e2e.js';
import { renameDelete } from './rename-delete.js';
import { restartVsSeed } from './restart-vs-seed.js';
import { seed } from './seed.js';
import { startup100k, startup1m } from './startup-100k.js';
import { transportOverhead } from './transport-overhead.js';

export const scenarios: readonly Scenario[] = [oneFileEndToEnd, transportOverhead, restartVsSeed, latencyVsLsyncd, burst, seed, startup100k, drift100k, renameDelete, bigFile, farm, startup1m];

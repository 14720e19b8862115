/**
 * Soak runs of the randomized churn check (test/helpers/churn-rig.ts), beyond what CI runs:
 *   npm run churn -- --seed 7 --ops 400            one seed
 *   npm run churn -- --seed 100 --seeds 20 --ops 300 seeds 100..119, one after another
 *   … --phases fast,pauses                        a subset of fast, pauses, outage, kill
 *   … --without hardlink,rm-r                     leave out some operations (names in churn.ts)
 *   … --keep 500                                  how many of the last operations a failure prints
 * Prints one line per phase; on a difference, the seed, the phase and the last operations, and
 * exits 1. Needs rsync and sshd (scripts/setup.sh --tests).
 */
import { parseArgs } from 'node:util';
import { ALL_PHASES, runChurn, type Phase } from '../test/helpers/churn-rig.js';
import type { OpName } from '../test/helpers/churn.js';
import { stopAll } from '../test/helpers/sshd.js';
import { cleanupTempDirs } from '../test/helpers/tree.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    seeds: { type: 'string', default: '1' },
    ops: { type: 'string', default: '300' },
    phases: { type: 'string', default: ALL_PHASES.join(',') },
    without: { type: 'string', default: '' },
    keep: { type: 'string', default: '60' },
  },
});
const first = Number(values.seed);
const count = Number(values.seeds);
const ops = Number(values.ops);
const phases = values.phases.split(',') as Phase[];
const exclude = values.without.split(',').filter((w) => w !== '') as OpName[];
if (![first, count, ops].every(Number.isSafeInteger) || phases.some((p) => !ALL_PHASES.includes(p))) {
  console.error(`usage: npm run churn -- [--seed S] [--seeds K] [--ops N] [--phases ${ALL_PHASES.join(',')}]`);
  process.exitCode = 2;
} else {
  let total = 0;
  let failed = 0;
  for (let seed = first; seed < first + count; seed++) {
    try {
      const r = await runChurn({ seed, ops, phases, exclude, keep: Number(values.keep), log: (l) => console.log(l) });
      total += r.ops;
    } catch (e) {
      failed++;
      console.log(`FAILED ${(e as Error).message}`);
    } finally {
      await cleanupTempDirs();
    }
  }
  console.log(`${count} seeds, ${total} operations in passing seeds, ${failed} failed`);
  await stopAll();
  process.exitCode = failed > 0 ? 1 : 0;
}

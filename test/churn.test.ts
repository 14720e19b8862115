/**
 * The randomized churn check in CI (test/helpers/churn-rig.ts): a fixed list of seeds, each running
 * the four phases (fast, pauses, an ssh replica's sshd stopped, the mirror SIGKILLed and restarted)
 * against one local and two ssh replicas, every phase ending with flush() and a tree comparison.
 * A failure names the seed, the phase and the last operations; rerun it with
 * `npm run churn -- --seed S --ops 120`. Longer soaks: `npm run churn -- --seed S --seeds K --ops N`.
 */
import { after, describe, it } from 'node:test';
import { runChurn } from './helpers/churn-rig.js';
import { stopAll } from './helpers/sshd.js';
import { cleanupTempDirs } from './helpers/tree.js';

after(async () => {
  await stopAll();
  await cleanupTempDirs();
});

const SEEDS = [1, 2, 3];
const OPS_PER_PHASE = 120;

describe('randomized churn: replicas equal the source whenever flush() says complete', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}, ${OPS_PER_PHASE} operations per phase`, async () => {
      await runChurn({ seed, ops: OPS_PER_PHASE, log: (line) => console.log(`# ${line}`) });
    });
  }
});

/**
 * Scenario 2 — per-batch transport overhead: a 5-file tree, one file changed per round, synced by
 *  (a) fam-mirror's persistent ssh2 bridge, three ways:
 *      - the Mirror itself: its batch time (the 'synced' event's durationMs) and write→visible;
 *      - `rsync -a SRC/ DST/` over the bridge (the project's runRsync + SshConnection, no Mirror), i.e.
 *        the same rsync argv as (b)–(d), so only the transport differs;
 *  (b) `rsync -a -e "ssh …" SRC/ USER@127.0.0.1:DST/`, a fresh OpenSSH login each time;
 *  (c) the same through an OpenSSH ControlMaster (warmed up by an uncounted first call);
 *  (d) local `rsync -a SRC/ DST/` with no ssh: rsync's own floor.
 *
 * Each round: change one file (sizes differ, so rsync's quick check always sees it), wait until the
 * Mirror's replica has it and its 'synced' event arrived, let the Mirror go idle (flush(), outside any
 * timed interval), then run (a-direct), (b), (c), (d) one after another, in an order rotated every round
 * so drift and cache effects spread evenly. Every run must exit 0 and leave the changed file on its
 * destination, or the scenario fails. sshd logins are attributed to the variant that caused them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror, type SyncedEvent } from '../../src/index.js';
import { startSshdHosts, stopAll, type SshdHost } from '../../test/helpers/sshd.js';
import { cleanupTempDirs, makeTempDir } from '../../test/helpers/tree.js';
import { DirectBridge } from '../lib/bridge.js';
import { closeControlMaster, controlMasterWords, rshValue, sshWords } from '../lib/openssh.js';
import { hasContent, sleepUntil, waitUntil, waitVisible } from '../lib/poll.js';
import { runTimed } from '../lib/proc.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/types.js';
import { closeQuietly, countValues, problemLog, ROUND_GAP_MS, RUN_TIMEOUT_MS, VISIBLE_DEADLINE_MS, WATCHER_IDLE_MS, withDeadline } from './common.js';

const FILES = 5;
const FILE_BYTES = 2048;

export const transportOverhead: Scenario = {
  id: 'transport-overhead',
  title: 'per-batch transport overhead',
  describe: (quick) =>
    `${quick ? 3 : 20} rounds (+1 warm-up): ${FILES} files of ~${FILE_BYTES} B, one changed per round; each variant syncs it to its own destination. ` +
    'Times are spawn→exit of the local rsync (bridge: until runRsync resolves; Mirror: synced.durationMs and write→visible).',
  run,
};

interface Variant {
  id: string;
  label: string;
  /** Full argv, for the JSON. */
  command: string[];
  dst: string;
  run(): Promise<number>;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const rounds = ctx.quick ? 3 : 20;
  let mirror: Mirror | undefined;
  let bridge: DirectBridge | undefined;
  let host: SshdHost | undefined;
  let controlPath: string | undefined;
  try {
    [host] = await startSshdHosts(1);
    const h = host!;
    const source = await makeTempDir('fam-bench-src-');
    const mirrorDst = await makeTempDir('fam-bench-mirror-');
    const cmDir = await makeTempDir('fam-cm-');
    controlPath = join(cmDir, 'cm-%p');
    for (let i = 0; i < FILES; i++) await writeFile(join(source, `file-${i}.txt`), contentFor(i, -2));

    bridge = new DirectBridge(h);
    const b = bridge;
    const remote = (dst: string) => `${h.user}@127.0.0.1:${dst}/`;
    const fresh = rshValue(sshWords(h));
    const cm = rshValue([...sshWords(h), ...controlMasterWords(controlPath)]);
    const dsts = {
      bridge: await makeTempDir('fam-bench-bridge-'),
      fresh: await makeTempDir('fam-bench-fresh-'),
      cm: await makeTempDir('fam-bench-cm-'),
      local: await makeTempDir('fam-bench-localrsync-'),
    };
    const openssh = (id: string, label: string, rsh: string, dst: string): Variant => {
      const args = ['-a', '-e', rsh, `${source}/`, remote(dst)];
      return { id, label, dst, command: ['rsync', ...args], run: () => timedRsync(args) };
    };
    const variants: Variant[] = [
      {
        id: 'bridge-direct',
        label: '(a) rsync -a over the ssh2 bridge (same argv)',
        dst: dsts.bridge,
        command: ['rsync', ...b.args(source, dsts.bridge)],
        run: async () => {
          const r = await b.run(source, dsts.bridge, RUN_TIMEOUT_MS);
          if (r.exitCode !== 0) throw new Error(`rsync over the bridge exited ${r.exitCode}: ${r.stderr.trim()}`);
          return r.ms;
        },
      },
      openssh('fresh-login', '(b) rsync -e ssh, fresh login', fresh, dsts.fresh),
      openssh('controlmaster', '(c) rsync -e ssh, ControlMaster', cm, dsts.cm),
      {
        id: 'local',
        label: '(d) local rsync, no ssh (floor)',
        dst: dsts.local,
        command: ['rsync', '-a', `${source}/`, `${dsts.local}/`],
        run: () => timedRsync(['-a', `${source}/`, `${dsts.local}/`]),
      },
    ];

    mirror = new Mirror({
      source,
      replicas: [`ssh://${h.user}@127.0.0.1:${h.port}${mirrorDst}`],
      identityFiles: [h.identityFile],
      knownHostsFiles: [h.knownHostsFile],
      initMirror: true,
    });
    const synced: SyncedEvent[] = [];
    mirror.on('synced', (e) => synced.push(e));
    const problems = problemLog(mirror);
    ctx.log('transport-overhead: seeding; warming up every variant (not counted)');
    await mirror.start();
    await bridge.connect();
    // Warm-up: seeds each destination, starts the ControlMaster, loads rsync and ssh into the page cache.
    for (const v of variants) await v.run();

    const samples = new Map<string, number[]>(['mirror-batch', 'mirror-visible', ...variants.map((v) => v.id)].map((id) => [id, []]));
    const logins = new Map<string, number>(['mirror', ...variants.map((v) => v.id)].map((id) => [id, 0]));
    const bridgeLoginsBefore = bridge.logins;
    const batchesPerRound: number[] = [];
    let idleSince = performance.now();
    let last = idleSince;
    for (let r = -1; r < rounds; r++) {
      if (ctx.signal.aborted) throw new Error('aborted');
      await sleepUntil(Math.max(last + ROUND_GAP_MS, idleSince + WATCHER_IDLE_MS), ctx.signal);
      const k = (r + FILES) % FILES;
      const file = `file-${k}.txt`;
      const content = contentFor(k, r);
      const before = synced.length;
      let loginsSeen = await h.logins();
      const t0 = performance.now();
      last = t0;
      await writeFile(join(source, file), content);
      const [visible] = await waitVisible([join(mirrorDst, file)], content, t0, VISIBLE_DEADLINE_MS, ctx.signal);
      await waitUntil(() => synced.length > before, VISIBLE_DEADLINE_MS, "the Mirror's 'synced' event", ctx.signal);
      // Quiesce the Mirror before the other variants run (not part of any measurement): a write can
      // reach it as two watcher deliveries (create/modify ~50 ms apart), hence two batches.
      await withDeadline(mirror.flush(), VISIBLE_DEADLINE_MS, 'Mirror.flush()', ctx.signal);
      const firstBatch = synced[before]!.durationMs;
      const batches = synced.length - before;
      const countLogins = async (id: string): Promise<void> => {
        const now = await h.logins();
        if (r >= 0) logins.set(id, logins.get(id)! + now - loginsSeen);
        loginsSeen = now;
      };
      await countLogins('mirror');
      const times = new Map<string, number>();
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + Math.max(r, 0)) % variants.length]!;
        times.set(v.id, await v.run());
        if (!(await hasContent(join(v.dst, file), content))) throw new Error(`${v.label}: ${file} not updated on ${v.dst}`);
        await countLogins(v.id);
      }
      // @parcel/watcher's "idle" is counted from its last delivery; the flush barrier was the last one.
      idleSince = performance.now();
      if (r < 0) continue;
      batchesPerRound.push(batches);
      samples.get('mirror-batch')!.push(firstBatch);
      samples.get('mirror-visible')!.push(visible!);
      for (const [id, ms] of times) samples.get(id)!.push(ms);
      ctx.log(`transport-overhead: round ${r + 1}/${rounds}: mirror visible ${visible!.toFixed(1)}, ${[...times].map(([id, ms]) => `${id} ${ms.toFixed(1)}`).join(', ')} ms`);
    }
    const loginsDuringRounds = [...logins.values()].reduce((a, b) => a + b, 0);
    const get = (id: string) => samples.get(id)!;
    return {
      params: {
        rounds,
        warmupRounds: 1,
        files: FILES,
        fileBytes: FILE_BYTES,
        roundGapMs: ROUND_GAP_MS,
        mirrorReplica: `ssh://${h.user}@127.0.0.1:${h.port}${mirrorDst}`,
        commands: Object.fromEntries(variants.map((v) => [v.id, v.command])),
      },
      metrics: [
        { id: 'mirror-batch', label: '(a) Mirror batch over the bridge (synced.durationMs)', samples: get('mirror-batch') },
        { id: 'mirror-visible', label: '(a) Mirror write→visible (one ssh replica)', samples: get('mirror-visible') },
        ...variants.map((v) => ({ id: v.id, label: v.label, samples: get(v.id) })),
      ],
      ratios: [
        { label: 'bridge (same argv) / fresh login', numerator: 'bridge-direct', denominator: 'fresh-login' },
        { label: 'bridge (same argv) / ControlMaster', numerator: 'bridge-direct', denominator: 'controlmaster' },
        { label: 'Mirror batch / fresh login', numerator: 'mirror-batch', denominator: 'fresh-login' },
        { label: 'Mirror batch / ControlMaster', numerator: 'mirror-batch', denominator: 'controlmaster' },
        { label: 'bridge (same argv) / local floor', numerator: 'bridge-direct', denominator: 'local' },
        { label: 'ControlMaster / local floor', numerator: 'controlmaster', denominator: 'local' },
      ],
      checks: {
        // sshd logins during the measured rounds, by who caused them. Expected: one per fresh-login run,
        // none for the Mirror, the direct bridge and the ControlMaster (they stay logged in).
        sshdLogins: { total: loginsDuringRounds, expectedTotal: rounds, byVariant: Object.fromEntries(logins) },
        directBridgeReconnects: bridge.logins - bridgeLoginsBefore,
        mirrorBatchesPerRound: countValues(batchesPerRound),
        problems,
      },
    };
  } finally {
    await closeQuietly(mirror, ctx);
    await bridge?.close().catch(() => {});
    if (host !== undefined && controlPath !== undefined) {
      const how = await closeControlMaster(host, controlPath).catch((e: Error) => `close failed: ${e.message}`);
      ctx.log(`transport-overhead: ControlMaster: ${how}`);
    }
    await stopAll();
    await cleanupTempDirs();
  }
}

/** A file's size changes from one write to its next (the round is in it), so rsync's quick check always fires. */
function contentFor(file: number, round: number): Buffer {
  const head = `file ${file}, round ${round}\n`;
  return Buffer.from(`${head + 'x'.repeat(FILE_BYTES - 40 + ((round + 1) % 30))}\n`);
}

async function timedRsync(args: string[]): Promise<number> {
  const r = await runTimed('rsync', args, RUN_TIMEOUT_MS);
  if (r.code !== 0) throw new Error(`rsync ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.ms;
}

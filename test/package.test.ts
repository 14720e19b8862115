/**
 * The package as a user gets it: `npm pack` (of the built dist/: run `npm run build` first, as
 * `npm test` does), installed into a fresh directory, without the registry: the dependencies come
 * from npm's cache through a lockfile made from ours (`npm ci --offline`), so the test needs only what
 * `npm ci` of this repository already cached. A consumer file is type-checked against the installed
 * types with `skipLibCheck: false` and the installed TypeScript, and the installed bin runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cleanupTempDirs, makeTempDir } from './helpers/tree.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  [key: string]: unknown;
}

/** What the consumer needs besides fam-mirror: a compiler and node's types, as a user would install them. */
const CONSUMER_TOOLS = ['typescript', '@types/node', 'undici-types'];

/** Every type the public API refers to, each imported by name: a missing export fails the type check. */
const CONSUMER = `import {
  Mirror,
  MirrorGroup,
  MirrorError,
  isMirrorError,
  parseReplicaSpec,
  parseWatchList,
  formatMetrics,
  type FlushOptions,
  type FlushResult,
  type GroupReconfigureResult,
  type LaneState,
  type LocalReplica,
  type MirrorErrorCode,
  type MirrorErrorDetails,
  type MirrorEvents,
  type MirrorGroupOptions,
  type MirrorOptions,
  type NormalizedOptions,
  type ParsedReplicaSpec,
  type PlannedEvent,
  type ProblemEvent,
  type ProgressEvent,
  type RepairedEvent,
  type Replica,
  type ReplicaCheck,
  type ReplicaCheckedEvent,
  type ReplicaStateEvent,
  type ReplicaStatus,
  type RestartBacklog,
  type RestartBacklogEvent,
  type SshReplica,
  type StartResult,
  type SyncedEvent,
  type VerifyResult,
  type WatchRoot,
  type WarningEvent,
} from 'fam-mirror';

const options: MirrorOptions = { source: '/srv/www', replicas: ['/mnt/copy'], initMirror: true };
const mirror = new Mirror(options);
const normalized: NormalizedOptions = mirror.options;
mirror.on('synced', (e: SyncedEvent) => e.paths + e.bytes);
mirror.on('progress', (e: ProgressEvent) => e.percent);
mirror.on('planned', (e: PlannedEvent) => e.items);
mirror.on('problem', (e: ProblemEvent) => e.code);
mirror.on('repaired', (e: RepairedEvent) => e.sample);
mirror.on('replica-checked', (e: ReplicaCheckedEvent) => e.check satisfies ReplicaCheck | undefined);
mirror.on('restart-backlog', (e: RestartBacklogEvent) => e satisfies RestartBacklog);
mirror.on('replica-down', (e: ReplicaStateEvent) => e.error?.code satisfies MirrorErrorCode | undefined);
mirror.on('warning', (e: WarningEvent) => e.code);
mirror.on('error', (e: MirrorError) => isMirrorError(e, 'ERR_WATCH'));
const events: Array<keyof MirrorEvents> = ['synced', 'progress'];
const flushOptions: FlushOptions = { healthyOnly: true };
export async function use(): Promise<void> {
  const started: StartResult = await mirror.start();
  const flushed: FlushResult = await mirror.flush(flushOptions);
  const status: ReplicaStatus[] = mirror.status();
  const state: LaneState | undefined = status[0]?.state;
  const verified: VerifyResult[] = await mirror.verify();
  const groupOptions: MirrorGroupOptions = { roots: ['/srv/www'], replicas: ['web2'] };
  const group = new MirrorGroup(groupOptions);
  const reconfigured: GroupReconfigureResult = await group.reconfigure(groupOptions);
  const roots: WatchRoot[] = parseWatchList('/srv/www\\n', '/');
  const spec: ParsedReplicaSpec = parseReplicaSpec('web2:/srv/www');
  const replica: Replica | LocalReplica | SshReplica | undefined = undefined;
  const details: MirrorErrorDetails = { host: 'web2' };
  const error = new MirrorError('ERR_OPTIONS', 'x', details);
  console.log(normalized, events, started, flushed, state, verified, reconfigured, roots, spec, replica, error, formatMetrics);
  await mirror.close();
}
`;

describe('the published package', () => {
  let work: string;
  let app: string;
  let tarball: string;
  let files: string[];
  const pkg = { version: '', name: '' };

  before(async () => {
    Object.assign(pkg, JSON.parse(await readFile(join(root, 'package.json'), 'utf8')));
    assert.ok(existsSync(join(root, 'dist/index.d.ts')), 'dist/ is built (npm run build)');
    work = await makeTempDir('fam-package-');
    app = join(work, 'app');
    await mkdir(app);
    // --ignore-scripts: pack the dist/ that was built (prepare would build it again).
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, timeout: 60_000 });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, info!.filename);
    files = info!.files.map((f) => f.path);
  });

  after(cleanupTempDirs);

  it('ships examples (systemd unit, sample config), the man page, and the sources its source maps name', async () => {
    for (const file of ['examples/fam-mirror.service', 'examples/fam-mirror.json', 'man/fam-mirror.1', 'dist/cli.js', 'dist/index.d.ts', 'README.md', 'LICENSE']) {
      assert.ok(files.includes(file), `${file} in the tarball`);
    }
    const maps = files.filter((f) => f.endsWith('.js.map'));
    assert.ok(maps.length > 10, 'source maps are shipped');
    for (const map of maps) {
      const { sources } = JSON.parse(await readFile(join(root, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const shipped = join(map, '..', source);
        assert.ok(files.includes(shipped), `${map} names ${source}, which the tarball holds (${shipped})`);
      }
    }
    assert.equal(
      files.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f === 'node_modules'),
      false,
      'no tests, benchmarks or node_modules',
    );
  });

  it('installs in a fresh directory, its types compile with skipLibCheck: false, and fam-mirror --version runs', async () => {
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const rootEntry = lock.packages['']!;
    const tools = Object.fromEntries(CONSUMER_TOOLS.map((name) => [name, lock.packages[`node_modules/${name}`]!.version!]));
    const dependencies = { 'fam-mirror': `file:../${info(tarball)}`, typescript: tools.typescript!, '@types/node': tools['@types/node']! };
    const packages: Record<string, LockEntry> = { '': { name: 'consumer', version: '1.0.0', dependencies } };
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '' || !key.startsWith('node_modules/')) continue;
      const name = key.slice('node_modules/'.length);
      if (entry.dev && !CONSUMER_TOOLS.includes(name)) continue;
      const { dev: _dev, devOptional: _devOptional, ...kept } = entry;
      packages[key] = kept;
    }
    packages['node_modules/fam-mirror'] = {
      version: pkg.version,
      resolved: `file:../${info(tarball)}`,
      license: 'MIT',
      dependencies: rootEntry.dependencies ?? {},
      bin: { 'fam-mirror': 'dist/cli.js' },
      engines: rootEntry.engines ?? {},
    };
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies }, null, 2));
    await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
    await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, timeout: 60_000 }).catch((e: Error & { stderr?: string }) => {
      throw new Error(`npm ci --offline failed (are the dependencies in npm's cache? run npm ci in the repository once): ${e.stderr ?? e.message}`);
    });
    assert.ok(existsSync(join(app, 'node_modules/fam-mirror/man/fam-mirror.1')));

    await writeFile(join(app, 'consumer.ts'), CONSUMER);
    const tsconfig = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['consumer.ts'],
    };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = await run(join(app, 'node_modules/.bin/tsc'), ['-p', '.', '--listFiles'], { cwd: app, timeout: 60_000 }).catch((e: Error & { stdout?: string }) => {
      throw new Error(`the consumer does not type-check against the published types:\n${e.stdout ?? e.message}`);
    });
    const checked = tsc.stdout.split('\n').filter((f) => f.includes('/node_modules/fam-mirror/'));
    assert.ok(
      checked.some((f) => f.endsWith('/dist/index.d.ts')),
      'the published index.d.ts was checked',
    );
    const devTypes = tsc.stdout.split('\n').filter((f) => /\/node_modules\/@types\/(ssh2|debug)\//.test(f));
    assert.deepEqual(devTypes, [], 'no type of a devDependency is needed');

    const version = await run(join(app, 'node_modules/.bin/fam-mirror'), ['--version'], { cwd: app, timeout: 30_000 });
    assert.equal(version.stdout.trim(), pkg.version);
    const help = await run(join(app, 'node_modules/.bin/fam-mirror'), ['--help'], { cwd: app, timeout: 30_000 });
    assert.match(help.stdout, /--passphrase-file FILE/);
    assert.deepEqual((await readdir(join(app, 'node_modules/fam-mirror/examples'))).includes('fam-mirror.service'), true);
  });
});

function info(path: string): string {
  return path.split('/').pop()!;
}

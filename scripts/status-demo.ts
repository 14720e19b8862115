/**
 * What `fam-mirror status` shows with two ssh replicas, one of them stopped: two sshd daemons on
 * 127.0.0.1 (the test helper's, generated keys), the built CLI seeding both, then web3's sshd halted
 * and five files written. Run: `npm run build && npx tsx scripts/status-demo.ts`.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startSshdHosts, stopAll } from '../test/helpers/sshd.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hosts = await startSshdHosts(2);
const tmp = mkdtempSync(join(tmpdir(), 'fam-demo-'));
const src = join(tmp, 'www');
const state = join(tmp, 'state');
mkdirSync(src);
for (let i = 0; i < 20; i++) writeFileSync(join(src, `page${i}.html`), `<p>${i}</p>\n`);
const r1 = join(tmp, 'web2');
const r2 = join(tmp, 'web3');
mkdirSync(r1);
mkdirSync(r2);
const specs = hosts.map((h, i) => `ssh://${h.user}@127.0.0.1:${h.port}${i === 0 ? r1 : r2}`);
const cli = spawn('node', [CLI, '--init', '--state-dir', state, '--identity', hosts[0]!.identityFile, '--known-hosts', hosts[0]!.knownHostsFile, src, ...specs], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
cli.stdout.on('data', (d) => {
  out += d;
});
cli.stderr.on('data', (d) => {
  out += d;
});
// Bounded polls: at most `ms`, every 50 ms.
const wait = async (pred: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
};
await wait(() => /seeded and watching/.test(out), 20000);
await hosts[1]!.halt();
for (let i = 0; i < 5; i++) writeFileSync(join(src, `upload${i}.jpg`), 'x'.repeat(1000 * (i + 1)));
await wait(() => /down/.test(out), 20000);
console.log('$ fam-mirror status --state-dir', state);
console.log(execFileSync('node', [CLI, 'status', '--state-dir', state], { encoding: 'utf8' }));
console.log(`--- mirror log ---\n${out}`);
cli.kill('SIGTERM');
await new Promise((r) => cli.on('exit', r));
await stopAll();

/**
 * Past one master: a two-tier cascade. The master mirrors to a few relays; each relay runs its own
 * fam-mirror whose source is the tree it receives, and fans out to its leaves. Here both tiers run in
 * one process on local directories, to show the shape; in production each relay runs
 *   fam-mirror /var/www leaf1 leaf2 leaf3        (on the relay)
 * while the master runs
 *   fam-mirror /var/www relay1 relay2            (on the master)
 *   node --import tsx examples/cascade.ts MASTER RELAY LEAF1 LEAF2
 */
import { Mirror } from 'fam-mirror';

const [master = '/tmp/fam-master', relay = '/tmp/fam-relay', ...leaves] = process.argv.slice(2);
const tier1 = new Mirror({ source: master, replicas: [relay], initMirror: true });
const tier2 = new Mirror({ source: relay, replicas: leaves.length > 0 ? leaves : ['/tmp/fam-leaf1', '/tmp/fam-leaf2'], initMirror: true });
await tier1.start(); // the relay holds the tree before its own mirror seeds the leaves
await tier2.start();
console.log(`cascade running: ${master} → ${relay} → ${tier2.options.replicas.map((r) => r.id).join(', ')}`);
process.once('SIGINT', () => void Promise.all([tier1.close(), tier2.close()]));

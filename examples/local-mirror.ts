/**
 * One local replica, no ssh: the quickest way to see fam-mirror work.
 *   node --import tsx examples/local-mirror.ts SRC DEST
 */
import { Mirror } from 'fam-mirror';

const [source = 'examples/site', target = '/tmp/fam-mirror-replica'] = process.argv.slice(2);
const mirror = new Mirror({ source, replicas: [target], initMirror: true });
mirror.on('synced', (e) => console.log(`synced ${e.full ? 'everything' : `${e.paths} path(s)`} to ${e.replica} in ${e.durationMs} ms`));
await mirror.start();
console.log(`mirroring ${mirror.options.source} → ${target}; Ctrl-C to stop`);
process.once('SIGINT', () => void mirror.close());

/**
 * One upload master, four round-robin web servers: every host gets /var/www at the same path,
 * over one persistent ssh connection each. Needs ssh keys and known_hosts entries for the hosts.
 */
import { Mirror } from 'fam-mirror';

const mirror = new Mirror({
  source: '/var/www',
  replicas: ['web1', 'web2', 'web3', 'deploy@web4:/srv/www'],
  exclude: ['*.tmp', '/cache/'],
  agent: process.env.SSH_AUTH_SOCK,
});
mirror.on('replica-down', (e) => console.error(`${e.replica} down: ${e.error?.message}`));
mirror.on('replica-up', (e) => console.error(`${e.replica} back up`));
mirror.on('error', (err) => console.error(`${err.code}: ${err.message}`));
await mirror.start();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void mirror.close());

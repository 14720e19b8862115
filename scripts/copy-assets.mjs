// tsc copies no non-TS files: the rsync bridge is a plain sh script that must sit next to its module.
import { copyFileSync, chmodSync, mkdirSync } from 'node:fs';
mkdirSync('dist/transport', { recursive: true });
copyFileSync('src/transport/bridge.sh', 'dist/transport/bridge.sh');
chmodSync('dist/transport/bridge.sh', 0o755);
chmodSync('dist/cli.js', 0o755);

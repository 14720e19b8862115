/** `fam-mirror --help`: the prose around the command and option rows, which come from their tables. */
import { commandRows, synopsisLines, usageRows } from '../core/option-docs.js';

const REPLICAS = `REPLICA is one of:
  HOST                      same path as SRC on HOST (as fam_mirror did)
  HOST:/path, USER@HOST:/path
  ssh://USER@HOST:PORT/path
  /local/path, ./path, ../path
                            a local directory (plain rsync, no ssh); a relative
                            path must start with ./ or ../`;

const TAIL = `A first word verify, status, fence, unfence or release is always the command; a directory of
that name is ./verify.

Stop with Ctrl-C or SIGTERM: batches in flight finish, connections close, exit 0.
SIGHUP re-reads the config file and the lists and applies the replica list.
Exit status: 0 done, 1 failed, 2 usage error.
Debug logging: DEBUG=fam-mirror:* fam-mirror ...`;

export function usage(): string {
  const [first, ...rest] = synopsisLines();
  const head = [`Usage: fam-mirror ${first}`, ...rest.map((line) => `       fam-mirror ${line}`)].join('\n');
  return `${head}\n\n${REPLICAS}\n\nCommands:\n${commandRows()}\n\nOptions:\n${usageRows()}\n\n${TAIL}`;
}

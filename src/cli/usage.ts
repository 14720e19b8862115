/** `fam-mirror --help`: the prose around the option rows, which come from the option table. */
import { usageRows } from '../core/option-docs.js';

const HEAD = `Usage: fam-mirror [options] SRC REPLICA...
       fam-mirror [options] --watch-list FILE REPLICA...
       fam-mirror verify [options] SRC REPLICA...
       fam-mirror status [--json] [--state-dir DIR]
       fam-mirror fence DIR [--reason TEXT] | unfence DIR | release DIR

Keeps every REPLICA in step with the directory tree SRC, in near real time:
file-change events are coalesced and sent with rsync over one ssh connection per host.

REPLICA is one of:
  HOST                      same path as SRC on HOST (as fam_mirror did)
  HOST:/path, USER@HOST:/path
  ssh://USER@HOST:PORT/path
  /local/path, ./path, ../path
                            a local directory (plain rsync, no ssh); a relative
                            path must start with ./ or ../`;

const TAIL = `status shows every running mirror's replicas (state, lag, backlog, last success and error,
files and bytes sent), read from its socket in the state directory.

verify compares each REPLICA with SRC by checksum (an rsync dry run, nothing is changed),
prints every difference, and exits 0 when all are identical, 1 when not (or not reachable).

fence marks the replica root DIR of this host (a promoted standby) so that no master writes it:
a master meeting the marker reports ERR_REPLICA_FENCED and sends that replica nothing; unfence
removes it. release removes the owner record, which names the master (host:SRC) that feeds DIR and
makes any other master refuse it (ERR_REPLICA_OWNED) unless started with --take-over.

A first word verify, status, fence, unfence or release is always the command; a directory of
that name is ./verify.

Stop with Ctrl-C or SIGTERM: batches in flight finish, connections close, exit 0.
SIGHUP re-reads the config file and the lists and applies the replica list.
Debug logging: DEBUG=fam-mirror:* fam-mirror ...`;

export function usage(): string {
  return `${HEAD}\n\nOptions:\n${usageRows()}\n\n${TAIL}`;
}

/**
 * Every command, once: its synopsis and what it does. From it come the usage lines and the
 * "Commands:" section of `--help` (cli/usage.ts), the command words the parser knows (cli/args.ts),
 * the commands table of README.md and the man page (core/option-docs.ts, core/man-page.ts), so none
 * of them can drift. Pure data.
 */
import type { Command } from './option-table.js';

export interface CommandRow {
  name: Command;
  /** The first word that selects it; absent: the default command (no word). */
  word?: string;
  /** What follows `fam-mirror` in the usage lines (one line each). */
  synopsis: readonly string[];
  /** What it does (plain text, one paragraph; Markdown code spans are allowed: they are stripped for --help). */
  doc: string;
}

export const COMMAND_ROWS: readonly CommandRow[] = [
  {
    name: 'mirror',
    synopsis: ['[options] SRC REPLICA...', '[options] --watch-list FILE REPLICA...'],
    doc: 'keeps every REPLICA in step with the tree SRC (or every root of the watch list): watches it and sends what changed with rsync, over one ssh connection per host; `--init` seeds every replica first',
  },
  {
    name: 'verify',
    word: 'verify',
    synopsis: ['verify [options] SRC REPLICA...'],
    doc: 'compares each REPLICA with SRC by checksum (an rsync dry run, nothing is changed), prints every difference, and exits 0 when all are identical, 1 when not (or not reachable)',
  },
  {
    name: 'status',
    word: 'status',
    synopsis: ['status [--json] [--state-dir DIR]'],
    doc: "shows every running mirror's replicas (state, lag, backlog, last success and error, files and bytes sent), read from its socket in the state directory; exits 1 when none runs",
  },
  {
    name: 'fence',
    word: 'fence',
    synopsis: ['fence DIR [--reason TEXT]'],
    doc: 'marks the replica root DIR of this host (a promoted standby) so that no master writes it: a master meeting the marker reports `ERR_REPLICA_FENCED` and sends that replica nothing',
  },
  { name: 'unfence', word: 'unfence', synopsis: ['unfence DIR'], doc: 'removes the fence marker of DIR: masters may write it again' },
  {
    name: 'release',
    word: 'release',
    synopsis: ['release DIR'],
    doc: 'removes the owner record of DIR, which names the master (host:SRC) that feeds it and makes any other master refuse it (`ERR_REPLICA_OWNED`) unless started with `--take-over`',
  },
];

/** The words that select a command (the first positional argument). */
export function commandWords(): string[] {
  return COMMAND_ROWS.flatMap((row) => (row.word === undefined ? [] : [row.word]));
}

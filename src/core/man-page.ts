/**
 * fam-mirror(1), the man page, in roff (man macros), from the same tables as `--help` and README.md:
 * the commands (core/command-table.ts) and the options (core/option-table.ts). `npm run docs:options`
 * writes it to man/fam-mirror.1; a test keeps it current. Pure: the version is an argument and no
 * date is written, so the page changes only when a table does.
 */
import { COMMAND_ROWS } from './command-table.js';
import { flagRows, optionRows } from './option-table.js';

/** Text safe in roff: backslashes escaped, Markdown code spans in bold, no line starting with a control character. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/`([^`]*)`/g, (_m, code: string) => `\\fB${code.replace(/-/g, '\\-')}\\fR`)
    .replace(/\*(\w[^*]*\w)\*/g, '\\fI$1\\fR')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function flag(name: string): string {
  return name.replace(/-/g, '\\-');
}

export function manPage(version: string): string {
  const out: string[] = [];
  out.push(`.TH FAM-MIRROR 1 "" "fam-mirror ${version}" "User Commands"`);
  out.push('.SH NAME', 'fam-mirror \\- keep replica directories in step with one master tree, over rsync and ssh');
  out.push('.SH SYNOPSIS');
  for (const row of COMMAND_ROWS) for (const line of row.synopsis) out.push('.B fam-mirror', roff(line).replace(/-/g, '\\-'), '.br');
  out.pop();
  out.push('.SH DESCRIPTION');
  out.push(
    'fam-mirror watches the directory tree SRC with inotify, coalesces the changes and sends them to every REPLICA with rsync, over one persistent ssh connection per host (a local directory gets plain local rsync).',
  );
  out.push(
    '.PP',
    'REPLICA is one of: \\fIHOST\\fR (the same path as SRC on HOST), \\fIHOST\\fR:/path, \\fIUSER\\fR@\\fIHOST\\fR:/path, ssh://\\fIUSER\\fR@\\fIHOST\\fR:\\fIPORT\\fR/path, or a local directory: /path, ./path, ../path.',
  );
  out.push('.SH COMMANDS');
  for (const row of COMMAND_ROWS) out.push('.TP', row.word === undefined ? '(no command)' : `.B ${row.word}`, roff(row.doc));
  out.push('.SH OPTIONS');
  for (const row of flagRows()) {
    const { flag: name, short, arg } = row.cli;
    const left = `${short === undefined ? '' : `\\fB\\-${short}\\fR, `}\\fB\\-\\-${flag(name)}\\fR${arg === undefined ? '' : ` \\fI${arg.replace(/-/g, '\\-')}\\fR`}`;
    out.push('.TP', left, roff(row.doc));
  }
  const library = optionRows().filter((row) => row.key !== undefined && row.cli?.flag === undefined && row.cli?.positional === undefined);
  out.push('.SH CONFIGURATION FILE');
  out.push(
    '\\fB\\-\\-config\\fR \\fIFILE\\fR (default /etc/fam\\-mirror.json when it exists) holds a JSON object of library options; the command line overrides it key by key. Besides the options above (by their library names), it may set:',
  );
  for (const row of library) out.push('.TP', `.B ${row.key}`, roff(row.doc));
  out.push('.SH ENVIRONMENT');
  out.push('.TP', '.B INIT_MIRROR', 'when set (not 0, false or no): the same as \\fB\\-\\-init\\fR.');
  out.push('.TP', '.B SSH_AUTH_SOCK', 'the ssh\\-agent socket, tried before the identity files.');
  out.push('.TP', '.B XDG_STATE_HOME', 'the default state directory is $XDG_STATE_HOME/fam\\-mirror (else ~/.local/state/fam\\-mirror).');
  out.push('.TP', '.B DEBUG', 'fam\\-mirror:* logs every stage.');
  out.push('.SH SIGNALS');
  out.push('SIGINT and SIGTERM let batches in flight finish, close the connections and exit 0. SIGHUP re\\-reads the config file and the lists and applies the replica list.');
  out.push('.SH EXIT STATUS', '0: done (verify: every replica identical); 1: failed (verify: a difference, or a replica not reachable); 2: usage error.');
  out.push(
    '.SH FILES',
    '.TP',
    '/etc/fam\\-mirror.json',
    'the default config file.',
    '.TP',
    '~/.local/state/fam\\-mirror',
    'the default state directory (0700): journal, watermarks, tree snapshot, status socket.',
  );
  out.push('.SH SEE ALSO', '.BR rsync (1),', '.BR ssh (1),', '.BR inotify (7)');
  return `${out.join('\n')}\n`;
}

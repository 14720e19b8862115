/** The log line as a table: each level × style, the stream and quiet rule per level, journald detection. No I/O. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatLogLine, isJournalStream, isShown, lineStyle, streamOf, type LineStyle, type LogEntry, type LogFormat, type LogLevel } from '../../src/cli/log-line.js';

const AT = new Date('2026-03-04T05:06:07.089Z');
const entry = (level: LogLevel): LogEntry => ({ level, event: 'replica-down', message: 'replica web2 is down: refused', replica: 'web2', code: 'ERR_SSH_CONNECT' });

const EXPECTED: Record<LogLevel, Record<LineStyle, string>> = {
  error: {
    timestamped: '2026-03-04T05:06:07.089Z replica web2 is down: refused\n',
    plain: 'replica web2 is down: refused\n',
    journald: '<3>replica web2 is down: refused\n',
    json: '{"time":"2026-03-04T05:06:07.089Z","level":"error","event":"replica-down","replica":"web2","code":"ERR_SSH_CONNECT","message":"replica web2 is down: refused"}\n',
  },
  warn: {
    timestamped: '2026-03-04T05:06:07.089Z replica web2 is down: refused\n',
    plain: 'replica web2 is down: refused\n',
    journald: '<4>replica web2 is down: refused\n',
    json: '{"time":"2026-03-04T05:06:07.089Z","level":"warn","event":"replica-down","replica":"web2","code":"ERR_SSH_CONNECT","message":"replica web2 is down: refused"}\n',
  },
  info: {
    timestamped: '2026-03-04T05:06:07.089Z replica web2 is down: refused\n',
    plain: 'replica web2 is down: refused\n',
    journald: '<6>replica web2 is down: refused\n',
    json: '{"time":"2026-03-04T05:06:07.089Z","level":"info","event":"replica-down","replica":"web2","code":"ERR_SSH_CONNECT","message":"replica web2 is down: refused"}\n',
  },
};

describe('formatLogLine: each level × style', () => {
  for (const level of Object.keys(EXPECTED) as LogLevel[]) {
    for (const style of Object.keys(EXPECTED[level]) as LineStyle[]) {
      it(`${level} × ${style}`, () => assert.equal(formatLogLine(entry(level), AT, style), EXPECTED[level][style]));
    }
  }

  it('json: the numbers a shipper sums stay numbers, a sample stays a list, absent fields are left out', () => {
    const line = formatLogLine(
      { level: 'info', event: 'synced', message: 'synced 3 paths', replica: 'r', paths: 3, bytes: 1024, ms: 12, reason: 'seed', repaired: 2, sample: ['a "b"', 'c\nd'] },
      AT,
      'json',
    );
    assert.deepEqual(JSON.parse(line), {
      time: '2026-03-04T05:06:07.089Z',
      level: 'info',
      event: 'synced',
      replica: 'r',
      paths: 3,
      bytes: 1024,
      ms: 12,
      reason: 'seed',
      repaired: 2,
      sample: ['a "b"', 'c\nd'],
      message: 'synced 3 paths',
    });
    assert.equal(line.split('\n').length, 2, 'one line, whatever the names hold');
  });

  it('journald: every line of a multi-line message keeps its priority', () => {
    assert.equal(formatLogLine({ level: 'error', event: 'e', message: 'rsync failed:\nNo space left' }, AT, 'journald'), '<3>rsync failed:\n<3>No space left\n');
  });
});

describe('where a level goes, and what -q keeps', () => {
  const table: Array<[LogLevel, 'stdout' | 'stderr', boolean]> = [
    ['error', 'stderr', true],
    ['warn', 'stderr', true],
    ['info', 'stdout', false],
  ];
  for (const [level, stream, keptByQuiet] of table) {
    it(`${level}: ${stream}, ${keptByQuiet ? 'kept' : 'dropped'} by -q`, () => {
      assert.equal(streamOf(level), stream);
      assert.equal(isShown(level, true), keptByQuiet);
      assert.equal(isShown(level, false), true);
    });
  }
});

describe('the line style from --log-format and the journal', () => {
  const table: Array<[LogFormat, boolean, LineStyle]> = [
    ['auto', false, 'timestamped'],
    ['auto', true, 'journald'],
    ['plain', false, 'plain'],
    ['plain', true, 'plain'],
    ['json', false, 'json'],
    ['json', true, 'json'],
  ];
  for (const [format, journal, style] of table) it(`${format}, journal ${journal} → ${style}`, () => assert.equal(lineStyle(format, journal), style));

  const streams: Array<[string | undefined, { dev: number; ino: number } | undefined, boolean]> = [
    ['64769:1234', { dev: 64769, ino: 1234 }, true],
    ['64769:1234', { dev: 64769, ino: 999 }, false],
    [undefined, { dev: 64769, ino: 1234 }, false],
    ['64769:1234', undefined, false],
    ['', { dev: 0, ino: 0 }, false],
  ];
  for (const [env, st, expected] of streams) {
    it(`JOURNAL_STREAM=${env} and stderr ${st === undefined ? 'unknown' : `${st.dev}:${st.ino}`} → ${expected}`, () => assert.equal(isJournalStream(env, st), expected));
  }
});

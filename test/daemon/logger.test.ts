// The log line formats of the original, through the daemon's logger.
import { describe, it, expect } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger, destinationFor } from '../../src/log/logger.js';

describe('logger', () => {
  it('a logfile gets "[<localtime>|<CFGNAME>|<pid>] msg", appended, debug lines only in -d mode', async () => {
    const path = join(tmpdir(), `ldts-log-${process.pid}.log`);
    rmSync(path, { force: true });
    const t = new Date(2026, 10, 5, 7, 8, 9).getTime();
    const l = createLogger({ destination: { kind: 'file', path }, cfgName: 'x.cf', now: () => t });
    l.info('Added real server: 10.0.0.2:80 (tcp:10.0.0.1:80) (Weight set to 1)');
    l.debug('not written');
    l.error('two\nlines');
    await l.close();
    expect(readFileSync(path, 'utf8')).toBe(
      `[Thu Nov  5 07:08:09 2026|x.cf|${process.pid}] Added real server: 10.0.0.2:80 (tcp:10.0.0.1:80) (Weight set to 1)\n` +
        `[Thu Nov  5 07:08:09 2026|x.cf|${process.pid}] two\n` +
        `[Thu Nov  5 07:08:09 2026|x.cf|${process.pid}] lines\n`,
    );
    rmSync(path, { force: true });
  });

  it('moving to another file takes effect for the next line (reload with a new logfile)', async () => {
    const a = join(tmpdir(), `ldts-log-a-${process.pid}.log`);
    const b = join(tmpdir(), `ldts-log-b-${process.pid}.log`);
    const l = createLogger({ destination: { kind: 'file', path: a }, cfgName: 'c' });
    l.info('one');
    l.setDestination({ kind: 'file', path: b });
    l.info('two');
    expect(readFileSync(a, 'utf8')).toMatch(/\] one\n$/);
    expect(readFileSync(b, 'utf8')).toMatch(/\] two\n$/);
    rmSync(a, { force: true });
    rmSync(b, { force: true });
  });

  it('-d wins over supervised, which wins over the logfile directive', () => {
    const file = { kind: 'file', path: '/x' } as const;
    expect(destinationFor(file, { debug: true, supervised: true })).toEqual({ kind: 'stderr' });
    expect(destinationFor(file, { debug: false, supervised: true })).toEqual({ kind: 'supervised' });
    expect(destinationFor(file, { debug: false, supervised: false })).toEqual(file);
  });
});

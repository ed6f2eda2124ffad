// The log line formats of the original, through the daemon's logger.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger, destinationFor } from '../../src/log/logger.js';
import { builtUrl, runScript } from '../support/built.js';

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
    l.flush();
    expect(readFileSync(a, 'utf8')).toMatch(/\] one\n$/);
    expect(readFileSync(b, 'utf8')).toMatch(/\] two\n$/);
    rmSync(a, { force: true });
    rmSync(b, { force: true });
  });

  it('the lines of one turn of the event loop are appended together at its end, each with the time it was logged at', async () => {
    const path = join(tmpdir(), `ldts-log-turn-${process.pid}.log`);
    rmSync(path, { force: true });
    let t = new Date(2026, 10, 5, 7, 8, 9).getTime();
    const l = createLogger({ destination: { kind: 'file', path }, cfgName: 'x.cf', now: () => t });
    l.info('first');
    t += 1000;
    l.info('second');
    expect(existsSync(path)).toBe(false); // held until the turn ends
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, 'utf8')).toBe(`[Thu Nov  5 07:08:09 2026|x.cf|${process.pid}] first\n[Thu Nov  5 07:08:10 2026|x.cf|${process.pid}] second\n`);
    l.info('third');
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
    rmSync(path, { force: true });
  });

  it('a long burst is written as it goes, not held whole (bounded memory)', () => {
    const path = join(tmpdir(), `ldts-log-burst-${process.pid}.log`);
    rmSync(path, { force: true });
    const l = createLogger({ destination: { kind: 'file', path }, cfgName: 'x.cf' });
    for (let i = 0; i < 3000; i++) l.info(`Added real server: 127.0.0.${i % 250}:80 (tcp:127.0.0.1:80) (Weight set to 1) #${i}`);
    const written = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(written.length).toBeGreaterThan(1000);
    expect(written.length).toBeLessThan(3000);
    expect(written.at(-1)).toMatch(/#\d+$/);
    l.flush();
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3000);
    rmSync(path, { force: true });
  });

  it('held lines are written when the process exits, and before the command line writes its own', () => {
    // A child of the built logger: log two lines, write directly (as the command line does), log one more, exit at once.
    const script = `
      import { createLogger, flushLogs } from ${builtUrl('log/logger.js')};
      const l = createLogger({ destination: { kind: 'stderr' }, cfgName: 'x.cf', debug: true });
      l.info('one'); l.debug('two');
      flushLogs(); process.stderr.write('direct\\n');
      l.info('three');
      process.exit(3);`;
    const r = runScript(script);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('one\ntwo\ndirect\nthree\n');
  });

  it('-d wins over supervised, which wins over the logfile directive', () => {
    const file = { kind: 'file', path: '/x' } as const;
    expect(destinationFor(file, { debug: true, supervised: true })).toEqual({ kind: 'stderr' });
    expect(destinationFor(file, { debug: false, supervised: true })).toEqual({ kind: 'supervised' });
    expect(destinationFor(file, { debug: false, supervised: false })).toEqual(file);
  });
});

// The original's Getopt rules (bundling, no abbreviations, require_order) and ld_init's positional rules.
import { describe, it, expect } from 'vitest';
import { parseOptions, parseInvocation, stopWaitMs } from '../../src/cli/main.js';

describe('parseOptions', () => {
  it.each([
    [['-d', 'start'], { debug: true, help: false, version: false }, ['start']],
    [['--debug', 'x.cf', 'stop'], { debug: true, help: false, version: false }, ['x.cf', 'stop']],
    [['-dv'], { debug: true, help: false, version: true }, []],
    [['-?'], { debug: false, help: true, version: false }, []],
    [['--', '-d', 'start'], { debug: false, help: false, version: false }, ['-d', 'start']],
    // require_order: an option after the first argument is an argument
    [['x.cf', '-d', 'start'], { debug: false, help: false, version: false }, ['x.cf', '-d', 'start']],
  ])('%j', (argv, opts, rest) => {
    expect(parseOptions(argv)).toEqual({ opts, rest });
  });

  it('reports the first unknown option as Getopt names it', () => {
    expect(parseOptions(['-x'])).toEqual({ unknown: 'x' });
    expect(parseOptions(['-dq'])).toEqual({ unknown: 'q' });
    expect(parseOptions(['--deb'])).toEqual({ unknown: 'deb' }); // no abbreviations
  });
});

describe('parseInvocation', () => {
  it('one argument is the command, with the default config and CFGNAME', () => {
    expect(parseInvocation(['status'])).toEqual({ configArg: 'ldirectord.cf', cfgName: 'ldirectord', cmd: 'status', json: false });
  });
  it('two arguments: CFGNAME is the last path component as typed; extra arguments are ignored', () => {
    expect(parseInvocation(['/etc/ha.d/ldirectord.cf', 'start', 'x'])).toEqual({
      configArg: '/etc/ha.d/ldirectord.cf', cfgName: 'ldirectord.cf', cmd: 'start', json: false,
    });
  });
  it('show --json, with and without a config', () => {
    expect(parseInvocation(['show', '--json'])).toMatchObject({ cmd: 'show', json: true, cfgName: 'ldirectord' });
    expect(parseInvocation(['a.cf', 'show', '--json'])).toMatchObject({ cmd: 'show', json: true, cfgName: 'a.cf' });
  });
  it('no argument or an unknown command is usage', () => {
    expect(parseInvocation([])).toBeUndefined();
    expect(parseInvocation(['a.cf', 'bogus'])).toBeUndefined();
    expect(parseInvocation(['-d'])).toBeUndefined();
  });
});

describe('LDIRECTORD_STOP_WAIT', () => {
  it('seconds stop waits for the daemon to exit: 30 unset, empty or not a number; 0 does not wait', () => {
    expect(stopWaitMs(undefined)).toBe(30_000);
    expect(stopWaitMs('')).toBe(30_000);
    expect(stopWaitMs('abc')).toBe(30_000); // was NaN: no wait at all
    expect(stopWaitMs('-5')).toBe(30_000);
    expect(stopWaitMs('0')).toBe(0);
    expect(stopWaitMs('2.5')).toBe(2500);
  });
});

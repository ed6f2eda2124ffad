import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS, daemonNodeFlags } from '../../src/daemon/detach.js';
import { ROOT } from '../cli/helpers.js';

describe('node flags of the daemon', () => {
  it('the launcher asks for DAEMON_NODE_FLAGS on its #! line', () => {
    const first = readFileSync(join(ROOT, 'bin/ldirectord.js'), 'utf8').split('\n')[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(' ')}`);
  });
  it('the detached daemon child gets them when the parent ran without heap flags, once, other flags kept', () => {
    expect(daemonNodeFlags([])).toEqual([...DAEMON_NODE_FLAGS]);
    expect(daemonNodeFlags(['--enable-source-maps'])).toEqual(['--enable-source-maps', ...DAEMON_NODE_FLAGS]);
    expect(daemonNodeFlags([...DAEMON_NODE_FLAGS])).toEqual([...DAEMON_NODE_FLAGS]);
  });
  it("an admin's own heap flags are kept as given, none of ours added on top of them", () => {
    expect(daemonNodeFlags(['--max-semi-space-size=4'])).toEqual(['--max-semi-space-size=4']);
    expect(daemonNodeFlags(['--max-semi-space-size=2', '--heap-growing-percent=20'])).toEqual(['--max-semi-space-size=2', '--heap-growing-percent=20']);
    expect(daemonNodeFlags(['--max-old-space-size=200', '--enable-source-maps'])).toEqual(['--max-old-space-size=200', '--enable-source-maps']);
  });
});

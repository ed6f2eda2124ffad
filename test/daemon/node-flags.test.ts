import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonNodeFlags } from '../../src/daemon/detach.js';
import { ROOT } from '../cli/helpers.js';

describe('node flags of the daemon', () => {
  it('the launcher asks for --optimize-for-size on its #! line', () => {
    const first = readFileSync(join(ROOT, 'bin/ldirectord.js'), 'utf8').split('\n')[0];
    expect(first).toBe('#!/usr/bin/env -S node --optimize-for-size');
  });
  it('the detached daemon child gets it when the parent ran without it, once, other flags kept', () => {
    expect(daemonNodeFlags([])).toEqual(['--optimize-for-size']);
    expect(daemonNodeFlags(['--enable-source-maps'])).toEqual(['--enable-source-maps', '--optimize-for-size']);
    expect(daemonNodeFlags(['--optimize-for-size'])).toEqual(['--optimize-for-size']);
  });
});

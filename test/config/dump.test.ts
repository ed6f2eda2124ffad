import { describe, expect, it } from 'vitest';

import { dumpConfig, formatWarning, MASK } from '../../src/config/dump.js';
import { parse } from './helpers.js';

describe('dumpConfig', () => {
  it('is JSON-safe, complete, and masks passwd and secret', async () => {
    const c = await parse('checktimeout=4\nvirtual=127.0.0.1:1812\n\treal=127.0.0.2:1812 gate\n\tprotocol=udp\n\tlogin="u"\n\tpasswd="hunter2"\n\tsecret="s3"\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n');
    const d = dumpConfig(c) as { global: unknown; virtuals: Record<string, unknown>[] };
    const text = JSON.stringify(d);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('"s3"');
    expect(d.virtuals[0]).toMatchObject({ login: 'u', passwd: MASK, secret: MASK, service: 'radius', checktimeout: 4 });
    expect(d.virtuals[1]).toMatchObject({ passwd: '', secret: '' });
    const back = JSON.parse(text) as { global: unknown; virtuals: unknown[] };
    expect(back.global).toEqual(structuredClone(c.global));
    expect(back.virtuals).toHaveLength(2);
    // The model itself is untouched.
    expect(c.virtuals[0].passwd).toBe('hunter2');
  });

  it('formats warnings as FILE:LINE: warning: message', () => {
    expect(formatWarning({ file: 'a.cf', line: 3, message: 'm' })).toBe('a.cf:3: warning: m');
    expect(formatWarning({ file: 'a.cf', line: 0, message: 'm' })).toBe('a.cf: warning: m');
  });
});

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { readFileSync } from 'node:fs';

import { parseConfigFile } from '../../src/config/parse.js';
import { hostsFileResolver } from '../../src/config/resolver.js';

const dir = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.cf')).sort();

// Examples use only IP literals (documentation ranges and loopback); service names come from the
// services file kept with the differential corpus, so the test does not depend on /etc/services.
const resolver = hostsFileResolver(
  '127.0.0.1 localhost\n',
  readFileSync(join(dir, '..', 'test', 'differential', 'config', 'services.txt'), 'utf8'),
);
const ALLOWED = /^(127\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8:|::1$|$)/;

describe('examples', () => {
  it('there are at least 12, each starting with a comment saying what it shows', async () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8')).toMatch(/^# \S/);
  });

  it.each(files)('%s parses, with safe addresses only', async (f) => {
    const c = await parseConfigFile(join(dir, f), { resolver, hostname: 'lb1', checkFiles: false });
    expect(c.virtuals.length).toBeGreaterThan(0);
    for (const v of c.virtuals) {
      expect(v.ip).toMatch(ALLOWED);
      for (const r of v.reals) expect(r.ip).toMatch(ALLOWED);
      if (v.fallback) expect(v.fallback.ip).toMatch(ALLOWED);
    }
  });
});

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { parseConfigFile } from '../../src/config/parse.js';

const dir = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.cf')).sort();

// Examples use only IP literals (documentation ranges and loopback), so the system resolver never
// asks a name server.
const ALLOWED = /^(127\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8:|::1$|$)/;

describe('examples', () => {
  it('there are at least 12, each starting with a comment saying what it shows', async () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    const { readFileSync } = await import('node:fs');
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8')).toMatch(/^# \S/);
  });

  it.each(files)('%s parses, with safe addresses only', async (f) => {
    const c = await parseConfigFile(join(dir, f), { hostname: 'lb1', checkFiles: false });
    expect(c.virtuals.length).toBeGreaterThan(0);
    for (const v of c.virtuals) {
      expect(v.ip).toMatch(ALLOWED);
      for (const r of v.reals) expect(r.ip).toMatch(ALLOWED);
      if (v.fallback) expect(v.fallback.ip).toMatch(ALLOWED);
    }
  });
});

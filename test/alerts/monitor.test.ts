import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MonitorWriter } from '../../src/alerts/monitor.js';
import { encodeMonitorMessage, formatMonitorLine } from '../../src/engine/monitor-line.js';
import { perlLocaltime } from '../../src/util/localtime.js';

describe('monitorfile', () => {
  it('formats the time like Perl scalar localtime', () => {
    const t = new Date(2026, 10, 5, 5, 41, 14).getTime();
    expect(perlLocaltime(t)).toBe('Thu Nov  5 05:41:14 2026');
  });
  it('formats a line as the original: id colons squeezed, backslashes removed, message encoded', () => {
    const t = new Date(2026, 10, 25, 5, 41, 14).getTime();
    const line = formatMonitorLine(t, 4242, 'negotiate:http:tcp:127.0.0.2:80::80:1:gate:\\/index\\.html:ok', false, 'HTTP/1.1 500 x|y\r\n100%');
    expect(line).toBe('[Wed Nov 25 05:41:14 2026] [4242] negotiate http tcp 127.0.0.2 80 80 1 gate /index.html ok [down] HTTP/1.1 500 x%7cy%0d%0a100%25\n');
    expect(encodeMonitorMessage('')).toBe('-');
  });
  it('appends lines and reports a write failure instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mon-'));
    const errors: string[] = [];
    const w = new MonitorWriter((f) => errors.push(f));
    await w.write(join(dir, 'm.log'), 'a\n');
    await w.write(join(dir, 'm.log'), 'b\n');
    expect(readFileSync(join(dir, 'm.log'), 'utf8')).toBe('a\nb\n');
    mkdirSync(join(dir, 'sub'));
    await w.write(join(dir, 'sub'), 'c\n');
    expect(errors).toEqual([join(dir, 'sub')]);
    chmodSync(dir, 0o755);
  });
});

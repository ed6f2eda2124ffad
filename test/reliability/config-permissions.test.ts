/**
 * A world-writable config file or maintenancedir lets any local user steer the director (commands it
 * runs, reals it drains): the parser warns about both, with FILE:LINE for the maintenancedir.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigFile } from '../../src/config/parse.js';
import { formatWarning } from '../../src/config/dump.js';

const opts = { hostname: 'lb1', checkFiles: false } as const;

describe('world-writable config and maintenancedir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldrel-perm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('warns about a world-writable config file, and not about a 0644 one', async () => {
    const path = join(dir, 'ww.cf');
    writeFileSync(path, 'checktimeout=3\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n');
    chmodSync(path, 0o644);
    const ok = await parseConfigFile(path, opts);
    expect(ok.warnings.filter((w) => /world-writable/.test(w.message))).toEqual([]);
    chmodSync(path, 0o666);
    const bad = await parseConfigFile(path, opts);
    const ww = bad.warnings.filter((w) => /world-writable/.test(w.message));
    expect(ww).toHaveLength(1);
    expect(ww[0].file).toBe(path);
    expect(formatWarning(ww[0])).toBe(`${path}: warning: configuration file ${path} is world-writable: anyone can change what the director runs`);
    // The model itself is unchanged by the warning.
    expect(bad.virtuals).toEqual(ok.virtuals);
  });

  it('warns about a world-writable maintenancedir at its line, not about a 0755 one', async () => {
    const mdir = join(dir, 'maint');
    mkdirSync(mdir);
    const path = join(dir, 'm.cf');
    writeFileSync(path, `checktimeout=3\nmaintenancedir=${mdir}\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n`);
    chmodSync(path, 0o600);
    chmodSync(mdir, 0o755);
    expect((await parseConfigFile(path, { ...opts, checkFiles: true })).warnings.map((w) => w.message).join('\n')).not.toMatch(/world-writable/);
    chmodSync(mdir, 0o1777);
    // Checked with the file checks (checkFiles, the daemon's default), sticky /tmp-like directories included.
    expect((await parseConfigFile(path, opts)).warnings.filter((w) => /world-writable/.test(w.message))).toEqual([]);
    const c = await parseConfigFile(path, { ...opts, checkFiles: true });
    const ww = c.warnings.filter((w) => /world-writable/.test(w.message));
    expect(ww).toHaveLength(1);
    expect(formatWarning(ww[0])).toBe(`${path}:2: warning: maintenance directory ${mdir} is world-writable: anyone can put real servers in maintenance`);
  });
});

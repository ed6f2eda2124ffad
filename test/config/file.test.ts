import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { parseConfigFile } from '../../src/config/parse.js';
import { ConfigError } from '../../src/util/errors.js';
import { opts } from './helpers.js';

describe('parseConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldcfg-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file in the model, in positions and in errors', async () => {
    const path = join(dir, 'ok.cf');
    writeFileSync(path, 'virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n');
    const c = await parseConfigFile(path, opts);
    expect(c.file).toBe(path);
    expect(c.virtuals[0].pos).toEqual({ file: path, line: 1 });
    expect(c.virtuals[0].reals[0].pos).toEqual({ file: path, line: 2 });
    const bad = join(dir, 'bad.cf');
    writeFileSync(bad, '\n\nbogus=1\n');
    const e = await parseConfigFile(bad, opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).format()).toBe(`${bad}:3: unknown directive: bogus=1`);
    expect((e as ConfigError).text).toBe('bogus=1');
    expect((e as ConfigError).code).toBe('LDIR_ERR_CONFIG');
  });

  it('an unreadable file is a ConfigError at line 0', async () => {
    const e = await parseConfigFile(join(dir, 'missing.cf'), opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).line).toBe(0);
    expect((e as ConfigError).format()).toMatch(/missing\.cf: can not open file/);
  });
});

// The directive registry (src/config/directives.ts): its invariants, the scope rule for every entry,
// and the recipe its header promises: a new directive is one entry (plus its model field).
import { describe, expect, it } from 'vitest';

import {
  buildGlobal,
  buildVirtualFields,
  DIRECTIVES,
  type Directive,
  field,
  type LineContext,
  positive,
  readDirective,
  yesNo,
} from '../../src/config/directives.js';
import { type GlobalDraft, Parser, type ResolvedVirtual, type VirtualDraft } from '../../src/config/session.js';
import { ConfigError } from '../../src/util/errors.js';
import { parse, reject, resolver } from './helpers.js';

const H = 'virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate';

describe('registry invariants', () => {
  it('one entry per name, with patterns exactly where its scope allows', () => {
    const names = DIRECTIVES.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of DIRECTIVES) {
      expect(d.forms.global.length > 0, `${d.name} at top level`).toBe(d.scope !== 'virtual');
      expect(d.forms.virtual.length > 0, `${d.name} in a block`).toBe(d.scope !== 'global');
    }
  });

  it('no two names can match the same line (the registry order is not a matching order)', () => {
    for (const place of ['global', 'virtual'] as const) {
      for (const d of DIRECTIVES) {
        for (const other of DIRECTIVES) {
          if (other === d) continue;
          const line = `${d.name}=yes`;
          expect(other.forms[place].some((re) => re.test(line)), `${other.name} matches ${line}`).toBe(false);
        }
      }
    }
  });
});

describe('scope: a directive written where it may not appear is an unknown directive, at its line', () => {
  const virtualOnly = DIRECTIVES.filter((d) => d.scope === 'virtual');
  const globalOnly = DIRECTIVES.filter((d) => d.scope === 'global');
  it.each(virtualOnly.map((d) => d.name))('%s at top level', async (name) => {
    const e = await reject(`${H}\n\n${name}=x\n`);
    expect([e.line, e.message]).toEqual([4, `unknown directive: ${name}=x`]);
  });
  it.each(globalOnly.map((d) => d.name))('%s in a block', async (name) => {
    const e = await reject(`${H}\n\t${name}=x\n`);
    expect([e.line, e.message]).toEqual([3, `unknown directive in virtual block: ${name}=x`]);
  });
  it('a "both" directive is read in either place', async () => {
    const c = await parse(`quiescent=yes\n${H}\n\tquiescent=no\nvirtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n`);
    expect(c.global.quiescent).toBe(true);
    expect(c.virtuals.map((v) => v.quiescent)).toEqual([false, true]);
  });
});

describe('adding a directive is one entry (the recipe of the registry header)', () => {
  // Model fields that do not exist yet: the cast stands for the field a real addition declares.
  const samplecount = field({
    name: 'samplecount',
    scope: 'both',
    key: 'samplecount' as 'checkcount',
    default: 2,
    read: positive('samplecount: a positive number is required'),
  });
  const examplesync = field({ name: 'examplesync', scope: 'global', key: 'examplesync' as 'fork', default: false, read: yesNo('examplesync') });
  const registry: readonly Directive[] = [...DIRECTIVES, samplecount, examplesync];

  const p = new Parser('t.cf', { resolver, checkFiles: false });
  const block = (): VirtualDraft => ({ keyword: 'virtual', family: 4, line: 1, protocol: 'tcp', set: {}, lines: {}, realsTodo: [] });
  const read = (g: GlobalDraft, lineText: string, line: number, v?: VirtualDraft): Promise<boolean> => {
    const ctx: LineContext = { p, line, raw: lineText, place: v ? 'virtual' : 'global', g, ...(v ? { v } : {}) };
    return readDirective(ctx, lineText, registry);
  };
  const fields = (g: GlobalDraft, v: VirtualDraft): Record<string, unknown> => {
    const rv = { draft: v, ip: '127.0.0.1', server: '127.0.0.1', portStr: '80', port: 80, service: 'http', reals: [], vid: 'tcp:127.0.0.1:80' } as ResolvedVirtual;
    return buildVirtualFields({ p, rv, v, global: buildGlobal(g, registry) }, registry) as Record<string, unknown>;
  };

  it('default when written nowhere, global value inherited, own value first', async () => {
    const g: GlobalDraft = { set: {} };
    expect((buildGlobal(g, registry) as unknown as Record<string, unknown>).samplecount).toBe(2);
    expect(fields(g, block()).samplecount).toBe(2);
    expect(await read(g, 'samplecount = 5', 1)).toBe(true);
    expect((buildGlobal(g, registry) as unknown as Record<string, unknown>).samplecount).toBe(5);
    expect(fields(g, block()).samplecount).toBe(5);
    const v = block();
    expect(await read(g, 'samplecount=7', 3, v)).toBe(true);
    expect(fields(g, v).samplecount).toBe(7);
    expect(v.lines.samplecount).toBe(3);
  });

  it('the grammar gives the error text at FILE:LINE; a global-only entry is not read in a block', async () => {
    const g: GlobalDraft = { set: {} };
    const e = await read(g, 'samplecount=0', 9).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).format()).toBe('t.cf:9: samplecount: a positive number is required');
    expect(await read(g, 'examplesync=yes', 2)).toBe(true);
    expect((buildGlobal(g, registry) as unknown as Record<string, unknown>).examplesync).toBe(true);
    expect(await read(g, 'examplesync=yes', 4, block())).toBe(false);
    const bad = await read(g, 'examplesync=on', 5).catch((x: unknown) => x);
    expect((bad as ConfigError).format()).toBe("t.cf:5: examplesync must be 'yes' or 'no'");
  });
});

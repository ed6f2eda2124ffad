// The manual pages: groff finds nothing to warn about, and ldirectord.cf.5 documents exactly the
// directives the parser knows.
//
// The parser's directives are the names of its registry (src/config/directives.ts: directiveNames()),
// checked against a floor of directives the original certainly has.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { directiveNames } from '../../src/config/directives.js';
import { ROOT, which } from './helpers.js';

const PAGES = ['man/ldirectord.8', 'man/ldirectord.cf.5'];
const GROFF = which('groff');
if (!GROFF) console.warn('compat/man: groff checks skipped: groff not installed (Debian package groff-base)');

/**
 * The directives ldirectord.cf.5 documents: the first word of each `.TP` entry's tag line
 * (`.B name`, `.BI "name = " ...`, `.BR name ", " other` also gives `other`) in the sections
 * GLOBAL DIRECTIVES, VIRTUAL SERVICES, PER-VIRTUAL DIRECTIVES and EXTENSIONS.
 */
export function manDirectives(roff: string): Set<string> {
  const names = new Set<string>();
  const sections = roff.split(/^\.SH /m).filter((s) => /^(GLOBAL DIRECTIVES|VIRTUAL SERVICES|PER-VIRTUAL DIRECTIVES|EXTENSIONS)/.test(s));
  for (const sec of sections) {
    // nested lists (.RS ... .RE) hold values, not directives
    const flat = sec.replace(/^\.RS\n[\s\S]*?^\.RE\n/gm, '');
    for (const m of flat.matchAll(/^\.TP\n\.B[IR]? "?([a-z][a-z0-9]*)(.*)$/gm)) {
      names.add(m[1]);
      const more = /^ ", " ([a-z][a-z0-9]*)\b/.exec(m[2]);
      if (more) names.add(more[1]);
    }
  }
  return names;
}

describe('man pages', () => {
  it.skipIf(!GROFF).each(PAGES)('groff -man -ww -z %s prints no warning', (page) => {
    const r = spawnSync(GROFF as string, ['-man', '-ww', '-z', join(ROOT, page)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('every directive the parser knows is in ldirectord.cf.5, and the page names no other', () => {
    const parser = new Set(directiveNames());
    for (const must of ['virtual', 'virtual6', 'real', 'real6', 'checktype', 'fallback6', 'emailalertstatus', 'maintenancedir', 'timeout']) {
      expect(parser, `the registry has ${must}`).toContain(must);
    }
    const page = manDirectives(readFileSync(join(ROOT, 'man/ldirectord.cf.5'), 'utf8'));
    expect([...parser].filter((n) => !page.has(n)).sort(), 'in the parser, missing from the page').toEqual([]);
    expect([...page].filter((n) => !parser.has(n)).sort(), 'in the page, unknown to the parser').toEqual([]);
  });

  it('ldirectord.8 documents every command, option and exit status', () => {
    const page = readFileSync(join(ROOT, 'man/ldirectord.8'), 'utf8').replace(/\\-/g, '-');
    for (const c of ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status', 'configtest', 'dump', 'show', 'demo']) {
      expect(page).toMatch(new RegExp(`^\\.(TP\\n\\.)?BR? ${c}\\b|^\\.BR ${c} ",`, 'm'));
    }
    for (const o of ['-d', '--debug', '-h', '--help', '-v', '--version']) expect(page).toContain(o);
    for (const s of ['SIGTERM', 'SIGHUP', 'SIGINT']) expect(page).toContain(s);
    for (const code of ['0', '1', '2', '3', '255']) expect(page).toMatch(new RegExp(`^\\.B ${code}$`, 'm'));
    expect(page).toContain('.SH DIFFERENCES FROM THE PERL LDIRECTORD');
  });
});

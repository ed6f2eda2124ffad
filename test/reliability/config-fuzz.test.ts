/**
 * Config fuzzing: thousands of mutations of the examples and the differential corpus. Every one must
 * end in a Config or a ConfigError naming FILE:LINE — never another exception, never a hang — and a
 * sample goes through the real command (`configtest`) to prove exit 0 or 2 without a stack trace.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { parseConfigText } from '../../src/config/parse.js';
import { ConfigError } from '../../src/util/errors.js';

const root = join(import.meta.dirname, '..', '..');

function seeds(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const dir of ['examples', 'test/differential/config/corpus']) {
    const d = join(root, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).filter((f) => f.endsWith('.cf'))) out.push({ name: `${dir}/${f}`, text: readFileSync(join(d, f), 'utf8') });
  }
  return out;
}

/** Deterministic PRNG (mulberry32) so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = ['\u0000', '\u00e9', '\u202e', '\ud83d\ude00', '\r', '\t', '"', '#', '->', ':', '[', ']', '\\', '999999999999999999999', '-1', '0', 'yes', 'no'];

function mutate(text: string, r: () => number): string {
  const lines = text.split('\n');
  const pick = () => Math.floor(r() * Math.max(1, lines.length));
  switch (Math.floor(r() * 10)) {
    case 0: return text.slice(0, Math.floor(r() * text.length)); // truncation
    case 1: { // byte flip
      const b = Buffer.from(text);
      if (b.length) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      return b.toString('latin1');
    }
    case 2: { const i = pick(); lines.splice(i, 0, lines[i] ?? ''); return lines.join('\n'); } // duplicated line
    case 3: { const i = pick(), j = pick(); [lines[i], lines[j]] = [lines[j], lines[i]]; return lines.join('\n'); } // reordered
    case 4: return text.replace(/\d+/, '9'.repeat(1 + Math.floor(r() * 40))); // huge value
    case 5: { const i = pick(); lines[i] = (lines[i] ?? '') + NASTY[Math.floor(r() * NASTY.length)]; return lines.join('\n'); } // unicode & specials
    case 6: return text.replace(/\n/g, '\r\n'); // CRLF
    case 7: return text.replace(/^ {4}/gm, '\t'); // tabs
    case 8: { const i = pick(); lines[i] = (lines[i] ?? '') + 'x'.repeat(100_000); return lines.join('\n'); } // very long line
    default: { const i = pick(); lines.splice(i, 1); return lines.join('\n'); } // deleted line
  }
}

const all = seeds();

describe.skipIf(all.length === 0)('config fuzzing', () => {
  it('every mutation parses or is rejected with FILE:LINE, never a crash or a hang', async () => {
    const r = rng(20261125);
    const resolver = {
      // Offline and deterministic: only IP literals and localhost resolve.
      lookupHost: async (name: string, family: 4 | 6) => (name === 'localhost' ? (family === 4 ? '127.0.0.1' : '::1') : undefined),
      servicePort: (name: string) => ({ http: 80, https: 443, domain: 53, smtp: 25, ftp: 21, mysql: 3306 } as Record<string, number>)[name],
    };
    let accepted = 0, rejected = 0;
    const cases = 5000;
    for (let i = 0; i < cases; i++) {
      const seed = all[i % all.length];
      let text = seed.text;
      const rounds = 1 + Math.floor(r() * 3);
      for (let k = 0; k < rounds; k++) text = mutate(text, r);
      // CPU time of this process, not wall time: a pathological parse (a regexp gone exponential)
      // burns CPU, while a busy machine (the test line beside other work) only stretches the wall clock.
      const started = process.cpuUsage();
      try {
        await parseConfigText(text, `/fuzz/${i}.cf`, { resolver, hostname: 'director', checkFiles: false });
        accepted++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`case ${i} (from ${seed.name}) threw ${String((err as Error)?.stack ?? err)}`);
        expect(err.format()).toMatch(new RegExp(`^/fuzz/${i}\\.cf(:\\d+)?: \\S`));
        rejected++;
      }
      const cpu = process.cpuUsage(started);
      expect((cpu.user + cpu.system) / 1000, `case ${i} from ${seed.name} took too much CPU (ms)`).toBeLessThan(1000);
    }
    console.log(`config fuzzing: ${cases} mutations of ${all.length} files: ${accepted} accepted, ${rejected} rejected with FILE:LINE`);
    expect(accepted + rejected).toBe(cases);
  });

  it.skipIf(!existsSync(join(root, 'dist', 'cli', 'main.js')))('configtest exits 0 or 2 with FILE:LINE and no stack trace', () => {
    const r = rng(7);
    const dir = mkdtempSync(join(tmpdir(), 'fuzzcli-'));
    for (let i = 0; i < 40; i++) {
      const seed = all[i % all.length];
      const file = join(dir, `f${i}.cf`);
      writeFileSync(file, mutate(mutate(seed.text, r), r));
      const p = spawnSync(process.execPath, [join(root, 'bin', 'ldirectord.js'), file, 'configtest'], { encoding: 'utf8', timeout: 10_000 });
      expect([0, 2], `f${i}.cf from ${seed.name}: ${p.stderr}`).toContain(p.status);
      expect(p.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      if (p.status === 2) expect(p.stderr).toContain(`${file}`);
    }
  });
});

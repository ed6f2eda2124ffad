// `ldirectord demo` (README's first command) run as a process without a terminal: the sequential
// output must show every step reached in the table, and the demo must end by itself with status 0.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { build, ld, tmp, ROOT } from './helpers.js';
import { runDemo } from '../../src/demo/demo.js';
import { miniParts } from './mini-director.js';

const realReady = ['dist/engine/director.js', 'dist/ipvs-sim/sim-driver.js'].every((p) => existsSync(join(ROOT, p)));
if (!realReady) console.warn('demo with the real director skipped: the director or SimDriver is not built yet');

function tables(stdout: string): string[] {
  return stdout.split('\n--- IPVS table').slice(1);
}

function checkRun(r: { code: number; stdout: string }) {
  expect(r.code).toBe(0);
  const phases = [...r.stdout.matchAll(/^== (.*)$/gm)].map((m) => m[1]);
  expect(phases.map((p) => p.split(':')[0])).toEqual([
    'Starting the director',
    'All three web servers are up',
    'Web server 127.0.0.3 stopped',
    'All web servers stopped',
    'The web servers are back',
  ]);
  const t = tables(r.stdout);
  // The destination rows of a table: the lines that name 127.0.0.2-5 before the next blank line.
  const rows = (s: string) =>
    s
      .split('\n\n')[0]
      .split('\n')
      .slice(1)
      .flatMap((l) => [...l.matchAll(/(127\.0\.0\.[2-5]):\d+/g)].map((m) => m[1]));
  // Some table shows only the sorry server; the last one shows the three web servers and not it.
  expect(t.some((s) => rows(s).join() === '127.0.0.5')).toBe(true);
  expect(rows(t[t.length - 1]).sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  expect(r.stdout).toContain('demo: finished; every change was seen in the table.');
}

describe('demo', () => {
  beforeAll(() => build());

  it('the demo script, drawing and servers (with a small stand-in director, in this process)', async () => {
    let stdout = '';
    const out = new Writable({
      write(chunk, _enc, cb) {
        stdout += String(chunk);
        cb();
      },
    });
    const code = await runDemo({ argv: [], out, wiring: miniParts });
    checkRun({ code, stdout });
  }, 60_000);

  it.skipIf(!realReady)('the demo with the real director, checks and simulated table', async () => {
    const r = await ld(['demo'], { cwd: tmp() });
    checkRun(r);
  }, 90_000);
});

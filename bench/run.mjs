#!/usr/bin/env node
// `npm run bench`: runs every benchmark script in this folder, one after another, and prints what each
// measures. Benchmarks print numbers (and the original's beside them where that applies); they assert
// nothing. Run one alone with `node bench/<name>.mjs`. BENCH_ONLY=name1,name2 narrows the set.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .filter((f) => !only || only.has(f.replace(/\.mjs$/, '')))
  .sort();
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== bench/${s}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, s)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${s} exited with ${r.status ?? r.signal}`);
  }
}
console.log(`\n${scripts.length} benchmarks run, ${failed} failed to run`);
process.exit(failed ? 1 : 0);

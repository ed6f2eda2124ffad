#!/usr/bin/env node
// bench/dev/flags.mjs — the V8 heap flags for the daemon, measured against both of issue #20's goals in one
// run: for each flag set, bench/headroom.mjs (200 reals: CPU per 1000 checks, steady RSS) and the rss part of
// bench/checks.mjs (10 000 reals: start to complete table, RSS, peak RSS). The original and bare Node are
// measured once, with the first set. Build first (`npx tsc -p tsconfig.json`); run it under the heavy-run lock
// on a quiet machine: it takes about 3 minutes per set plus the original's warm-up.
//   FLAG_SETS='--optimize-for-size;--max-semi-space-size=2 --heap-growing-percent=20' (';' between sets)
// Prints what the scripts print, each block headed by its flags; asserts nothing.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');
const sets = (
  process.env.FLAG_SETS ??
  '--optimize-for-size;--max-semi-space-size=1 --heap-growing-percent=20;--max-semi-space-size=2 --heap-growing-percent=20'
)
  .split(';')
  .map((s) => s.trim())
  .filter(Boolean);

sets.forEach((flags, i) => {
  console.log(`\n=== flags: ${flags}`);
  const env = { ...process.env, BENCH_DAEMON_NODE_FLAGS: flags };
  const first = i === 0;
  spawnSync(process.execPath, [join(bench, 'headroom.mjs')], {
    stdio: 'inherit',
    env: { ...env, ...(first ? {} : { BENCH_ORIGINAL: '0', HEADROOM_BARE: '0' }) },
  });
  spawnSync(process.execPath, ['--expose-gc', join(bench, 'checks.mjs')], {
    stdio: 'inherit',
    env: { ...env, BENCH_CHECKS_PARTS: 'rss', BENCH_RSS_CYCLES: process.env.BENCH_RSS_CYCLES ?? '5', BENCH_ORIGINAL: '0' },
  });
});

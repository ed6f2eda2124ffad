#!/usr/bin/env node
// Benchmark: 1000 real servers change state in one cycle (all quiesced: weight 1 → 0). Counts the
// ipvsadm processes our driver starts for that cycle (one read + one `ipvsadm -R` that writes every
// change and reads the table back), against the fake ipvsadm, and prints beside it the count for the
// original's approach. The original (ldirectord's _quiescent_server / _restore_service) runs, per
// changed real, ld_read_ipvsadm (`ipvsadm -L -n` then `ipvsadm -L -n --thresholds`) and then one
// `ipvsadm -e|-a|-d`: 3 processes per change. That count is computed from its algorithm (read in
// /usr/sbin/ldirectord), not by running the Perl daemon; its time is measured by replaying that exact
// process pattern against the same fake for a sample of changes and scaling up.
// Needs dist/ (npm run build). Usage: node bench/ipvs-batch.mjs [reals=1000] [sample=60]
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const driverJs = join(root, 'dist/ipvs/ipvsadm-driver.js');
if (!existsSync(driverJs) || !existsSync(join(root, 'dist/ipvs/kernel-sim.js'))) {
  console.log('bench/ipvs-batch: dist/ipvs not built (run: npx tsc -p tsconfig.json)');
  process.exit(1);
}
const { IpvsadmDriver } = await import(pathToFileURL(driverJs).href);
const { emptyState, runIpvsadm } = await import(pathToFileURL(join(root, 'dist/ipvs/kernel-sim.js')).href);

const N = Number(process.argv[2] ?? 1000);
const SAMPLE = Math.min(N, Number(process.argv[3] ?? 60));
const tmp = mkdtempSync(join(tmpdir(), 'ipvs-batch-'));
const state = join(tmp, 'state.json');
const log = join(tmp, 'log.jsonl');
const bin = join(tmp, 'ipvsadm');
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
writeFileSync(
  bin,
  `#!/bin/sh\nFAKE_IPVSADM_STATE=${q(state)}; export FAKE_IPVSADM_STATE\nFAKE_IPVSADM_LOG=${q(log)}; export FAKE_IPVSADM_LOG\n` +
    `exec ${q(process.execPath)} ${q(join(root, 'test/fake-ipvsadm/ipvsadm.mjs'))} "$@"\n`,
);
chmodSync(bin, 0o755);

const vip = '127.0.0.1:80';
const real = (i) => `127.${1 + Math.floor(i / 250)}.${Math.floor(i / 250) % 250}.${1 + (i % 250)}:80`;
const desired = (weight) => ({
  services: [
    {
      service: { proto: 'tcp', vaddr: vip, scheduler: 'wrr' },
      dests: Array.from({ length: N }, (_, i) => ({ rs: real(i), forward: 'gate', weight, upperThreshold: 0, lowerThreshold: 0 })),
    },
  ],
  remove: [],
});
const logCount = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);

// Setup: the 1000 reals up (not counted).
const driver = new IpvsadmDriver({ path: bin, timeoutMs: 120_000 });
const setup = await driver.sync(desired(1));
if (setup.error || setup.commands.some((c) => !c.ok)) {
  console.log('setup failed', setup.error ?? setup.commands.find((c) => !c.ok));
  process.exit(1);
}

// The cycle: every real changes state.
const before = logCount();
const t0 = performance.now();
const cycle = await driver.sync(desired(0));
const ours = { ms: performance.now() - t0, processes: cycle.processes, logged: logCount() - before };
const changed = cycle.commands.length;
const failed = cycle.commands.filter((c) => !c.ok).length;

// The original's process pattern, replayed for a sample of changes against the same fake.
const t1 = performance.now();
for (let i = 0; i < SAMPLE; i++) {
  spawnSync(bin, ['-L', '-n'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  spawnSync(bin, ['-L', '-n', '--thresholds'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  spawnSync(bin, ['-e', '-t', vip, '-r', real(i), '-g', '-w', '1']);
}
const perChangeMs = (performance.now() - t1) / SAMPLE;

// Cross-check of the algorithmic count against a simulated run of the same pattern (no processes).
const sim = emptyState();
runIpvsadm(sim, ['-A', '-t', vip, '-s', 'wrr']);
let simulatedProcesses = 0;
for (let i = 0; i < N; i++) {
  runIpvsadm(sim, ['-L', '-n']);
  runIpvsadm(sim, ['-L', '-n', '--thresholds']);
  runIpvsadm(sim, ['-a', '-t', vip, '-r', real(i), '-g', '-w', '0']);
  simulatedProcesses += 3;
}

rmSync(tmp, { recursive: true, force: true });
const originalProcesses = 3 * changed;
console.log(`reals changing state in one cycle: ${changed} (${failed} failed)`);
console.log(`ipvsadm processes, ours:     ${ours.processes} (1 read + 1 ipvsadm -R with read-back; fake log agrees: ${ours.logged})  ${ours.ms.toFixed(0)} ms`);
console.log(
  `ipvsadm processes, original: ${originalProcesses} (computed from its algorithm: per change -L -n, -L -n --thresholds, -e; ` +
    `replayed pattern check: ${simulatedProcesses})  ~${((perChangeMs * changed) / 1000).toFixed(1)} s ` +
    `(measured ${perChangeMs.toFixed(0)} ms per change on a ${SAMPLE}-change sample, scaled; the Perl daemon itself was not run)`,
);
console.log(`ratio: ${(originalProcesses / ours.processes).toFixed(0)}x fewer processes`);

#!/usr/bin/env node
// Benchmark: 1000 real servers change state in one cycle (all quiesced: weight 1 → 0). Counts the
// ipvsadm processes our driver starts for that cycle (one read + one `ipvsadm -R` that writes every
// change and reads the table back), against the fake ipvsadm, and prints beside it the count for the
// original's approach. The original (ldirectord's _quiescent_server / _restore_service) runs, per
// changed real, ld_read_ipvsadm (`ipvsadm -L -n` then `ipvsadm -L -n --thresholds`) and then one
// `ipvsadm -e|-a|-d`: 3 processes per change. That count is computed from its algorithm (read in
// /usr/sbin/ldirectord) and checked by running the Perl original itself (with -d, against the same fake)
// on PERL_REALS reals; the time for 1000 is measured by replaying that exact
// process pattern against the same fake for a sample of changes and scaling up.
// Needs dist/ (npm run build). Usage: node bench/ipvs-batch.mjs [reals=1000] [sample=20]; env PERL_REALS (default 30, 0 = skip)
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const driverJs = join(root, 'dist/ipvs/ipvsadm-driver.js');
if (!existsSync(driverJs) || !existsSync(join(root, 'dist/ipvs-sim/index.js'))) {
  console.log('bench/ipvs-batch: dist/ipvs not built (run: npx tsc -p tsconfig.json)');
  process.exit(1);
}
const { IpvsadmDriver } = await import(pathToFileURL(driverJs).href);
const { emptyState, runIpvsadm } = await import(pathToFileURL(join(root, 'dist/ipvs-sim/index.js')).href);

const N = Number(process.argv[2] ?? 1000);
const SAMPLE = Math.min(N, Number(process.argv[3] ?? 20));
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

// The Perl original itself, on a smaller scale (it needs ~0.3 s of ipvsadm per change): PERL_REALS reals
// up, then all go down in one check cycle; its ipvsadm invocations are counted in the fake's log.
async function runPerl(count) {
  const ld = '/usr/sbin/ldirectord';
  if (!existsSync(ld)) return { skipped: `${ld} not installed` };
  const net = await import('node:net');
  const dir = join(tmp, 'perl');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const pstate = join(dir, 'state.json');
  const plog = join(dir, 'log.jsonl');
  writeFileSync(
    join(dir, 'ipvsadm'),
    `#!/bin/sh\nFAKE_IPVSADM_STATE=${q(pstate)}; export FAKE_IPVSADM_STATE\nFAKE_IPVSADM_LOG=${q(plog)}; export FAKE_IPVSADM_LOG\n` +
      `exec ${q(process.execPath)} ${q(join(root, 'test/fake-ipvsadm/ipvsadm.mjs'))} "$@"\n`,
  );
  chmodSync(join(dir, 'ipvsadm'), 0o755);
  const addr = (i) => `127.0.3.${i + 1}`;
  const servers = [];
  for (let i = 0; i < count; i++) {
    const srv = net.createServer((c) => c.destroy());
    await new Promise((res, rej) => srv.once('error', rej).listen(18080, addr(i), res));
    servers.push(srv);
  }
  const cf = join(dir, 'ldirectord.cf');
  writeFileSync(
    cf,
    `checktimeout=2\ncheckinterval=1\nquiescent=yes\nvirtual=127.0.0.20:18080\n` +
      Array.from({ length: count }, (_, i) => `\treal=${addr(i)}:18080 gate\n`).join('') +
      `\tchecktype=connect\n\tscheduler=wrr\n\tprotocol=tcp\n`,
  );
  const { spawn } = await import('node:child_process');
  const child = spawn(ld, ['-d', cf, 'start'], { cwd: dir, stdio: 'ignore' });
  const weights = () => {
    try {
      const st = JSON.parse(readFileSync(pstate, 'utf8'));
      return st.services.flatMap((s) => s.dests.map((d) => d.weight));
    } catch {
      return [];
    }
  };
  const lines = () => (existsSync(plog) ? readFileSync(plog, 'utf8').split('\n').filter(Boolean).length : 0);
  const waitFor = async (pred, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (pred()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  };
  let result;
  try {
    if (!(await waitFor(() => { const w = weights(); return w.length === count && w.every((x) => x > 0); }, 30_000 + count * 1000)))
      return { skipped: 'the original did not bring the reals up in time' };
    await new Promise((r) => setTimeout(r, 1500));
    const before = lines();
    const t = performance.now();
    for (const srv of servers) srv.close();
    servers.length = 0;
    if (!(await waitFor(() => { const w = weights(); return w.length === count && w.every((x) => x === 0); }, 30_000 + count * 1000)))
      return { skipped: 'the original did not quiesce the reals in time' };
    result = { processes: lines() - before, ms: performance.now() - t };
  } finally {
    for (const srv of servers) srv.close();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
  }
  return result;
}
const PERL_REALS = Number(process.env.PERL_REALS ?? 30);
const perl = PERL_REALS > 0 ? await runPerl(PERL_REALS) : { skipped: 'PERL_REALS=0' };

rmSync(tmp, { recursive: true, force: true });
const originalProcesses = 3 * changed;
console.log(`reals changing state in one cycle: ${changed} (${failed} failed)`);
console.log(`ipvsadm processes, ours:     ${ours.processes} (1 read + 1 ipvsadm -R with read-back; fake log agrees: ${ours.logged})  ${ours.ms.toFixed(0)} ms`);
console.log(
  `ipvsadm processes, original: ${originalProcesses} (computed from its algorithm: per change -L -n, -L -n --thresholds, -e; ` +
    `replayed pattern check: ${simulatedProcesses})  ~${((perChangeMs * changed) / 1000).toFixed(1)} s ` +
    `(time: its process pattern replayed against the fake, ${perChangeMs.toFixed(0)} ms per change on a ${SAMPLE}-change sample, scaled)`,
);
if (perl.skipped) console.log(`the Perl original itself: not run (${perl.skipped})`);
else
  console.log(
    `the Perl original itself (${PERL_REALS} reals going down in one cycle, run with -d against the same fake): ` +
      `${perl.processes} ipvsadm processes = ${(perl.processes / PERL_REALS).toFixed(2)} per change ` +
      `(some may belong to the next cycle's reads), ${(perl.ms / 1000).toFixed(1)} s until all were quiesced`,
  );
console.log(`ratio: ${(originalProcesses / ours.processes).toFixed(0)}x fewer processes`);

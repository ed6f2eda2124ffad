#!/usr/bin/env node
// bench/soak.mjs — soak run of the whole daemon (build first: `npx tsc -p tsconfig.json`):
// 500 reals on 127.50.x.y, each a TCP listener that this script opens and closes at random for
// SOAK_SECONDS (default 600), under the built `ldirectord start` with the fake ipvsadm
// (test/fake-ipvsadm) and checkinterval=1. Reports: the table's convergence time after the last flap,
// the ipvsadm processes spawned (from the fake's invocation log), the daemon's RSS at start and end, and
// the slope of its RSS over the run (least squares over ten samples).
// Env: SOAK_SECONDS, SOAK_REALS (default 500), SOAK_FLAPS_PER_S (default 10). Prints numbers; asserts nothing.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const REALS = Number(process.env.SOAK_REALS ?? 500);
const FLAPS = Number(process.env.SOAK_FLAPS_PER_S ?? 10);

for (const need of ['dist/cli/main.js', 'dist/engine/director.js', 'dist/ipvs-sim/index.js']) {
  if (!existsSync(join(root, need))) {
    console.log(`soak skipped: ${need} is missing (the director may not have landed; build with npx tsc -p tsconfig.json)`);
    process.exit(0);
  }
}
const sim = await import(pathToFileURL(join(root, 'dist/ipvs-sim/index.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'ldsoak-'));
const state = join(dir, 'ipvs.json');
const fakeLog = join(dir, 'ipvsadm.log');
const logfile = join(dir, 'ld.log');
const cfg = join(dir, 'soak.cf');
const pidFile = join(dir, 'ldirectord.soak.cf.pid');
const ipvsadm = join(dir, 'ipvsadm');
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
writeFileSync(
  ipvsadm,
  `#!/bin/sh\nFAKE_IPVSADM_STATE=${q(state)}; export FAKE_IPVSADM_STATE\nFAKE_IPVSADM_LOG=${q(fakeLog)}; export FAKE_IPVSADM_LOG\n` +
    `exec ${q(process.execPath)} ${q(join(root, 'test/fake-ipvsadm/ipvsadm.mjs'))} "$@"\n`,
);
chmodSync(ipvsadm, 0o755);
const env = { ...process.env, LDIRECTORD_RUNDIR: dir, LDIRECTORD_IPVSADM: ipvsadm };
const ld = (...args) => spawnSync(process.execPath, [join(root, 'bin/ldirectord.js'), cfg, ...args], { env, cwd: dir, encoding: 'utf8', timeout: 60_000 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Seeded PRNG (mulberry32): a run is reproducible from SOAK_SEED.
let seed = Number(process.env.SOAK_SEED ?? 20261125);
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const ip = (i) => `127.50.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const port = await new Promise((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const servers = new Array(REALS).fill(undefined);
const sockets = new Set();
function open(i) {
  if (servers[i]) return Promise.resolve();
  return new Promise((res) => {
    const s = net.createServer((c) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
      c.on('error', () => {});
      c.end();
    });
    servers[i] = s;
    s.on('error', () => {
      servers[i] = undefined;
      res();
    });
    s.listen(port, ip(i), () => res());
  });
}
function close(i) {
  const s = servers[i];
  servers[i] = undefined;
  if (s) s.close();
}

function upSet() {
  let st;
  try {
    st = JSON.parse(readFileSync(state, 'utf8'));
  } catch {
    return undefined; // mid-write or absent
  }
  const t = sim.toIpvsTable(st);
  return new Set(t.services.flatMap((s) => s.dests.filter((d) => d.weight > 0).map((d) => d.rs)));
}
const wantSet = () => new Set(servers.flatMap((s, i) => (s ? [`${ip(i)}:${port}`] : [])));
const same = (a, b) => a !== undefined && a.size === b.size && [...a].every((x) => b.has(x));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const invocations = () => (existsSync(fakeLog) ? readFileSync(fakeLog, 'utf8').split('\n').filter(Boolean).length : 0);

async function waitConverged(maxMs) {
  const t0 = Date.now();
  const want = wantSet();
  while (Date.now() - t0 < maxMs) {
    if (same(upSet(), want)) return Date.now() - t0;
    await sleep(50);
  }
  return undefined;
}

writeFileSync(
  cfg,
  `logfile="${logfile}"\ncheckinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=no\n` +
    `virtual=127.0.0.1:${port}\n` +
    Array.from({ length: REALS }, (_, i) => `\treal=${ip(i)}:${port} gate\n`).join('') +
    `\tchecktype=connect\n`,
);

let pid = 0;
try {
  for (let i = 0; i < REALS; i++) if (rnd() < 0.5) await open(i);
  const st = ld('start');
  if (st.status !== 0) throw new Error(`start failed (${st.status}): ${st.stdout}${st.stderr}\n${existsSync(logfile) ? readFileSync(logfile, 'utf8').slice(-2000) : ''}`);
  pid = Number(readFileSync(pidFile, 'utf8').trim());
  const first = await waitConverged(120_000);
  console.log(`reals: ${REALS}, flapping ${FLAPS}/s for ${SECONDS} s, checkinterval 1`);
  console.log(`initial convergence: ${first === undefined ? 'NOT within 120 s' : `${first} ms`}`);
  const rssStart = rssKb(pid);
  const procsStart = invocations();
  const t0 = Date.now();
  let flaps = 0;
  // RSS sampled once per tenth of the run: whether it levels off or keeps growing
  const rssSeries = [];
  while (Date.now() - t0 < SECONDS * 1000) {
    if (Date.now() - t0 >= (rssSeries.length * SECONDS * 1000) / 10) rssSeries.push(rssKb(pid));
    const i = Math.floor(rnd() * REALS);
    if (servers[i]) close(i);
    else await open(i);
    flaps++;
    await sleep(1000 / FLAPS);
  }
  for (const c of sockets) c.destroy();
  const conv = await waitConverged(120_000);
  const procs = invocations() - procsStart;
  const rssEnd = rssKb(pid);
  console.log(`flaps: ${flaps}`);
  console.log(`convergence after the last flap: ${conv === undefined ? 'NOT within 120 s' : `${conv} ms`}`);
  console.log(`ipvsadm processes spawned during the flapping: ${procs} (${(procs / SECONDS).toFixed(2)}/s; ${invocations()} in all)`);
  console.log(`daemon RSS: start ${(rssStart / 1024).toFixed(1)} MiB, end ${(rssEnd / 1024).toFixed(1)} MiB; every ${SECONDS / 10} s: ${rssSeries.map((k) => (k / 1024).toFixed(0)).join(' ')} MiB`);
  // Least-squares slope of the samples (issue #20: RSS flat over a 10-minute soak).
  const slopeOf = (from) => {
    const xs = rssSeries.map((_, i) => (i * SECONDS) / 10 / 60).slice(from);
    const ys = rssSeries.map((k) => k / 1024).slice(from);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return sxx > 0 ? xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx : 0;
  };
  const fmt = (m) => `${m >= 0 ? '+' : ''}${m.toFixed(2)} MiB/min (${(m * 60).toFixed(1)} MiB/h)`;
  console.log(`daemon RSS slope over the run: ${fmt(slopeOf(0))}; issue #20's goal: flat`);
  // The first sample is taken right after the initial convergence, before the daemon's first minutes of
  // flapping grew its heap to its running size: the slope without it tells a warm-up from a leak.
  console.log(`daemon RSS slope without the first sample (after the warm-up): ${fmt(slopeOf(1))}`);
  console.log(`daemon alive at the end: ${(() => { try { process.kill(pid, 0); return 'yes'; } catch { return 'NO'; } })()}`);
} catch (e) {
  console.log(`soak failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  if (pid) {
    ld('stop');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  }
  for (let i = 0; i < REALS; i++) close(i);
  for (const c of sockets) c.destroy();
  rmSync(dir, { recursive: true, force: true });
}

#!/usr/bin/env node
// bench/dev/profile-daemon.mjs — a development harness, not part of `npm run bench` (run.mjs runs only the
// scripts of bench/ itself). Build first (`npx tsc -p tsconfig.json`); run under the heavy-run lock.
// Starts our daemon in the foreground (supervised=yes) with PROFILE_REALS (default 200) live reals on
// 127.61.x.y, connect checks, checkinterval=1, the fake ipvsadm through LDIRECTORD_IPVSADM (table pre-filled),
// under `node PROFILE_NODE_FLAGS --cpu-prof`; after a warm-up (every real checked three times, and
// PROFILE_SETTLE_S seconds since the start) it counts CPU (utime+stime from /proc, children included) and
// checks over PROFILE_WINDOW_S (default 20) seconds,
// stops the daemon (SIGTERM: the profile is written at exit) and prints the profile's self time by function
// and by file for the samples of the window only. PROFILE_GC=1 adds --trace-gc and counts the collections
// of the window. PROFILE_KEEP=1 keeps the folder (the .cpuprofile opens in Chrome's DevTools).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const REALS = Number(process.env.PROFILE_REALS ?? 200);
const WINDOW_S = Number(process.env.PROFILE_WINDOW_S ?? 20);
const FLAGS = (process.env.PROFILE_NODE_FLAGS ?? '--optimize-for-size').split(' ').filter(Boolean);
const PROFILE = process.env.PROFILE_CPU !== '0';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listeners(count) {
  const code = `
    const net = require('node:net');
    const count = Number(process.argv[1]);
    const out = []; let left = count; let accepted = 0;
    process.stdin.on('data', () => process.stdout.write('count ' + accepted + '\\n'));
    for (let i = 0; i < count; i++) {
      const ip = '127.61.' + Math.floor(i / 250) + '.' + ((i % 250) + 1);
      const s = net.createServer((c) => { accepted++; c.on('error', () => {}); c.end(); });
      s.listen({ host: ip, port: 0, backlog: 511 }, () => {
        out[i] = { ip, port: s.address().port };
        if (--left === 0) process.stdout.write(JSON.stringify(out) + '\\n');
      });
    }`;
  const child = spawn(process.execPath, ['-e', code, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    let buf = '';
    let waiting;
    child.stdout.on('data', (d) => {
      buf += d;
      if (!buf.endsWith('\n')) return;
      const text = buf;
      buf = '';
      if (text.startsWith('count ')) return waiting?.(Number(text.slice(6)));
      resolve({ reals: JSON.parse(text), stop: () => child.kill('SIGKILL'), accepted: () => new Promise((res) => { waiting = res; child.stdin.write('?\n'); }) });
    });
  });
}
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
};
const rssOf = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

const dir = mkdtempSync(join(tmpdir(), 'ldprof-cpu-'));
const ok = await listeners(REALS);
writeFileSync(join(dir, 'ipvsadm'), `#!/bin/sh\nFAKE_IPVSADM_STATE='${join(dir, 'state.json')}'; export FAKE_IPVSADM_STATE\nexec '${process.execPath}' '${join(root, 'test/fake-ipvsadm/ipvsadm.mjs')}' "$@"\n`);
chmodSync(join(dir, 'ipvsadm'), 0o755);
spawnSync(join(dir, 'ipvsadm'), ['-R'], { input: ['-A -t 127.0.0.1:80 -s rr', ...ok.reals.map((r) => `-a -t 127.0.0.1:80 -r ${r.ip}:${r.port} -m -w 1`)].join('\n') + '\n' });
const cfg = join(dir, 'prof.cf');
writeFileSync(cfg, ['checktimeout=2', 'checkinterval=1', 'supervised=yes', 'quiescent=no', `logfile="${join(dir, 'ld.log')}"`, 'virtual=127.0.0.1:80',
  ...ok.reals.map((r) => `\treal=${r.ip}:${r.port} masq`), '\tchecktype=connect', '\tscheduler=rr', ''].join('\n'));
const gc = process.env.PROFILE_GC === '1';
const args = [...FLAGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'] : []), ...(gc ? ['--trace-gc'] : []), join(root, 'bin/ldirectord.js'), cfg, 'start'];
const t0 = Date.now();
const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', gc ? 'pipe' : 'ignore', 'inherit'], env: { ...process.env, LDIRECTORD_IPVSADM: join(dir, 'ipvsadm'), LDIRECTORD_RUNDIR: dir } });
let gcLines = [];
let counting = false;
child.stdout?.on('data', (d) => { if (counting) gcLines.push(...String(d).split('\n').filter((l) => /Scavenge|Mark-Compact|Mark-sweep/.test(l))); });
const base = await ok.accepted();
while ((await ok.accepted()) - base < 3 * REALS && Date.now() - t0 < 120_000) await sleep(200);
// PROFILE_SETTLE_S: the window opens no earlier than this after the start (V8 compiles the hot functions
// over the first ~50 s; see bench/headroom.mjs)
await sleep(Math.max(0, t0 + Number(process.env.PROFILE_SETTLE_S ?? 0) * 1000 - Date.now()));
const c0 = await ok.accepted();
const cpu0 = cpuOf(child.pid);
const w0 = Date.now() - t0;
counting = true;
const rss = [];
for (let i = 0; i < WINDOW_S; i++) { await sleep(1000); rss.push(rssOf(child.pid)); }
counting = false;
const c1 = await ok.accepted();
const cpu1 = cpuOf(child.pid);
const w1 = Date.now() - t0;
console.log(`flags: ${FLAGS.join(' ') || '(none)'}; ${REALS} reals; ${c1 - c0} checks in ${WINDOW_S} s, ${cpu1 - cpu0} ms CPU: ${(((cpu1 - cpu0) * 1000) / (c1 - c0)).toFixed(0)} ms per 1000 checks (profiler on: ${PROFILE}); RSS mean ${(rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(1)} MB, max ${Math.max(...rss).toFixed(1)}`);
if (gc) {
  const sc = gcLines.filter((l) => l.includes('Scavenge')).length;
  console.log(`GCs in the window: ${sc} scavenges, ${gcLines.length - sc} mark-compacts (${((sc * 1000) / (c1 - c0)).toFixed(1)} scavenges per 1000 checks)`);
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
ok.stop();

if (PROFILE) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // The profile starts with the process (about t0); keep the samples of [w0, w1].
  let t = 0;
  const self = new Map();
  const byFile = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] / 1000;
    if (t < w0 || t > w1) continue;
    const n = byId.get(p.samples[i]);
    const cf = n.callFrame;
    const dt = p.timeDeltas[i + 1] !== undefined ? p.timeDeltas[i + 1] / 1000 : 0;
    if (cf.functionName === '(idle)') continue;
    total += dt;
    const f = cf.url ? cf.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:') : '';
    const key = `${cf.functionName || '(anonymous)'} ${f}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const fk = f || cf.functionName;
    byFile.set(fk, (byFile.get(fk) ?? 0) + dt);
  }
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(`profile: ${total.toFixed(0)} ms sampled (not idle) in the window; self time by function:`);
  for (const [k, v] of top(self, 40)) console.log(`  ${v.toFixed(1).padStart(7)} ms ${((v * 100) / total).toFixed(1).padStart(5)}%  ${k}`);
  console.log('by file:');
  for (const [k, v] of top(byFile, 25)) console.log(`  ${v.toFixed(1).padStart(7)} ms ${((v * 100) / total).toFixed(1).padStart(5)}%  ${k}`);
}
if (process.env.PROFILE_KEEP === '1') console.log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(0);

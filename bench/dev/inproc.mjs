#!/usr/bin/env node
// bench/dev/inproc.mjs — a development harness, not part of `npm run bench`. Build first. CPU of connect
// checks in this process (process.cpuUsage), INPROC_REALS (default 200) live reals on 127.62.x.y in a child
// process, INPROC_CYCLES passes (default 40) after 5 warm-up passes, for each mode of INPROC_MODES:
//   bare      net.connect + destroy on connect, all at once (what bare Node pays in bench/headroom.mjs);
//   check     tcpConnectCheck of each real, all at once (Promise.all);
//   cycle     runCycle over the jobs with runCheck (the scheduler + dispatch);
//   director  the director (engine, scheduler, checks) over a simulated table, checkinterval=1 as the daemon;
//             its CPU per pass also holds the engine's per-result work.
// Run it with the daemon's node flags: `node --optimize-for-size bench/dev/inproc.mjs` (DAEMON_NODE_FLAGS, src/daemon/detach.ts).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(join(root, 'dist', p));
const { runCycle, runCheck, tcpConnectCheck, buildCheckJobs } = await dist('checks/index.js').then(async (m) => ({ ...m, ...(await dist('checks/scheduler.js')), ...(await dist('checks/connect.js')) }));
const REALS = Number(process.env.INPROC_REALS ?? 200);
const CYCLES = Number(process.env.INPROC_CYCLES ?? 40);
const MODES = (process.env.INPROC_MODES ?? 'bare,check,cycle,director').split(',');

const code = `
  const net = require('node:net');
  const count = Number(process.argv[1]); const out = []; let left = count;
  for (let i = 0; i < count; i++) {
    const ip = '127.62.' + Math.floor(i / 250) + '.' + ((i % 250) + 1);
    const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
    s.listen({ host: ip, port: 0, backlog: 511 }, () => { out[i] = { ip, port: s.address().port }; if (--left === 0) process.stdout.write(JSON.stringify(out) + '\\n'); });
  }`;
const child = spawn(process.execPath, ['-e', code, String(REALS)], { stdio: ['ignore', 'pipe', 'inherit'] });
const reals = await new Promise((res) => { let b = ''; child.stdout.on('data', (d) => { b += d; if (b.endsWith('\n')) res(JSON.parse(b)); }); });

function barePass() {
  return new Promise((resolve) => {
    let left = reals.length;
    for (const r of reals) {
      const s = net.connect({ host: r.ip, port: r.port });
      const done = () => { s.destroy(); if (--left === 0) resolve(); };
      s.once('connect', done);
      s.once('error', done);
    }
  });
}
const ac = new AbortController();
const checkPass = () => Promise.all(reals.map((r) => tcpConnectCheck(r.ip, r.port, 2000, ac.signal)));

const { parseConfigText } = await dist('config/parse.js');
const { hostsFileResolver } = await dist('config/resolver.js');
const cfgText = ['checktimeout=2', 'checkinterval=1', 'quiescent=no', 'virtual=127.0.0.1:80', ...reals.map((r) => `\treal=${r.ip}:${r.port} masq`), '\tchecktype=connect', '\tscheduler=rr', ''].join('\n');
const config = await parseConfigText(cfgText, 'inproc.cf', { resolver: hostsFileResolver('127.0.0.1 localhost\n', ''), hostname: 'lb1', checkFiles: false });
const jobs = buildCheckJobs(config.virtuals);
let ups = 0;
const cyclePass = () => runCycle(jobs, { runCheck, onResult: (_j, r) => { if (r.ok) ups++; } });

async function directorRun(cycles) {
  const { createDirector } = await dist('engine/director.js');
  const { SimDriver } = await dist('ipvs-sim/sim-driver.js');
  const { systemHost } = await dist('daemon/host.js');
  const d = createDirector({ host: systemHost, driver: new SimDriver(), hostname: 'lb1' });
  await d.start(config);
  const at = async (n) => { while (d.cycleCount() < n) await new Promise((r) => setTimeout(r, 100)); };
  await at(5);
  const c0 = d.cycleCount();
  const cpu0 = process.cpuUsage();
  await at(c0 + cycles);
  const cpu = process.cpuUsage(cpu0);
  await d.stop();
  return cpu;
}

const sleep1 = (f) => async () => { await f(); await new Promise((r) => setTimeout(r, 1000)); };
// bare1, check1, cycle1: a second's sleep after each pass, as the daemon (and bench/headroom.mjs's bare Node) does
const modes = { bare: barePass, check: checkPass, cycle: cyclePass, bare1: sleep1(barePass), check1: sleep1(checkPass), cycle1: sleep1(cyclePass) };
for (const m of MODES) {
  let cpu;
  if (m === 'director') cpu = await directorRun(CYCLES);
  else {
    for (let i = 0; i < 5; i++) await modes[m]();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < CYCLES; i++) await modes[m]();
    cpu = process.cpuUsage(cpu0);
  }
  const ms = (cpu.user + cpu.system) / 1000;
  console.log(`${m.padEnd(9)} ${((ms * 1000) / (CYCLES * REALS)).toFixed(1).padStart(6)} ms CPU per 1000 checks (user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms over ${CYCLES} x ${REALS})`);
}
child.kill('SIGKILL');
process.exit(0);

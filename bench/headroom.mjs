#!/usr/bin/env node
// bench/headroom.mjs — issue #20's goals, side by side in one run (build first: `npx tsc -p tsconfig.json`).
// Steady state: HEADROOM_REALS (default 200) connect-checked reals, every one live (listeners on 127.60.x.y in
// a child process that counts the connections it accepts), checkinterval=1, checktimeout=2, quiescent=no,
// supervised=yes with a logfile, masq reals (gate ones on another port than the virtual's would make the
// original re-add each one every pass, the kernel listing them under the virtual's port), the project's fake ipvsadm as /sbin/ipvsadm (bound over it in a mount
// namespace of the daemon's own, so that both daemons run it as they run the real one). Three programs run the same checks
// one after the other:
//   ours      bin/ldirectord.js through its #! line (BENCH_DAEMON_NODE_FLAGS: this node with those flags;
//             HEADROOM_OURS=0 skips it; HEADROOM_OURS_CF adds global lines to its config);
//   original  /usr/sbin/ldirectord (BENCH_ORIGINAL=0 skips it);
//   bare Node a node process that connects to every real and closes, all at once, then sleeps 1 s: the
//             least Node itself spends on the same checks (HEADROOM_BARE=0 skips it).
// For each: CPU time (utime+stime of the process, its own split into user and system time, and of the
// children it waited for, from /proc) per 1000 checks counted by the listeners over HEADROOM_WINDOW_S
// (default 20) seconds after a warm-up (see SETTLE_S), its minor page faults per check, and its RSS (mean and
// highest of one sample a second over the window). Prints the ratios the goals name. Asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist/cli/main.js'))) {
  console.log('dist/cli/main.js missing: run `npx tsc -p tsconfig.json` first');
  process.exit(1);
}
const REALS = Number(process.env.HEADROOM_REALS ?? 200);
const WINDOW_S = Number(process.env.HEADROOM_WINDOW_S ?? 20);
// the longest wait for the warm-up (three checks of every real): the original's start runs a process per real
const WARMUP_S = Number(process.env.HEADROOM_WARMUP_S ?? 300);
// The window opens no earlier than this after the start: V8 compiles the hot functions of a node process over
// its first ~50 s (--trace-opt on ours at 200 reals: 111 ms of TurboFan time in the first 10 s, 80, 21, 39, 47,
// then 0-17 ms per 10 s), which is start-up cost, not the steady state a daemon runs in for months.
const SETTLE_S = Number(process.env.HEADROOM_SETTLE_S ?? 60);
// HEADROOM_WINDOWS consecutive windows per program, each printed; the ratios use the last one.
const WINDOWS = Math.max(1, Number(process.env.HEADROOM_WINDOWS ?? 1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A child process with `count` accepting listeners on 127.60.x.y; accepted() counts connections so far. */
function listeners(count) {
  const code = `
    const net = require('node:net');
    const count = Number(process.argv[1]);
    const out = []; let left = count; let accepted = 0;
    process.stdin.on('data', () => process.stdout.write('count ' + accepted + '\\n'));
    for (let i = 0; i < count; i++) {
      const ip = '127.60.' + Math.floor(i / 250) + '.' + ((i % 250) + 1);
      const s = net.createServer((c) => { accepted++; c.on('error', () => {}); c.end(); });
      s.listen({ host: ip, port: 0, backlog: 511 }, () => {
        out[i] = { ip, port: s.address().port };
        if (--left === 0) process.stdout.write(JSON.stringify(out) + '\\n');
      });
    }`;
  const child = spawn(process.execPath, ['-e', code, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    let waiting;
    child.on('exit', (c) => reject(new Error(`listener child exited ${c}`)));
    child.stdout.on('data', (d) => {
      buf += d;
      if (!buf.endsWith('\n')) return;
      const text = buf;
      buf = '';
      if (text.startsWith('count ')) return waiting?.(Number(text.slice(6)));
      child.removeAllListeners('exit');
      resolve({
        reals: JSON.parse(text),
        stop: () => child.kill('SIGKILL'),
        accepted: () => new Promise((res) => { waiting = res; child.stdin.write('?\n'); }),
      });
    });
  });
}

/** CPU ms (USER_HZ = 100) of the process itself and of the children it waited for (for the daemons: ipvsadm). */
function procStat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { own: ((Number(f[11]) + Number(f[12])) * 1000) / 100, user: (Number(f[11]) * 1000) / 100, minflt: Number(f[7]), children: ((Number(f[13]) + Number(f[14])) * 1000) / 100 };
}
function rssOf(pid) {
  const t = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(t)?.[1] ?? NaN) / 1024;
}

/** Starts `argv` in a fresh folder holding the config and the fake ipvsadm; measures it; kills its group. */
async function measure(label, makeArgv, ok, extraCf = []) {
  const dir = mkdtempSync(join(tmpdir(), 'ldbench-h-'));
  const q = (x) => `'${x.replace(/'/g, `'\\''`)}'`;
  writeFileSync(join(dir, 'ipvsadm'), `#!/bin/sh\nFAKE_IPVSADM_STATE=${q(join(dir, 'state.json'))}; export FAKE_IPVSADM_STATE\nexec ${q(process.execPath)} ${q(join(root, 'test/fake-ipvsadm/ipvsadm.mjs'))} "$@"\n`);
  chmodSync(join(dir, 'ipvsadm'), 0o755);
  // The table starts as the steady state has it (the virtual and every real at weight 1), one `ipvsadm -R`:
  // the original's start then reads the table once per real (a process each) instead of adding and deleting
  // every real and adding it again at its first check (~8 fake-ipvsadm processes per real, minutes for 200).
  const table = ['-A -t 127.0.0.1:80 -s rr', ...ok.reals.map((r) => `-a -t 127.0.0.1:80 -r ${r.ip}:${r.port} -m -w 1`)].join('\n') + '\n';
  const pre = spawnSync(join(dir, 'ipvsadm'), ['-R'], { input: table, encoding: 'utf8' });
  if (pre.status !== 0) console.log(`   (the table could not be pre-filled: ${pre.stderr.trim()})`);
  const cfg = join(dir, `bench-h-${process.pid}.cf`);
  writeFileSync(cfg, [...extraCf, 'checktimeout=2', 'checkinterval=1', 'supervised=yes', 'quiescent=no', `logfile="${join(dir, 'ld.log')}"`, 'virtual=127.0.0.1:80',
    ...ok.reals.map((r) => `\treal=${r.ip}:${r.port} masq`), '\tchecktype=connect', '\tscheduler=rr', ''].join('\n'));
  let [file, ...args] = makeArgv(cfg);
  // Both daemons run /sbin/ipvsadm when not in -d mode: in a mount namespace of their own, the fake is
  // bound over it (root only; else ours runs the fake through LDIRECTORD_IPVSADM and the original the
  // system's ipvsadm, whose failures make the comparison unfair: said below).
  if (bindFake) [file, ...args] = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /sbin/ipvsadm && exec "$@"', join(dir, 'ipvsadm'), file, ...args];
  const child = spawn(file, args, {
    cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'ignore'],
    env: { PATH: `${dir}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C', LDIRECTORD_RUNDIR: dir, ...(process.env.LDIRECTORD_TCP_CONNECT ? { LDIRECTORD_TCP_CONNECT: process.env.LDIRECTORD_TCP_CONNECT } : {}), ...(bindFake ? {} : { LDIRECTORD_IPVSADM: join(dir, 'ipvsadm') }) },
  });
  const started = Date.now();
  try {
    const base0 = await ok.accepted();
    const until = Date.now() + WARMUP_S * 1000;
    // warm-up: every real checked at least three times
    while ((await ok.accepted()) - base0 < 3 * ok.reals.length && Date.now() < until) await sleep(200);
    const warm = (await ok.accepted()) - base0;
    if (warm < 3 * ok.reals.length) console.log(`   ${label}: warm-up not complete after ${WARMUP_S} s (${warm} checks)`);
    else await sleep(Math.max(0, started + SETTLE_S * 1000 - Date.now()));
    let last;
    for (let w = 1; w <= WINDOWS; w++) {
      const name = WINDOWS > 1 ? `${label} #${w}` : label;
      const c0 = await ok.accepted();
      const cpu0 = procStat(child.pid);
      // RSS sampled every second over the window: its mean is the steady RSS (V8 heaps saw-tooth between collections)
      const samples = [];
      for (let i = 0; i < WINDOW_S; i++) {
        await sleep(1000);
        samples.push(rssOf(child.pid));
      }
      const c1 = await ok.accepted();
      const cpu1 = procStat(child.pid);
      const rss = samples.reduce((a, b) => a + b, 0) / samples.length;
      const rssMax = Math.max(...samples);
      const checks = c1 - c0;
      if (checks <= 0) {
        console.log(`   ${name}: no checks in the measuring window`);
        return undefined;
      }
      const own = cpu1.own - cpu0.own;
      const children = cpu1.children - cpu0.children;
      const per1000 = ((own + children) * 1000) / checks;
      const ownPer1000 = (own * 1000) / checks;
      const userPer1000 = ((cpu1.user - cpu0.user) * 1000) / checks;
      const faults = (cpu1.minflt - cpu0.minflt) / checks;
      // The children are the fake ipvsadm (a node program, ~100-220 ms a run, mostly node's start-up; a real
      // ipvsadm costs a few ms): shown apart, so that the process's own cost can be compared too.
      console.log(`   ${name.padEnd(10)} ${per1000.toFixed(0).padStart(5)} ms CPU per 1000 checks (own ${ownPer1000.toFixed(0)}: user ${userPer1000.toFixed(0)} + system ${(ownPer1000 - userPer1000).toFixed(0)}, children ${((children * 1000) / checks).toFixed(0)}; ${checks} checks in ${WINDOW_S} s, ${(own + children).toFixed(0)} ms CPU, ${faults.toFixed(2)} page faults per check), RSS ${rss.toFixed(1)} MB (mean of ${samples.length} samples, max ${rssMax.toFixed(1)})`);
      last = { per1000, ownPer1000, rss };
    }
    return last;
  } catch (err) {
    console.log(`   ${label} could not be measured: ${err.message}`);
    return undefined;
  } finally {
    const gone = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([gone, sleep(2000)]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
    rmSync(`/var/run/ldirectord.${cfg.split('/').pop()}.pid`, { force: true });
  }
}

/** bare Node: connect to every real at once and close, then sleep a second; again. */
const BARE = `
  const net = require('node:net');
  const reals = JSON.parse(process.argv[1]);
  function pass() {
    let left = reals.length;
    for (const r of reals) {
      const s = net.connect({ host: r.ip, port: r.port });
      const done = () => { s.destroy(); if (--left === 0) setTimeout(pass, 1000); };
      s.once('connect', done);
      s.once('error', done);
    }
  }
  pass();`;

const bindFake =
  process.getuid?.() === 0 && existsSync('/sbin/ipvsadm') && spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /bin/true /sbin/ipvsadm && /sbin/ipvsadm'], { stdio: 'ignore' }).status === 0;
if (!bindFake) console.log('(no private mount namespace over /sbin/ipvsadm: ours uses the fake through LDIRECTORD_IPVSADM, the original the system ipvsadm)');
const ok = await listeners(REALS);
console.log(`${REALS} reals, all live, connect checks, checkinterval=1, checktimeout=2; ${WINDOW_S} s window after warm-up (three checks of every real, and ${SETTLE_S} s since the start):`);
const daemonFlags = (process.env.BENCH_DAEMON_NODE_FLAGS ?? '').split(' ').filter(Boolean);
// HEADROOM_OURS_CF: global lines for our config only, `;`-separated (e.g. `readbackinterval=30`: what the
// optional periodic read of the table costs; the original would reject them).
const oursCf = (process.env.HEADROOM_OURS_CF ?? '').split(';').map((l) => l.trim()).filter(Boolean);
if (oursCf.length) console.log(`   ours with: ${oursCf.join('; ')}`);
// HEADROOM_ROUNDS: the three programs in turn, that many times. The machine's speed drifts over minutes (the
// original alone measured 196-274 ms per 1000 checks in five consecutive windows of one run), so alternating
// rounds and taking each program's median compares them under the same drift.
const ROUNDS = Math.max(1, Number(process.env.HEADROOM_ROUNDS ?? 1));
const runs = { ours: [], orig: [], bare: [] };
const origThere = existsSync('/usr/sbin/ldirectord');
if (process.env.BENCH_ORIGINAL === '0') console.log('   original not run (BENCH_ORIGINAL=0)');
else if (!origThere) console.log('   original not installed: not measured');
for (let r = 1; r <= ROUNDS; r++) {
  const tag = ROUNDS > 1 ? ` r${r}` : '';
  if (process.env.HEADROOM_OURS !== '0')
    runs.ours.push(await measure(`ours${tag}`, (cfg) => (daemonFlags.length ? [process.execPath, ...daemonFlags, join(root, 'bin/ldirectord.js'), cfg, 'start'] : [join(root, 'bin/ldirectord.js'), cfg, 'start']), ok, oursCf));
  if (process.env.BENCH_ORIGINAL !== '0' && origThere) runs.orig.push(await measure(`original${tag}`, (cfg) => ['/usr/sbin/ldirectord', cfg, 'start'], ok));
  if (process.env.HEADROOM_BARE !== '0') runs.bare.push(await measure(`bare Node${tag}`, () => [process.execPath, '-e', BARE, JSON.stringify(ok.reals)], ok));
}
ok.stop();

/** The run with the median CPU per 1000 checks (the lower middle one of an even count); its own CPU goes with it. */
function median(list) {
  const done = list.filter(Boolean).sort((a, b) => a.per1000 - b.per1000);
  return done.length ? done[Math.floor((done.length - 1) / 2)] : undefined;
}
const ours = median(runs.ours);
const orig = median(runs.orig);
const bare = median(runs.bare);
if (ROUNDS > 1) console.log(`   medians of ${ROUNDS} rounds: ours ${ours?.per1000.toFixed(0) ?? '-'} (own ${ours?.ownPer1000.toFixed(0) ?? '-'}), original ${orig?.per1000.toFixed(0) ?? '-'}, bare Node ${bare?.per1000.toFixed(0) ?? '-'} ms per 1000 checks`);
const verdict = (x) => (x ? 'met' : 'NOT met');
if (ours && orig) console.log(`   CPU ours / original: ${(ours.per1000 / orig.per1000).toFixed(2)} (goal <= 0.6: ${verdict(ours.per1000 <= 0.6 * orig.per1000)})`);
if (ours && orig) console.log(`   CPU ours / original, own CPU only (no ipvsadm children): ${(ours.ownPer1000 / orig.ownPer1000).toFixed(2)}`);
if (ours && bare) console.log(`   CPU ours / bare Node: ${(ours.per1000 / bare.per1000).toFixed(2)} (goal <= 1.3: ${verdict(ours.per1000 <= 1.3 * bare.per1000)}); own CPU only: ${(ours.ownPer1000 / bare.per1000).toFixed(2)}`);
if (ours && REALS === 200) console.log(`   steady RSS ours: ${ours.rss.toFixed(1)} MB (goal <= 60 MB at 200 reals: ${verdict(ours.rss <= 60)})${orig ? `; original ${orig.rss.toFixed(1)} MB` : ''}${bare ? `; bare Node ${bare.rss.toFixed(1)} MB` : ''}`);
process.exit(0);

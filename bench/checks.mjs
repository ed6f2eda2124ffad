#!/usr/bin/env node
// bench/checks.mjs — the checker (dist/checks, build first with `npx tsc`):
//  1. one cycle of 1000 connect checks (checktimeout=2) on 127.x.x.x: 900 listening reals and 100 whose
//     SYNs are silently dropped. SYN dropping is done without a firewall: listeners with a backlog of 0
//     that never accept and whose accept queue is full (the kernel then drops new SYNs). The original's
//     figure beside it is computed (it checks reals one after another), not measured.
//  2. CPU time of a cycle of 1000 healthy connect checks, and the same 1000 connects done the way the
//     original's check_connect does them (Perl: eval + alarm + socket/connect/close, sequential).
//  3. RSS of the checking process with 10 000 reals (model objects + one full cycle of 10 000 connects).
// Prints numbers; asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist/checks/index.js');
if (!existsSync(dist)) {
  console.log('dist/checks/index.js missing: run `npx tsc -p tsconfig.json` first');
  process.exit(1);
}
const { runCycle, runCheck, realIdString } = await import(dist);

/** Address of real i: 127.<base>.<i/250>.<i%250+1> (all on loopback). */
const addr = (base, i) => `127.${base}.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/** Starts a child process with `count` accepting listeners; resolves [{ip, port}], and a stop(). */
function listeners(base, count) {
  const code = `
    const net = require('node:net');
    const [base, count] = process.argv.slice(1).map(Number);
    const out = []; let left = count; let accepted = 0;
    process.stdin.on('data', () => process.stdout.write('count ' + accepted + '\\n'));
    for (let i = 0; i < count; i++) {
      const ip = '127.' + base + '.' + Math.floor(i / 250) + '.' + ((i % 250) + 1);
      const s = net.createServer((c) => { accepted++; c.on('error', () => {}); c.end(); });
      s.listen({ host: ip, port: 0, backlog: 511 }, () => {
        out[i] = { ip, port: s.address().port };
        if (--left === 0) process.stdout.write(JSON.stringify(out) + '\\n');
      });
    }`;
  const child = spawn(process.execPath, ['-e', code, String(base), String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    let waiting;
    child.on('exit', (c) => reject(new Error(`listener child exited ${c}`)));
    const onData = (d) => {
      buf += d;
      if (!buf.endsWith('\n')) return;
      const text = buf;
      buf = '';
      if (text.startsWith('count ')) {
        waiting?.(Number(text.slice(6)));
        return;
      }
      child.removeAllListeners('exit');
      resolve({
        reals: JSON.parse(text),
        stop: () => child.kill('SIGKILL'),
        /** Connections accepted so far by all listeners. */
        accepted: () => new Promise((res) => { waiting = res; child.stdin.write('?\n'); }),
      });
    };
    child.stdout.on('data', onData);
  });
}

/** Starts `count` SYN-dropping listeners (perl: backlog 0, never accept) and fills their queues. */
async function synDroppers(base, count) {
  const script = `
    use Socket; $| = 1; my @s; my ($base, $count) = @ARGV;
    for my $i (0..$count-1) {
      my $ip = "127.$base." . int($i / 250) . "." . (($i % 250) + 1);
      socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
      bind($s, sockaddr_in(0, inet_aton($ip))) or die "bind $ip: $!";
      listen($s, 0) or die "listen: $!";
      my ($port) = sockaddr_in(getsockname($s)); print "$ip $port\\n"; push @s, $s;
    }
    print "ready\\n"; sleep 3600;`;
  const child = spawn('perl', ['-e', script, String(base), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const reals = await new Promise((resolve, reject) => {
    let buf = '';
    const got = [];
    child.on('exit', (c) => reject(new Error(`perl exited ${c}`)));
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'ready') {
          child.removeAllListeners('exit');
          resolve(got);
        } else {
          const [ip, port] = line.split(' ');
          got.push({ ip, port: Number(port) });
        }
      }
    });
  });
  const net = await import('node:net');
  const fillers = await Promise.all(
    reals.map(
      (r) =>
        new Promise((resolve) => {
          const s = net.connect({ host: r.ip, port: r.port }, () => resolve(s));
          s.on('error', () => resolve(s));
        }),
    ),
  );
  return { reals, stop: () => { for (const s of fillers) s.destroy(); child.kill('SIGKILL'); } };
}

function virtual(reals, checktimeout) {
  const v = {
    keyword: 'virtual', family: 4, protocol: 'tcp', ip: '127.0.0.1', port: 80, vaddr: '127.0.0.1:80', vid: 'tcp:127.0.0.1:80',
    reals: [], checktype: 'connect', service: 'none', serviceExplicit: false, checkcommand: '', checktimeout,
    negotiatetimeout: checktimeout, checkinterval: 10, checkcount: 1, failurecount: 1, request: '/', receive: '',
    httpmethod: 'GET', login: '', passwd: '', database: '', secret: '', scheduler: 'wrr', ops: false, quiescent: false,
    cleanstop: true, emailalert: '', emailalertfreq: 0, emailalertstatus: [], pos: { file: 'bench.cf', line: 1 },
  };
  v.reals = reals.map((r, i) => ({
    ip: r.ip, family: 4, port: r.port, forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0,
    source: `${r.ip}:${r.port}`, pos: { file: 'bench.cf', line: i + 2 },
  }));
  return v;
}

function jobsOf(v) {
  return v.reals.map((real) => ({ key: realIdString(v, real), virtual: v, real }));
}

async function cycle(jobs) {
  let up = 0;
  let down = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await runCycle(jobs, { runCheck, concurrency: Number(process.env.BENCH_CONCURRENCY) || undefined, onResult: (_j, r) => (r.ok ? up++ : down++) });
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, up, down, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * originalCpu runs the Perl original (/usr/sbin/ldirectord, supervised=yes: foreground, log to stdout)
 * on the same 1000 reals with checktype=connect and a stub ipvsadm first on PATH, and reports its own
 * CPU time (utime+stime from /proc) per check cycle; cycles are counted from the connections the
 * listeners accepted.
 */
async function originalCpu(ok) {
  const ld = '/usr/sbin/ldirectord';
  if (!existsSync(ld)) return console.log('   original not installed: no measured comparison');
  const { mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'ldbench-'));
  const name = `bench-${process.pid}.cf`;
  writeFileSync(join(dir, 'ipvsadm'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'ipvsadm'), 0o755);
  const cfg = ['checktimeout=2', 'checkinterval=1', 'supervised=yes', 'quiescent=no', 'virtual=127.0.0.1:80',
    ...ok.reals.map((r) => `\treal=${r.ip}:${r.port} gate`), '\tchecktype=connect', '\tscheduler=rr', ''].join('\n');
  writeFileSync(join(dir, name), cfg);
  const child = spawn(ld, [join(dir, name), 'start'], {
    cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'ignore'],
    env: { PATH: `${dir}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C' },
  });
  const cpuOf = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime+stime in ms (USER_HZ = 100)
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  try {
    // wait for the start-up pass (every real connected at least twice), then measure over ~6 s
    const base0 = await ok.accepted();
    const until = Date.now() + 60000;
    while ((await ok.accepted()) - base0 < 2000 && Date.now() < until) await sleep(200);
    const c0 = await ok.accepted();
    const cpu0 = cpuOf();
    await sleep(6000);
    const c1 = await ok.accepted();
    const cpu1 = cpuOf();
    const cycles = (c1 - c0) / ok.reals.length;
    if (cycles > 0) {
      console.log(
        `   the original itself (ldirectord, checktype=connect, same 1000 reals): ${((cpu1 - cpu0) / cycles).toFixed(0)} ms CPU per cycle ` +
          `(${cycles.toFixed(1)} cycles measured)`,
      );
    } else console.log('   the original made no check cycle in the measuring window');
  } catch (err) {
    console.log(`   the original could not be measured: ${err.message}`);
  } finally {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
    rmSync(`/var/run/ldirectord.${name}.pid`, { force: true });
  }
}

const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;

const stage = process.env.BENCH_CHECKS_STAGE;

// 1. 1000 reals, 100 dropping SYNs, checktimeout=2
if (!stage) {
  const ok = await listeners(1, 900);
  const dropping = await synDroppers(2, 100);
  const jobs = jobsOf(virtual([...ok.reals, ...dropping.reals], 2));
  for (let i = 1; i <= 2; i++) {
    const r = await cycle(jobs);
    console.log(
      `1000 connect checks (900 listening, 100 dropping SYNs), checktimeout=2: cycle ${i} took ${(r.ms / 1000).toFixed(2)} s ` +
        `(${r.up} up, ${r.down} down)`,
    );
  }
  console.log(`   original (sequential checks, computed): >= 100 x 2 s = 200 s per cycle`);
  ok.stop();
  dropping.stop();
}

// 2. CPU time of 1000 healthy connects
if (!stage) {
  const ok = await listeners(3, 1000);
  const jobs = jobsOf(virtual(ok.reals, 2));
  await cycle(jobs); // warm-up
  const r = await cycle(jobs);
  console.log(`1000 healthy connect checks: ${(r.ms / 1000).toFixed(2)} s wall, ${r.cpuMs.toFixed(0)} ms CPU (this process) (${r.up} up)`);
  const perl = `
    use Socket;
    my @t0 = times;
    for my $a (@ARGV) {
      my ($ip, $port) = split /:/, $a;
      eval {
        local $SIG{'ALRM'} = sub { die "Timeout Alarm" };
        alarm 2;
        socket(my $s, PF_INET, SOCK_STREAM, getprotobyname("tcp")) || die "socket: $!";
        connect($s, sockaddr_in($port, inet_aton($ip))) or die "connect";
        close($s);
        alarm 0;
      };
    }
    my @t1 = times;
    printf "%.0f\\n", 1000 * (($t1[0] - $t0[0]) + ($t1[1] - $t0[1]));`;
  const t0 = performance.now();
  const p = spawnSync('perl', ['-e', perl, ...ok.reals.map((x) => `${x.ip}:${x.port}`)], { encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (p.status === 0) {
    console.log(
      `   original's check_connect done in Perl (eval+alarm+socket+connect+close, sequential): ${(wall / 1000).toFixed(2)} s wall, ` +
        `${p.stdout.trim()} ms CPU (loop only; the original adds logging and ipvsadm bookkeeping per real)`,
    );
  } else console.log(`   perl comparison not run: ${p.stderr || p.error}`);
  await originalCpu(ok);
  ok.stop();
}

// 3. RSS with 10 000 reals, in a fresh process (so that the stages above do not count)
if (!stage) {
  for (const flags of [[], ['--max-semi-space-size=1']]) {
    if (flags.length) process.stdout.write(`   with node ${flags.join(' ')}: `);
    const r = spawnSync(process.execPath, [...flags, '--expose-gc', fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_CHECKS_STAGE: 'rss' },
      stdio: 'inherit',
    });
    if (r.status !== 0) console.log(`RSS stage failed: ${r.status ?? r.signal}`);
  }
}
if (stage === 'rss') {
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const ok = await listeners(4, 10000);
  const jobs = jobsOf(virtual(ok.reals, 5));
  const r = await cycle(jobs);
  globalThis.gc?.();
  const mem = process.memoryUsage();
  console.log(
    `10 000 reals, one cycle of connect checks (${r.up} up) in ${(r.ms / 1000).toFixed(2)} s: RSS ${mb(mem.rss)} ` +
      `(before: ${mb(rss0)}, peak ${mb(process.resourceUsage().maxRSS * 1024)}), heap used ${mb(mem.heapUsed)}, heap total ${mb(mem.heapTotal)}, external ${mb(mem.external)}`,
  );
  ok.stop();
}
process.exit(0);

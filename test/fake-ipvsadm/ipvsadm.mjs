#!/usr/bin/env node
// The fake ipvsadm: ipvsadm 1.31's command line on the simulated kernel of dist/ipvs-sim/index.js.
// State: the JSON file named by FAKE_IPVSADM_STATE (required). Log: every invocation appended as one
// JSON line to FAKE_IPVSADM_LOG (if set). Faults: FAKE_IPVSADM_FAIL_MATCH (regex on the command line,
// also on each -R line: exit 255 with a message), FAKE_IPVSADM_HANG_MS (sleep first),
// FAKE_IPVSADM_GARBAGE=1 (print garbage instead of listings). FAKE_IPVSADM_HOSTS: the hosts file for
// names (default /etc/hosts). See README.md.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const simPath = resolve(here, '../../dist/ipvs-sim/index.js');
if (!existsSync(simPath)) {
  process.stderr.write(`fake ipvsadm: ${simPath} not found (run: npx tsc -p tsconfig.json)\n`);
  process.exit(2);
}
const sim = await import(pathToFileURL(simPath).href);

const args = process.argv.slice(2);
const statePath = process.env.FAKE_IPVSADM_STATE;
if (!statePath) {
  process.stderr.write('fake ipvsadm: FAKE_IPVSADM_STATE is not set (the file holding the simulated IPVS table)\n');
  process.exit(2);
}

async function readStdin() {
  if (!args.some((a) => a === '-R' || a === '--restore')) return undefined;
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const stdin = await readStdin();
const hangMs = Number(process.env.FAKE_IPVSADM_HANG_MS ?? 0);
if (hangMs > 0) await new Promise((r) => setTimeout(r, hangMs));

function loadState() {
  if (!existsSync(statePath)) return sim.emptyState();
  const text = readFileSync(statePath, 'utf8');
  if (text.trim() === '') return sim.emptyState();
  return JSON.parse(text);
}

function saveState(state) {
  mkdirSync(dirname(resolve(statePath)), { recursive: true });
  const tmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, statePath);
}

function logInvocation(result) {
  const logPath = process.env.FAKE_IPVSADM_LOG;
  if (!logPath) return;
  const entry = { time: new Date().toISOString(), pid: process.pid, argv: args, exitCode: result.exitCode };
  if (stdin !== undefined) entry.stdin = stdin;
  if (result.stderr) entry.stderr = result.stderr;
  appendFileSync(logPath, JSON.stringify(entry) + '\n');
}

sim.setEtcServicesLoader(() => (existsSync('/etc/services') ? readFileSync('/etc/services', 'utf8') : ''));
const hostsFile = process.env.FAKE_IPVSADM_HOSTS || '/etc/hosts';
sim.setEtcHostsLoader(() => (existsSync(hostsFile) ? readFileSync(hostsFile, 'utf8') : ''));
// The sync daemons' --mcast-interface: FAKE_IPVSADM_INTERFACES (`eth0,lo` or `eth0:1500,lo:65536`), else
// the interfaces of this network namespace (/sys/class/net, as `ip netns exec` mounts it).
sim.setInterfacesLoader(() => {
  const spec = process.env.FAKE_IPVSADM_INTERFACES;
  const m = new Map();
  if (spec !== undefined) {
    for (const item of spec.split(',')) {
      if (item === '') continue;
      const [name, mtu] = item.split(':');
      m.set(name, mtu ? Number(mtu) : name === 'lo' ? 65536 : 1500);
    }
    return m;
  }
  for (const name of readdirSync('/sys/class/net')) {
    let mtu = 1500;
    try {
      mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim()) || 1500;
    } catch {
      /* keep 1500 */
    }
    m.set(name, mtu);
  }
  return m;
});

let result;
const failMatch = process.env.FAKE_IPVSADM_FAIL_MATCH ? new RegExp(process.env.FAKE_IPVSADM_FAIL_MATCH) : null;
const state = loadState();
const stateBefore = JSON.stringify(state);
const schedulers = process.env.FAKE_IPVSADM_SCHEDULERS ? process.env.FAKE_IPVSADM_SCHEDULERS.split(',') : undefined;
const cmdLine = args.join(' ');
const injected = 'Operation not permitted (injected by FAKE_IPVSADM_FAIL_MATCH)';
if (failMatch && failMatch.test(cmdLine)) {
  result = { stdout: '', stderr: `${injected}\n`, exitCode: 255 };
} else if (failMatch && stdin !== undefined) {
  // -R: a matching line is refused like a kernel refusal (message, restore goes on); the others run.
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  for (const line of stdin.split('\n')) {
    if (line.trim() === '') continue;
    if (failMatch.test(line)) {
      stderr += `${injected}\n`;
      exitCode = 255;
      continue;
    }
    const r = sim.runIpvsadm(state, ['-R'], { stdin: line + '\n', schedulers });
    stdout += r.stdout;
    stderr += r.stderr;
    exitCode = r.exitCode;
    if (r.stderr.startsWith('Try `') || r.exitCode === 2) break;
  }
  result = { stdout, stderr, exitCode };
} else {
  result = sim.runIpvsadm(state, args, { stdin, schedulers });
}
if (process.env.FAKE_IPVSADM_GARBAGE === '1' && result.stdout !== '') {
  result = { ...result, stdout: 'Segmentation fault?\n\u0000\u0001 garbled listing\n' };
}
// Only a changed table is written back, so that a concurrent listing cannot undo another's change.
if (JSON.stringify(state) !== stateBefore || !existsSync(statePath)) saveState(state);
logInvocation(result);
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;

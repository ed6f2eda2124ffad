/**
 * A two-node pacemaker 2.1 + corosync 3 cluster on one host, no VM (shared/reference/operations.md §2).
 * Each node: its own network, mount, UTS, IPC and PID namespaces (node.sh is its PID 1), private /run,
 * /dev/shm and /var, the Debian packages extracted (test/setup/ha-packages.sh) and overlaid on /usr, /etc,
 * /var. A third namespace holds the bridge and the real servers. The nodes' ipvsadm is the project's fake,
 * its table in the node's private /run. stop() kills every process it started by pid (a node's PID 1 takes
 * its whole namespace with it) and deletes every namespace it created.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installFakeIpvsadm, fakeSave } from '../fake-ipvsadm/install.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const PKG_ROOT = process.env.LDTS_HA_PKG_ROOT ?? '/opt/ldts-ha/root';
export const SUBNET = '10.222.0';
export const VIP = `${SUBNET}.100`;
export const REALS = [`${SUBNET}.11`, `${SUBNET}.12`];
const FAKE_STATE = '/run/ldts-ha-ipvs.json';
const FAKE_LOG = '/run/ldts-ha-ipvsadm.log';

/** Why the tier cannot run here, or undefined. */
export function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (namespaces and mounts need root)';
  for (const b of ['ip', 'unshare', 'nsenter']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `no ${b}`;
  for (const f of ['usr/sbin/corosync', 'usr/sbin/pacemakerd', 'usr/sbin/cibadmin', 'usr/sbin/crm_mon'])
    if (!existsSync(join(PKG_ROOT, f))) return `${join(PKG_ROOT, f)} missing: run test/setup/ha-packages.sh as root with apt (it apt-get downloads and extracts corosync/pacemaker)`;
  for (const a of ['IPaddr2', 'ldirectord'])
    if (!existsSync(`/usr/lib/ocf/resource.d/heartbeat/${a}`)) return `ocf:heartbeat:${a} missing (Debian package resource-agents)`;
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) return 'dist/ not built (npx tsc -p tsconfig.json)';
  const probe = spawnSync('unshare', ['--mount', '--pid', '--fork', 'true']);
  if (probe.status !== 0) return `unshare refused: ${String(probe.stderr).trim()}`;
  return undefined;
}

function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status} ${r.stderr ?? ''}`);
  return r.stdout ?? '';
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The prefix that makes a process we spawn die with the test process even when that one is SIGKILLed
 * (vitest killing a worker at its timeout): `setpriv --pdeathsig SIGKILL` survives the exec of `ip netns
 * exec` and `unshare`; a node's unshare then takes the node's PID 1 with it (--kill-child).
 */
function dieWithUs(): string[] {
  return spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', 'true']).status === 0 ? ['setpriv', '--pdeathsig', 'SIGKILL'] : [];
}

const NS_PREFIX = 'ldtsha';

/**
 * Network namespaces a previous run of this tier left behind when its process was SIGKILLed (named
 * ldtsha<pid>-*, that pid gone, no process left inside since every one of them died with it): deleted.
 * A namespace with processes inside, or whose creator lives, is left alone.
 */
export function sweepStaleNamespaces(): string[] {
  const gone: string[] = [];
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const m = new RegExp(`^(${NS_PREFIX}(\\d+)-\\w+)`).exec(line);
    if (!m || existsSync(`/proc/${m[2]}`)) continue;
    const pids = (spawnSync('ip', ['netns', 'pids', m[1]!], { encoding: 'utf8' }).stdout ?? '').trim();
    if (pids !== '') continue;
    if (spawnSync('ip', ['netns', 'del', m[1]!]).status === 0) gone.push(m[1]!);
  }
  // Their temporary directories (ldts-ha-<pid>-*), once no namespace of that pid is left.
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const e of readdirSync(tmpdir())) {
    const m = /^ldts-ha-(\d+)-/.exec(e);
    if (!m || existsSync(`/proc/${m[1]}`) || left.includes(`${NS_PREFIX}${m[1]}-`)) continue;
    rmSync(join(tmpdir(), e), { recursive: true, force: true });
    gone.push(join(tmpdir(), e));
  }
  return gone;
}

export interface Node {
  name: string;
  ns: string;
  addr: string;
  dir: string;
  proc?: ChildProcess;
  /** Host pid of the node's PID 1. */
  pid: number;
}

export class Cluster {
  readonly tag = `${NS_PREFIX}${process.pid}`;
  readonly dir = mkdtempSync(join(tmpdir(), `ldts-ha-${process.pid}-`));
  readonly rsNs = `${this.tag}-rs`;
  readonly nodes: Node[] = [1, 2].map((i) => ({ name: `node${i}`, ns: `${this.tag}-n${i}`, addr: `${SUBNET}.${i}`, dir: '', pid: 0 }));
  readonly realProcs = new Map<string, ChildProcess>();
  private netnsMade: string[] = [];
  readonly usrExtra = join(this.dir, 'usr-extra');
  /** stop() also when the test process exits or is told to stop (the pdeathsig covers a SIGKILL). */
  private readonly onExit = (): void => this.stop();
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.stop();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };

  constructor() {
    process.once('exit', this.onExit);
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, this.onSignal);
  }

  /** Namespaces, bridge, real servers, the /usr extra layer. */
  setupNetwork(): void {
    for (const ns of [this.rsNs, ...this.nodes.map((n) => n.ns)]) {
      run('ip', ['netns', 'add', ns]);
      this.netnsMade.push(ns);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['-n', this.rsNs, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', this.rsNs, 'addr', 'add', `${SUBNET}.254/24`, 'dev', 'br0']);
    for (const r of REALS) run('ip', ['-n', this.rsNs, 'addr', 'add', `${r}/24`, 'dev', 'br0']);
    run('ip', ['-n', this.rsNs, 'link', 'set', 'br0', 'up']);
    this.nodes.forEach((n, i) => {
      run('ip', ['-n', this.rsNs, 'link', 'add', `v${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns]);
      run('ip', ['-n', this.rsNs, 'link', 'set', `v${i + 1}`, 'master', 'br0', 'up']);
      run('ip', ['-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', 'eth0']);
      run('ip', ['-n', n.ns, 'link', 'set', 'eth0', 'up']);
    });
    for (const r of REALS) this.startReal(r);
    // The extra /usr layer: the fake ipvsadm (table in the node's private /run) and the project's agent.
    mkdirSync(join(this.usrExtra, 'sbin'), { recursive: true });
    installFakeIpvsadm(join(this.usrExtra, 'sbin'), { state: FAKE_STATE, log: FAKE_LOG });
    const agentDir = join(this.usrExtra, 'lib/ocf/resource.d/ldirectord-ts');
    mkdirSync(agentDir, { recursive: true });
    copyFileSync(join(ROOT, 'compat/ocf/ldirectord'), join(agentDir, 'ldirectord'));
    chmodSync(join(agentDir, 'ldirectord'), 0o755);
  }

  /** Connections each real server accepted, per client address (a node's address: its checks). */
  readonly hits = new Map<string, Map<string, number>>();

  /** A TCP server on REAL:80 in the real-server namespace (accepts and closes; prints each client). */
  startReal(addr: string): void {
    const code = `require('net').createServer((s)=>{process.stdout.write('c '+s.remoteAddress+'\\n');s.on('error',()=>{});s.end('ok\\n')}).listen(80,'${addr}',()=>process.stdout.write('up\\n'))`;
    const [cmd, ...pre] = [...dieWithUs(), 'ip'];
    const p = spawn(cmd!, [...pre, 'netns', 'exec', this.rsNs, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.realProcs.set(addr, p);
    const hits = this.hits.get(addr) ?? new Map<string, number>();
    this.hits.set(addr, hits);
    let buf = '';
    p.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = /^c (?:::ffff:)?(\S+)/.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m) hits.set(m[1]!, (hits.get(m[1]!) ?? 0) + 1);
      }
    });
  }

  /** How many connections the real servers accepted from node n so far (its health checks). */
  checksFrom(n: Node): number {
    let k = 0;
    for (const h of this.hits.values()) k += h.get(n.addr) ?? 0;
    return k;
  }

  stopReal(addr: string): void {
    const p = this.realProcs.get(addr);
    if (p?.pid) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    this.realProcs.delete(addr);
  }

  corosyncConf(): string {
    return `totem {
  version: 2
  cluster_name: ${this.tag}
  crypto_cipher: none
  crypto_hash: none
  token: 3000
}
logging {
  to_logfile: yes
  logfile: /var/log/corosync/corosync.log
  to_syslog: no
  to_stderr: no
  timestamp: on
}
quorum {
  provider: corosync_votequorum
  two_node: 1
}
nodelist {
${this.nodes.map((n, i) => `  node {\n    name: ${n.name}\n    nodeid: ${i + 1}\n    ring0_addr: ${n.addr}\n  }`).join('\n')}
}
system {
  sched_rr: no
  priority: 10
  move_to_root_cgroup: no
}
`;
  }

  startNodes(): void {
    for (const n of this.nodes) {
      n.dir = join(this.dir, n.name);
      mkdirSync(n.dir, { recursive: true });
      writeFileSync(join(n.dir, 'corosync.conf'), this.corosyncConf());
      const [cmd, ...pre] = [...dieWithUs(), 'ip'];
      const p = spawn(cmd!, [...pre, 'netns', 'exec', n.ns, 'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--mount-proc', '--kill-child',
        'sh', join(HERE, 'node.sh'), n.dir, PKG_ROOT, this.usrExtra, n.name], { stdio: ['ignore', 'ignore', 'pipe'] });
      p.stderr?.on('data', (d) => process.stderr.write(`[${n.name}] ${d}`));
      n.proc = p;
    }
  }

  /** Waits for both nodes' PID 1 (their host pids) and node.sh's "ready". */
  async waitBooted(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (const n of this.nodes) {
      while (!existsSync(join(n.dir, 'ready'))) {
        if (Date.now() > end) throw new Error(`${n.name} did not boot`);
        await sleep(200);
      }
      // The unshare process's child is the node's PID 1.
      const kids = readFileSync(`/proc/${n.proc!.pid}/task/${n.proc!.pid}/children`, 'utf8').trim().split(/\s+/);
      n.pid = Number(kids[0]);
    }
  }

  /** Runs a command inside a node (all its namespaces). */
  exec(n: Node, cmd: string, opts: { allowFail?: boolean; input?: string } = {}): string {
    return run('nsenter', ['-t', String(n.pid), '-a', 'sh', '-c', cmd], opts);
  }

  async waitFor<T>(what: string, timeoutMs: number, f: () => T | undefined | false, stepMs = 250): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = f();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`);
      await sleep(stepMs);
    }
  }

  /** Writes a file inside node n (its private /etc, /var or /run: each node may hold its own version). */
  writeNodeFile(n: Node, path: string, content: string): void {
    this.exec(n, `mkdir -p "$(dirname '${path}')" && cat > '${path}'`, { input: content });
  }

  /** Both nodes online in the CIB as seen from n. */
  onlineNodes(n: Node): string[] {
    const out = this.exec(n, 'crm_mon -1 -X 2>/dev/null', { allowFail: true });
    return [...out.matchAll(/<node name="([^"]+)"[^>]*online="true"/g)].map((m) => m[1]!);
  }

  hasVip(n: Node): boolean {
    return run('ip', ['-n', n.ns, '-o', 'addr', 'show', 'dev', 'eth0']).includes(` ${VIP}/`);
  }

  /** The node's fake IPVS table as `ipvsadm -S -n` (read through /proc/PID/root: no process started). */
  table(n: Node): string {
    try { return fakeSave(`/proc/${n.pid}/root${FAKE_STATE}`); } catch { return ''; }
  }

  /**
   * The connection-sync daemons running in node n, as its (fake) `ipvsadm -L -n --daemon` lists them:
   * `role:syncid@interface`, sorted (e.g. `backup:2@eth0`, `master:1@eth0`).
   */
  syncDaemons(n: Node): string[] {
    const out = this.exec(n, 'ipvsadm -L -n --daemon', { allowFail: true });
    return [...out.matchAll(/^(master|backup) sync daemon \(mcast=(\S+?), syncid=(\d+)/gm)].map((m) => `${m[1]}:${m[3]}@${m[2]}`).sort();
  }

  /** The node's fake ipvsadm invocations (argv lines). */
  ipvsadmLog(n: Node): string[] {
    const f = `/proc/${n.pid}/root${FAKE_LOG}`;
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l !== '') : [];
  }

  /** The ldirectord daemon's pid (inside the node) from its pid file in the node's private /run, or ''. */
  daemonPid(n: Node): string {
    const dir = `/proc/${n.pid}/root/run`;
    try {
      const f = readdirSync(dir).find((e) => /^ldirectord\..*\.pid$/.test(e));
      return f ? readFileSync(`${dir}/${f}`, 'utf8').trim() : '';
    } catch { return ''; }
  }

  /**
   * Operation results in the node's pacemaker.log since `sinceMs` (epoch ms): `start vip-x ok` etc., with
   * their time. The log's timestamps are local time without a year (this year, the host's zone).
   */
  pacemakerOps(n: Node, sinceMs: number): { at: number; what: string }[] {
    let text: string;
    try { text = readFileSync(`/proc/${n.pid}/root/var/log/pacemaker/pacemaker.log`, 'utf8'); } catch { return []; }
    const year = new Date().getFullYear();
    const out: { at: number; what: string }[] = [];
    for (const line of text.split('\n')) {
      const m = /^(\w{3} \d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) .*Result of (\w+) operation for (\S+) on \S+: (\w+)/.exec(line);
      if (!m) continue;
      const at = new Date(`${m[1]!.replace(/\.\d+$/, '')} ${year}`).getTime() + Number((/\.(\d+)$/.exec(m[1]!)?.[1] ?? '0').padEnd(3, '0').slice(0, 3));
      if (at >= sinceMs) out.push({ at, what: `${m[2]} ${m[3]} ${m[4]}` });
    }
    return out;
  }

  /** Stops pacemaker on a node gracefully (SIGTERM to pacemakerd, as `systemctl stop pacemaker`). */
  stopPacemaker(n: Node): void {
    this.exec(n, 'kill -TERM $(cat /run/pacemakerd.pid 2>/dev/null || pidof pacemakerd)', { allowFail: true });
  }

  /** Puts node n in standby (its resources move away, it stays in the cluster) or back online. */
  setStandby(n: Node, on: boolean): void {
    this.exec(n, `crm_attribute -t nodes -N ${n.name} -n standby -v ${on ? 'on' : 'off'}`);
  }

  startPacemaker(n: Node): void {
    this.exec(n, `LDIRECTORD_IPVS_DRIVER=ipvsadm PCMK_logfile=/var/log/pacemaker/pacemaker.log setsid pacemakerd >>${n.dir}/pacemakerd.out 2>&1 </dev/null &`);
  }

  pacemakerdRunning(n: Node): boolean {
    return this.exec(n, 'pidof pacemakerd', { allowFail: true }).trim() !== '';
  }

  /** Kills everything started (by pid) and deletes every namespace created. Safe to call twice. */
  stop(): void {
    process.removeListener('exit', this.onExit);
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeListener(s, this.onSignal);
    for (const n of this.nodes) {
      // The node's PID 1 first: the kernel then kills every process of its PID namespace.
      if (n.pid) { try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ } }
      if (n.proc?.pid) { try { process.kill(n.proc.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const r of [...this.realProcs.keys()]) this.stopReal(r);
    // The node processes must be gone before their network namespaces can go away cleanly.
    const end = Date.now() + 10_000;
    while (this.nodes.some((n) => n.pid && existsSync(`/proc/${n.pid}`)) && Date.now() < end) spawnSync('sleep', ['0.1']);
    for (const ns of this.netnsMade.splice(0)) run('ip', ['netns', 'del', ns], { allowFail: true });
    if (!process.env.LDTS_HA_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}

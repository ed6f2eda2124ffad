/**
 * Two directors under pacemaker + corosync (issue 22), on one cluster booted once, each scenario with the
 * stock ocf:heartbeat:ldirectord agent and with the project's own agent (compat/ocf), both running this
 * project's daemon against the fake ipvsadm of each node (cluster.ts has the namespaces):
 * - design (b), the group: IPaddr2 VIP + ldirectord, ldirectord runs on the active node only;
 * - design (a), the clone: ldirectord runs on both nodes, only the VIP moves (colocated with the clone).
 * Every failover prints a timeline (seconds since pacemaker was told to stop on the old node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Cluster, REALS, ROOT, VIP, skipReason, sleep, sweepStaleNamespaces, type Node } from './cluster.js';
import { nodeStartMs } from '../support/load.js';

/** A logged fake ipvsadm call that changes the table (-A/-E/-D/-a/-e/-d/-C, also inside -R). */
function touchesTable(line: string): boolean {
  const inv = JSON.parse(line) as { argv: string[]; stdin?: string };
  const cmds = [inv.argv.join(' '), ...(inv.stdin ?? '').split('\n')];
  return cmds.some((l) => /^-[AEDaedC]\b/.test(l.trim()));
}

const reason = skipReason();
if (reason) process.stdout.write(`test:ha skipped: ${reason}\n`);

const BOOT_MS = 240_000;
const MOVE_MS = 90_000;
/** The daemon's config inside each node (its private /etc): each node may hold its own version. */
const CF = '/etc/ha.d/ldts-pair.cf';
const CHECK_INTERVAL_S = 2;

function fullTable(t: string, reals: readonly string[]): boolean {
  return t.includes(`-A -t ${VIP}:80`) && reals.every((r) => t.includes(`-r ${r}:80`)) && REALS.filter((r) => !reals.includes(r)).every((r) => !t.includes(`-r ${r}:80`));
}

const secs = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * Watches a failover from `from` to `to` (polling every 50 ms) until `to` has the VIP and `want` as its
 * table; prints the moments (s since the stop was sent) as one timeline line, with the operation results
 * of both nodes' pacemaker.log. `keepFull`: `to`'s table must stay complete all along (the clone).
 */
async function failoverTimeline(c: Cluster, label: string, from: Node, to: Node, want: readonly string[], stop: () => void, keepFull = false): Promise<Record<string, number>> {
  const t0 = Date.now();
  const ev: Record<string, number> = {};
  const mark = (k: string, cond: boolean): void => { if (cond && ev[k] === undefined) ev[k] = Date.now() - t0; };
  const fromPid = c.daemonPid(from);
  const logFrom = c.ipvsadmLog(to).length;
  let lost = '';
  stop();
  await c.waitFor(`VIP and table (${want.join(',')}) on ${to.name}`, MOVE_MS, () => {
    mark('daemonGoneOld', fromPid !== '' && c.daemonPid(from) === '');
    mark('vipGoneOld', !c.hasVip(from));
    mark('vipUpNew', c.hasVip(to));
    mark('daemonUpNew', c.daemonPid(to) !== '');
    const t = c.table(to);
    if (keepFull && !lost && !fullTable(t, REALS) && !fullTable(t, want)) lost = t;
    mark('firstWriteNew', t.includes(`-A -t ${VIP}:80`));
    mark('fullNew', fullTable(t, want));
    return ev.vipUpNew !== undefined && ev.fullNew !== undefined;
  }, 50);
  const firstCall = c.ipvsadmLog(to).slice(logFrom).map((l) => JSON.parse(l) as { time: string })[0];
  if (firstCall && !keepFull) ev.firstIpvsadmNew = Date.parse(firstCall.time) - t0;
  const done = Math.max(ev.vipUpNew!, ev.fullNew!);
  ev.done = done;
  // The cluster's side: when each node's executor reported its operations (pacemaker.log, ms timestamps).
  for (const n of [from, to]) {
    for (const m of c.pacemakerOps(n, t0 - 500)) { const k = `${n.name}:${m.what}`; if (ev[k] === undefined) ev[k] = m.at - t0; }
  }
  const order = Object.entries(ev).sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ');
  const gone = ev.vipGoneOld ?? done;
  process.stdout.write(`test:ha [${label}] failover ${from.name} -> ${to.name}: ${secs(done - gone)} s after ${from.name} let the VIP go, ${secs(done)} s after pacemaker was told to stop (goal 5 s); timeline (s since stop): ${order}\n`);
  expect(lost, `${to.name}'s table stayed complete during the failover`).toBe('');
  return ev;
}

const AGENTS = [
  { label: 'stock ocf:heartbeat:ldirectord', id: 'stock', provider: 'heartbeat' },
  { label: "the project's agent (compat/ocf)", id: 'own', provider: 'ldirectord-ts' },
] as const;
type Agent = (typeof AGENTS)[number];

describe.skipIf(reason !== undefined)('pacemaker + corosync pair', () => {
  let c: Cluster;
  let n1: Node;
  let n2: Node;

  /**
   * The ldirectord config of node n for a design, with its connection-sync roles (compat/pacemaker/README.md):
   * (a) a master and a backup on each node, two sync ids (node1 sends 1 and receives 2, node2 the reverse);
   * (b) the same file on both: master 1, and a backup 1 the daemon's stop leaves running (cleanstop=no).
   */
  const nodeConfig = (n: Node, design: 'a' | 'b'): string => {
    const mine = n === n1 ? 1 : 2;
    const sync = design === 'a'
      ? `syncdaemon = master eth0 syncid=${mine}\nsyncdaemon = backup eth0 syncid=${3 - mine}\n`
      : 'syncdaemon = master eth0 syncid=1\nsyncdaemon = backup eth0 syncid=1 cleanstop=no\n';
    return `checktimeout=2\ncheckinterval=${CHECK_INTERVAL_S}\nautoreload=no\nquiescent=no\nlogfile="/var/log/ldirectord.log"\n${sync}virtual=${VIP}:80\n${REALS.map((r) => `\treal=${r}:80 gate\n`).join('')}\tscheduler=rr\n\tprotocol=tcp\n\tchecktype=connect\n`;
  };
  const writeConfigs = (design: 'a' | 'b'): void => { for (const n of c.nodes) c.writeNodeFile(n, CF, nodeConfig(n, design)); };
  /** Waits until node n runs exactly these sync daemons (`role:syncid@eth0`). */
  const syncIs = (n: Node, want: string[]): Promise<unknown> => {
    const w = [...want].sort();
    let last: string[] = [];
    return c.waitFor(`${n.name} running sync daemons [${w.join(' ')}]`, MOVE_MS, () => { last = c.syncDaemons(n); return last.join(' ') === w.join(' '); }, 1000)
      .catch((e: Error) => { throw new Error(`${e.message}; it runs [${last.join(' ')}]`); });
  };
  /** Stops every sync daemon of both nodes (between scenarios). */
  const stopAllSync = (): void => {
    for (const n of c.nodes) c.exec(n, 'ipvsadm --stop-daemon master; ipvsadm --stop-daemon backup; true', { allowFail: true });
  };

  beforeAll(async () => {
    const swept = sweepStaleNamespaces();
    if (swept.length) process.stdout.write(`test:ha: removed what a killed earlier run left: ${swept.join(' ')}\n`);
    c = new Cluster();
    [n1, n2] = c.nodes as [Node, Node];
    try {
      c.setupNetwork();
      const t0 = Date.now();
      c.startNodes();
      await c.waitBooted(60_000);
      await c.waitFor('both nodes online', BOOT_MS, () => c.onlineNodes(n1).length === 2, 1000);
      c.exec(n1, 'crm_attribute -t crm_config -n stonith-enabled -v false && crm_attribute -t rsc_defaults -n resource-stickiness -v 200');
      process.stdout.write(`test:ha: cluster of 2 nodes online in ${secs(Date.now() - t0)} s\n`);
    } catch (e) {
      c.stop();
      throw e;
    }
  }, BOOT_MS + 70_000);

  afterAll(() => c?.stop());

  const vipXml = (id: string): string => `<primitive id="${id}" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="${id}-ia">
      <nvpair id="${id}-ip" name="ip" value="${VIP}"/><nvpair id="${id}-nm" name="cidr_netmask" value="24"/><nvpair id="${id}-nic" name="nic" value="eth0"/>
    </instance_attributes>
    <operations><op id="${id}-mon" name="monitor" interval="10s" timeout="20s"/></operations>
  </primitive>`;
  /**
   * ldirectord with the agents' default timings (start/stop 15 s, monitor every 20 s with 10 s timeout),
   * each timeout plus what its node processes (the agent's ldirectord commands, the daemon, each fake
   * ipvsadm call) cost to start on this host right now (test/support/load.ts): ~1-2 s more on an idle
   * host, more beside a CPU hog, where a start timed out at a fixed 15 s would count as a failure and move
   * the group. The failover times this suite prints are the cluster's own, not bounded by these.
   */
  const ldXml = (id: string, agent: Agent): string => {
    const start = nodeStartMs();
    const opS = (baseS: number, starts: number) => Math.ceil(baseS + (starts * start) / 1000);
    return ldPrimitive(id, agent, opS(15, 12), opS(10, 6));
  };
  const ldPrimitive = (id: string, agent: Agent, startStopS: number, monitorS: number): string => `<primitive id="${id}" class="ocf" provider="${agent.provider}" type="ldirectord">
    <instance_attributes id="${id}-ia">
      <nvpair id="${id}-cf" name="configfile" value="${CF}"/><nvpair id="${id}-bin" name="ldirectord" value="${join(ROOT, 'bin/ldirectord.js')}"/>
    </instance_attributes>
    <operations>
      <op id="${id}-start" name="start" interval="0s" timeout="${startStopS}s"/><op id="${id}-stop" name="stop" interval="0s" timeout="${startStopS}s"/>
      <op id="${id}-mon" name="monitor" interval="20s" timeout="${monitorS}s"/>
    </operations>
  </primitive>`;

  /** Starts pacemaker again on n once its old pacemakerd is gone (else the new one aborts: "active Pacemaker instance found"). */
  async function startAgain(n: Node): Promise<void> {
    await c.waitFor(`the old pacemakerd of ${n.name} gone`, MOVE_MS, () => !c.pacemakerdRunning(n), 250);
    c.startPacemaker(n);
  }

  /** Starts pacemaker again on n and waits until both nodes are online. */
  async function rejoin(n: Node, other: Node): Promise<void> {
    await startAgain(n);
    await c.waitFor(`${n.name} back online`, BOOT_MS, () => c.onlineNodes(other).length === 2, 1000);
  }

  /** Stops a resource (group or clone) and the VIP, deletes them and their constraints. */
  async function remove(on: Node, stopFirst: string[], resources: string[], constraints: string[]): Promise<void> {
    for (const r of stopFirst) c.exec(on, `crm_resource -r ${r} --meta -p target-role -v Stopped`);
    await c.waitFor('resources stopped', MOVE_MS, () => c.nodes.every((n) => !c.hasVip(n) && !c.table(n).includes(VIP) && c.daemonPid(n) === ''));
    for (const k of constraints) c.exec(on, `cibadmin -D -o constraints -X '<${k}/>'`);
    for (const r of resources) c.exec(on, `cibadmin -D -o resources -X '<${r}/>'`);
  }

  for (const agent of AGENTS) {
    describe(`design (b), the group, ${agent.label}`, () => {
      const g = `g-${agent.id}`;
      // Who is active now.
      let active: Node;
      let standby: Node;
      let standbyLogFrom = 0;

      it('the group starts on node1: VIP and full table there, neither on node2, node2 runs no check and changes no table', async () => {
        writeConfigs('b');
        // What an operator's boot script does on a director that may start as the standby (the daemon has
        // never run there, so nothing else would start the backup role): ldirectord finds it and keeps it.
        for (const n of c.nodes) c.exec(n, 'ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 1');
        const xml = `<group id="${g}">${vipXml(`vip-${agent.id}`)}${ldXml(`ld-${agent.id}`, agent)}</group>`;
        const n2LogFrom = c.ipvsadmLog(n2).length;
        const n1Checks = c.checksFrom(n1);
        const n2Checks = c.checksFrom(n2);
        c.exec(n1, `cibadmin -C -o resources -X '${xml}' && cibadmin -C -o constraints -X '<rsc_location id="loc-${agent.id}" rsc="${g}" node="node1" score="100"/>'`);
        const t0 = Date.now();
        await c.waitFor('VIP and full table on node1', MOVE_MS, () => c.hasVip(n1) && fullTable(c.table(n1), REALS));
        process.stdout.write(`test:ha [${agent.id} group] started on node1 in ${secs(Date.now() - t0)} s\n`);
        expect(c.hasVip(n2)).toBe(false);
        expect(c.table(n2)).not.toContain(VIP);
        expect(c.ipvsadmLog(n2).slice(n2LogFrom).filter(touchesTable)).toEqual([]);
        expect(c.daemonPid(n2)).toBe('');
        // The table on node1 proves its checks passed; the reals report each connection through a pipe, which
        // may arrive a moment after the table is read (the CI run of stop 19 read 0 there once).
        await c.waitFor('checks from node1 seen by the reals', MOVE_MS, () => c.checksFrom(n1) > n1Checks);
        expect(c.checksFrom(n2)).toBe(n2Checks);
        // Connection sync: the active node sends (master 1) and receives; the standby receives (backup 1).
        await syncIs(n1, ['master:1@eth0', 'backup:1@eth0']);
        await syncIs(n2, ['backup:1@eth0']);
        active = n1;
        standby = n2;
      }, MOVE_MS + 10_000);

      it('graceful failover (pacemaker stopped on node1) moves VIP and table; node1 table purged', async () => {
        await failoverTimeline(c, `${agent.id} group, graceful`, n1, n2, REALS, () => c.stopPacemaker(n1));
        await c.waitFor('node1 table purged and VIP gone', MOVE_MS, () => !c.hasVip(n1) && !c.table(n1).includes(VIP));
        // The new active node sends; the old one, its daemon stopped, still receives (cleanstop=no).
        await syncIs(n2, ['master:1@eth0', 'backup:1@eth0']);
        await syncIs(n1, ['backup:1@eth0']);
        active = n2;
        standby = n1;
      }, MOVE_MS + 10_000);

      it('kill -9 of the daemon on the active node is seen by the monitor and recovered (node1 rejoins meanwhile)', async () => {
        // node1's pacemaker starts again now: its rejoin overlaps the monitor interval this test waits for.
        await startAgain(standby);
        const pidOf = (): string => c.daemonPid(active);
        const before = pidOf();
        expect(before).toMatch(/^\d+/);
        const t0 = Date.now();
        c.exec(active, `kill -9 ${before}`);
        const after = await c.waitFor('a new daemon on the active node', MOVE_MS, () => { const p = pidOf(); return p !== '' && p !== before ? p : undefined; }, 500);
        await c.waitFor('full table on the active node', MOVE_MS, () => c.hasVip(active) && fullTable(c.table(active), REALS));
        process.stdout.write(`test:ha [${agent.id} group] kill -9 of the daemon (pid ${before} in ${active.name}) recovered (pid ${after}) in ${secs(Date.now() - t0)} s (monitor interval 20 s)\n`);
      }, MOVE_MS + 10_000);

      it('node1 is back as a standby that runs no check; a real dies as node2 goes standby: node1 has the VIP and a table with the live real only', async () => {
        await c.waitFor(`${standby.name} back online`, BOOT_MS, () => c.onlineNodes(active).length === 2, 1000);
        standbyLogFrom = c.ipvsadmLog(standby).length;
        const standbyChecks = c.checksFrom(standby);
        const activeChecks = c.checksFrom(active);
        await sleep((2 * CHECK_INTERVAL_S + 1) * 1000);
        expect(c.hasVip(active)).toBe(true); // stickiness keeps the group where it is
        // The standby runs no daemon: no check reaches a real from it, nothing changes its table.
        expect(c.daemonPid(standby)).toBe('');
        expect(c.checksFrom(standby)).toBe(standbyChecks);
        expect(c.checksFrom(active)).toBeGreaterThan(activeChecks);
        expect(c.ipvsadmLog(standby).slice(standbyLogFrom).filter(touchesTable)).toEqual([]);
        const dead = REALS[1]!;
        const alive = REALS.filter((r) => r !== dead);
        await failoverTimeline(c, `${agent.id} group, ${active.name} standby, ${dead} dead`, active, standby, alive, () => { c.stopReal(dead); c.setStandby(active, true); });
        await c.waitFor('old active table purged', MOVE_MS, () => !c.hasVip(active) && !c.table(active).includes(VIP));
        await syncIs(standby, ['master:1@eth0', 'backup:1@eth0']);
        await syncIs(active, ['backup:1@eth0']);
        // Clean up for the next scenario: the group stopped and deleted, the real back, both nodes active.
        c.startReal(dead);
        await remove(standby, [g], [`group id="${g}"`], [`rsc_location id="loc-${agent.id}"`]);
        c.setStandby(active, false);
        stopAllSync();
      }, BOOT_MS + MOVE_MS * 3);
    });
  }

  for (const agent of AGENTS) {
    describe(`design (a), ldirectord cloned on both nodes, only the VIP moves, ${agent.label}`, () => {
      const clone = `ldc-${agent.id}`;
      const vip = `cvip-${agent.id}`;
      const constraints = [`rsc_location id="cloc-${agent.id}"`, `rsc_colocation id="ccol-${agent.id}"`, `rsc_order id="cord-${agent.id}"`];

      it('clone and VIP start: both nodes hold the full table and check the reals, the VIP is on node1 only', async () => {
        writeConfigs('a');
        const xml = `<clone id="${clone}">${ldXml(`ldi-${agent.id}`, agent)}</clone>`;
        const checks = [c.checksFrom(n1), c.checksFrom(n2)];
        c.exec(n1, `cibadmin -C -o resources -X '${xml}' && cibadmin -C -o resources -X '${vipXml(vip)}' && ` +
          `cibadmin -C -o constraints -X '<rsc_colocation id="ccol-${agent.id}" rsc="${vip}" with-rsc="${clone}" score="INFINITY"/>' && ` +
          `cibadmin -C -o constraints -X '<rsc_order id="cord-${agent.id}" first="${clone}" then="${vip}" kind="Optional"/>' && ` +
          `cibadmin -C -o constraints -X '<rsc_location id="cloc-${agent.id}" rsc="${vip}" node="node1" score="100"/>'`);
        const t0 = Date.now();
        await c.waitFor('VIP on node1, full tables on both nodes', MOVE_MS, () => c.hasVip(n1) && fullTable(c.table(n1), REALS) && fullTable(c.table(n2), REALS));
        process.stdout.write(`test:ha [${agent.id} clone] started on both nodes, VIP on node1, in ${secs(Date.now() - t0)} s\n`);
        expect(c.hasVip(n2)).toBe(false);
        await c.waitFor('checks from both nodes', MOVE_MS, () => c.checksFrom(n1) > checks[0]! && c.checksFrom(n2) > checks[1]!);
        // Both roles on both nodes, two sync ids: node1 sends 1 and receives 2, node2 the reverse.
        await syncIs(n1, ['master:1@eth0', 'backup:2@eth0']);
        await syncIs(n2, ['master:2@eth0', 'backup:1@eth0']);
      }, MOVE_MS + 10_000);

      it('graceful failover: only the VIP moves, node2 kept its full table all along; node1 table purged', async () => {
        await failoverTimeline(c, `${agent.id} clone, graceful`, n1, n2, REALS, () => c.stopPacemaker(n1), true);
        await c.waitFor('node1 table purged and VIP gone', MOVE_MS, () => !c.hasVip(n1) && !c.table(n1).includes(VIP));
        // node2's roles ran on through the failover; node1's daemon stopped and took its own with it.
        await syncIs(n2, ['master:2@eth0', 'backup:1@eth0']);
        await syncIs(n1, []);
      }, MOVE_MS + 10_000);

      it('node1 rejoins and rebuilds its table while the VIP stays on node2; a real dies: both tables drop it; node2 goes standby: the VIP moves back', async () => {
        let vipLeft = false;
        const watch = setInterval(() => { if (!c.hasVip(n2)) vipLeft = true; }, 100);
        try {
          await rejoin(n1, n2);
          await c.waitFor('node1 full table again', MOVE_MS, () => fullTable(c.table(n1), REALS));
          await sleep(2000);
        } finally { clearInterval(watch); }
        expect(vipLeft, 'the VIP stayed on node2 while node1 came back').toBe(false);
        expect(c.hasVip(n1)).toBe(false);
        await syncIs(n1, ['master:1@eth0', 'backup:2@eth0']);
        const dead = REALS[1]!;
        const alive = REALS.filter((r) => r !== dead);
        c.stopReal(dead);
        await c.waitFor('both tables without the dead real', MOVE_MS, () => fullTable(c.table(n1), alive) && fullTable(c.table(n2), alive));
        await failoverTimeline(c, `${agent.id} clone, node2 standby, ${dead} dead`, n2, n1, alive, () => c.setStandby(n2, true), true);
        await c.waitFor('node2 table purged (a standby node runs no resource)', MOVE_MS, () => !c.hasVip(n2) && !c.table(n2).includes(VIP));
        await syncIs(n1, ['master:1@eth0', 'backup:2@eth0']);
        c.startReal(dead);
        await remove(n1, [vip, clone], [`primitive id="${vip}"`, `clone id="${clone}"`], constraints);
        c.setStandby(n2, false);
        stopAllSync();
      }, BOOT_MS + MOVE_MS * 3);
    });
  }
});

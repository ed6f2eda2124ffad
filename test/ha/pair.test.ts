/**
 * Two directors under pacemaker + corosync (issue 22, part 1-2): the group (IPaddr2 VIP + ldirectord) with
 * the stock ocf:heartbeat:ldirectord agent and with the project's own agent (compat/ocf), both running this
 * project's daemon against the fake ipvsadm of each node. See cluster.ts for the namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, REALS, ROOT, VIP, skipReason, sleep, type Node } from './cluster.js';

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

function fullTable(t: string, reals: readonly string[]): boolean {
  return t.includes(`-A -t ${VIP}:80`) && reals.every((r) => t.includes(`-r ${r}:80`)) && REALS.filter((r) => !reals.includes(r)).every((r) => !t.includes(`-r ${r}:80`));
}

describe.skipIf(reason !== undefined)('pacemaker + corosync pair', () => {
  let c: Cluster;
  let n1: Node;
  let n2: Node;
  const cf = (): string => join(c.dir, 'ldirectord.cf');

  beforeAll(async () => {
    c = new Cluster();
    [n1, n2] = c.nodes as [Node, Node];
    try {
      c.setupNetwork();
      writeFileSync(cf(), `checktimeout=2\ncheckinterval=2\nautoreload=no\nquiescent=no\nlogfile="/var/log/ldirectord.log"\nvirtual=${VIP}:80\n${REALS.map((r) => `\treal=${r}:80 gate\n`).join('')}\tscheduler=rr\n\tprotocol=tcp\n\tchecktype=connect\n`);
      const t0 = Date.now();
      c.startNodes();
      await c.waitBooted(60_000);
      await c.waitFor('both nodes online', BOOT_MS, () => c.onlineNodes(n1).length === 2, 1000);
      c.exec(n1, 'crm_attribute -t crm_config -n stonith-enabled -v false && crm_attribute -t rsc_defaults -n resource-stickiness -v 200');
      process.stdout.write(`test:ha: cluster of 2 nodes online in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      c.stop();
      throw e;
    }
  }, BOOT_MS + 70_000);

  afterAll(() => c?.stop());

  for (const agent of [
    { label: 'stock ocf:heartbeat:ldirectord', id: 'stock', provider: 'heartbeat' },
    { label: "the project's agent (compat/ocf)", id: 'own', provider: 'ldirectord-ts' },
  ]) {
    describe(agent.label, () => {
      const g = `g-${agent.id}`;
      const ld = `ld-${agent.id}`;
      // Who is active now.
      let active: Node;
      let standby: Node;
      let standbyLogFrom = 0;

      it('the group starts on node1: VIP and full table there, neither on node2, node2 changed no table', async () => {
        const xml = `<group id="${g}">
  <primitive id="vip-${agent.id}" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="vip-${agent.id}-ia">
      <nvpair id="vip-${agent.id}-ip" name="ip" value="${VIP}"/><nvpair id="vip-${agent.id}-nm" name="cidr_netmask" value="24"/><nvpair id="vip-${agent.id}-nic" name="nic" value="eth0"/>
    </instance_attributes>
    <operations><op id="vip-${agent.id}-mon" name="monitor" interval="10s" timeout="20s"/></operations>
  </primitive>
  <primitive id="${ld}" class="ocf" provider="${agent.provider}" type="ldirectord">
    <instance_attributes id="${ld}-ia">
      <nvpair id="${ld}-cf" name="configfile" value="${cf()}"/><nvpair id="${ld}-bin" name="ldirectord" value="${join(ROOT, 'bin/ldirectord.js')}"/>
    </instance_attributes>
    <operations>
      <op id="${ld}-start" name="start" interval="0s" timeout="15s"/><op id="${ld}-stop" name="stop" interval="0s" timeout="15s"/>
      <op id="${ld}-mon" name="monitor" interval="20s" timeout="10s"/>
    </operations>
  </primitive>
</group>`;
        const n2LogFrom = c.ipvsadmLog(n2).length;
        c.exec(n1, `cibadmin -C -o resources -X '${xml}' && cibadmin -C -o constraints -X '<rsc_location id="loc-${agent.id}" rsc="${g}" node="node1" score="100"/>'`);
        const t0 = Date.now();
        await c.waitFor('VIP and full table on node1', MOVE_MS, () => c.hasVip(n1) && fullTable(c.table(n1), REALS));
        process.stdout.write(`test:ha [${agent.id}] group started on node1 in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        expect(c.hasVip(n2)).toBe(false);
        expect(c.table(n2)).not.toContain(VIP);
        expect(c.ipvsadmLog(n2).slice(n2LogFrom).filter(touchesTable)).toEqual([]);
        active = n1;
        standby = n2;
      }, MOVE_MS + 10_000);

      it('graceful failover (pacemaker stopped on node1) moves VIP and table; node1 table purged', async () => {
        const t0 = Date.now();
        c.stopPacemaker(n1);
        let gone = 0;
        await c.waitFor('VIP and full table on node2', MOVE_MS, () => {
          if (!gone && !c.hasVip(n1)) gone = Date.now();
          return c.hasVip(n2) && fullTable(c.table(n2), REALS);
        }, 100);
        const done = Date.now();
        if (!gone) gone = done;
        process.stdout.write(`test:ha [${agent.id}] graceful failover node1 -> node2: ${((done - gone) / 1000).toFixed(1)} s after node1 let the VIP go, ${((done - t0) / 1000).toFixed(1)} s after pacemaker was told to stop (goal 5 s)\n`);
        await c.waitFor('node1 table purged and VIP gone', MOVE_MS, () => !c.hasVip(n1) && !c.table(n1).includes(VIP));
        await sleep(1000);
        standbyLogFrom = c.ipvsadmLog(n1).length;
        active = n2;
        standby = n1;
      }, MOVE_MS + 10_000);

      it('kill -9 of the daemon on the active node is seen by the monitor and recovered', async () => {
        const pidOf = (): string => c.daemonPid(active);
        const before = pidOf();
        expect(before).toMatch(/^\d+/);
        const t0 = Date.now();
        c.exec(active, `kill -9 ${before}`);
        const after = await c.waitFor('a new daemon on the active node', MOVE_MS, () => { const p = pidOf(); return p !== '' && p !== before ? p : undefined; }, 500);
        await c.waitFor('full table on the active node', MOVE_MS, () => c.hasVip(active) && fullTable(c.table(active), REALS));
        process.stdout.write(`test:ha [${agent.id}] kill -9 of the daemon (pid ${before} in ${active.name}) recovered (pid ${after}) in ${((Date.now() - t0) / 1000).toFixed(1)} s (monitor interval 20 s)\n`);
      }, MOVE_MS + 10_000);

      it('a real dies during the failover back: the new active table has only the live real', async () => {
        c.startPacemaker(standby);
        await c.waitFor('node1 back online', BOOT_MS, () => c.onlineNodes(active).length === 2, 1000);
        await sleep(2000);
        expect(c.hasVip(active)).toBe(true); // stickiness keeps the group where it is
        // The standby (its daemon stopped by the failover) ran nothing that changes its table since.
        expect(c.ipvsadmLog(standby).slice(standbyLogFrom).filter(touchesTable)).toEqual([]);
        const dead = REALS[1]!;
        const alive = REALS.filter((r) => r !== dead);
        const t0 = Date.now();
        c.stopReal(dead);
        c.stopPacemaker(active);
        let gone = 0;
        await c.waitFor(`VIP and table with ${alive.join(',')} only on ${standby.name}`, MOVE_MS, () => {
          if (!gone && !c.hasVip(active)) gone = Date.now();
          return c.hasVip(standby) && fullTable(c.table(standby), alive);
        }, 100);
        const done = Date.now();
        if (!gone) gone = done;
        process.stdout.write(`test:ha [${agent.id}] failover ${active.name} -> ${standby.name} with ${dead} dead: ${((done - gone) / 1000).toFixed(1)} s after the VIP left, ${((done - t0) / 1000).toFixed(1)} s after pacemaker was told to stop\n`);
        await c.waitFor('old active table purged', MOVE_MS, () => !c.hasVip(active) && !c.table(active).includes(VIP));
        // Clean up for the next agent: the group stopped and deleted, the real back, pacemaker back.
        const old = active;
        active = standby;
        standby = old;
        c.startReal(dead);
        c.exec(active, `crm_resource -r ${g} --meta -p target-role -v Stopped`);
        await c.waitFor('group stopped', MOVE_MS, () => !c.hasVip(active) && !c.table(active).includes(VIP));
        c.exec(active, `cibadmin -D -o constraints -X '<rsc_location id="loc-${agent.id}"/>' && cibadmin -D -o resources -X '<group id="${g}"/>'`);
        c.startPacemaker(standby);
        await c.waitFor('both nodes online again', BOOT_MS, () => c.onlineNodes(active).length === 2, 1000);
      }, BOOT_MS * 2 + MOVE_MS * 3);
    });
  }
});

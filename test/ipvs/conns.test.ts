// ActiveConn/InActConn: the simulated kernel lists them, the parser reads them, the planner ignores them.
import { describe, expect, it } from 'vitest';
import { emptyState, formatList, runIpvsadm, toIpvsTable } from '../../src/ipvs-sim/index.js';
import { parseList, parseListing } from '../../src/ipvs/parse.js';
import { planChanges } from '../../src/ipvs/plan.js';

function state() {
  const s = emptyState();
  runIpvsadm(s, ['-R'], { stdin: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3\n-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1\n' });
  Object.assign(s.services[0].dests[0], { activeConns: 12, inactConns: 345 });
  return s;
}

describe('connection counts of a table read', () => {
  it('are listed, parsed and carried by the simulated driver; absent when 0', () => {
    const s = state();
    const text = formatList(s, { numeric: true });
    expect(text).toMatch(/10\.0\.0\.2:80 +Route +3 +12 +345/);
    const parsed = parseList(text).services[0].dests;
    expect(parsed.find((d) => d.rs === '10.0.0.2:80')).toMatchObject({ activeConns: 12, inactConns: 345 });
    const idle = parsed.find((d) => d.rs === '10.0.0.3:80')!;
    expect('activeConns' in idle || 'inactConns' in idle).toBe(false);
    const thr = formatList(s, { numeric: true, thresholds: true });
    expect(parseListing(text, thr).services[0].dests[0]).toMatchObject({ activeConns: 12, inactConns: 345 });
    expect(toIpvsTable(s).services[0].dests[0]).toMatchObject({ activeConns: 12, inactConns: 345 });
  });
  it('never make the planner change an entry', () => {
    const t = toIpvsTable(state());
    const desired = { services: t.services.map((e) => ({ service: e.service, dests: e.dests.map(({ activeConns: _a, inactConns: _i, ...d }) => d) })), remove: [] };
    expect(planChanges(t, desired)).toEqual([]);
  });
});

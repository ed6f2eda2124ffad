import { describe, expect, it } from 'vitest';
import { canonicalAddrPort, planChanges } from '../../src/ipvs/plan.js';
import { renderRestoreLine } from '../../src/ipvs/render.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import type { DesiredTable, IpvsDest, IpvsService } from '../../src/ipvs/types.js';

const svc = (over: Partial<IpvsService> = {}): IpvsService => ({ proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr', ...over });
const dest = (rs: string, over: Partial<IpvsDest> = {}): IpvsDest => ({
  rs, forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...over,
});
const lines = (d: SimDriver, desired: DesiredTable) => d.read().then((t) => planChanges(t, desired).map(renderRestoreLine));

/** Plans, applies through the simulated ipvsadm, and checks the result is a fixed point. */
async function converge(d: SimDriver, desired: DesiredTable): Promise<string[]> {
  const planned = await lines(d, desired);
  const res = await d.sync(desired);
  expect(res.commands.filter((c) => !c.ok)).toEqual([]);
  expect(await lines(d, desired)).toEqual([]);
  return planned;
}

describe('planChanges', () => {
  it('creates a service and its reals, service first; nothing more once applied', async () => {
    const d = new SimDriver();
    const desired: DesiredTable = {
      services: [{ service: svc({ persistent: 300 }), dests: [dest('10.0.0.2:80', { weight: 3 }), dest('10.0.0.3:8080', { forward: 'masq', upperThreshold: 100, lowerThreshold: 10 })] }],
      remove: [],
    };
    expect(await converge(d, desired)).toEqual([
      '-A -t 10.0.0.1:80 -s wrr -p 300',
      '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3',
      '-a -t 10.0.0.1:80 -r 10.0.0.3:8080 -m -w 1 -x 100 -y 10',
    ]);
    expect(d.renderThresholds()).toContain(`  -> ${'10.0.0.3:8080'.padEnd(28)} 100        10 `);
  });

  it('quiesces with an edit that sends every field (thresholds kept, not reset)', async () => {
    const d = new SimDriver({ restore: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 5 -x 50 -y 5\n' });
    const planned = await converge(d, {
      services: [{ service: svc(), dests: [dest('10.0.0.2:80', { forward: 'ipip', weight: 0, upperThreshold: 50, lowerThreshold: 5 })] }],
      remove: [],
    });
    expect(planned).toEqual(['-e -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 0 -x 50 -y 5']);
    expect(d.renderThresholds()).toContain(`  -> ${'10.0.0.2:80'.padEnd(28)} 50         5 `);
  });

  it('removes reals that are not desired, and services listed in remove; leaves unmanaged services alone', async () => {
    const d = new SimDriver({
      restore: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1\n' +
        '-A -t 10.0.0.9:80 -s rr\n-A -u 10.0.0.8:53 -s rr\n',
    });
    const planned = await converge(d, {
      services: [{ service: svc(), dests: [dest('10.0.0.3:80')] }],
      remove: [{ proto: 'tcp', vaddr: '10.0.0.9:80' }, { proto: 'tcp', vaddr: '10.0.0.77:80' }],
    });
    expect(planned).toEqual(['-D -t 10.0.0.9:80', '-d -t 10.0.0.1:80 -r 10.0.0.2:80']);
    expect(d.save()).toBe('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1\n-A -u 10.0.0.8:53 -s rr\n');
  });

  it('fallback switch: adds before it deletes, so the service is never empty in between', async () => {
    const d = new SimDriver({ restore: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n' });
    const planned = await converge(d, { services: [{ service: svc(), dests: [dest('127.0.0.1:80', { weight: 1 })] }], remove: [] });
    expect(planned).toEqual(['-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1', '-d -t 10.0.0.1:80 -r 10.0.0.2:80']);
    // and back: the live real is in before the sorry server leaves
    const back = await converge(d, { services: [{ service: svc(), dests: [dest('10.0.0.2:80')] }], remove: [] });
    expect(back).toEqual(['-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1', '-d -t 10.0.0.1:80 -r 127.0.0.1:80']);
  });

  it('edits a service whose scheduler or persistence changed (and only then)', async () => {
    const d = new SimDriver({ restore: '-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.255\n' });
    expect(await lines(d, { services: [{ service: svc({ persistent: 300 }), dests: [] }], remove: [] })).toEqual([]);
    expect(await converge(d, { services: [{ service: svc({ scheduler: 'rr', persistent: 60, netmask: '255.255.255.0' }), dests: [] }], remove: [] }))
      .toEqual(['-E -t 10.0.0.1:80 -s rr -p 60 -M 255.255.255.0']);
    expect(await converge(d, { services: [{ service: svc({ scheduler: 'rr' }), dests: [] }], remove: [] })).toEqual(['-E -t 10.0.0.1:80 -s rr']);
    expect(d.render()).toContain('TCP  10.0.0.1:80 rr\n');
  });

  it('port rewrite is no difference: a gate real on another port is already in place', async () => {
    const d = new SimDriver({ restore: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g -w 1\n' });
    expect(d.render()).toContain('  -> 10.0.0.2:80 ');
    expect(await lines(d, { services: [{ service: svc(), dests: [dest('10.0.0.2:8080')] }], remove: [] })).toEqual([]);
    // a real without port (port 0) takes the service's
    expect(await lines(d, { services: [{ service: svc(), dests: [dest('10.0.0.2:0', { forward: 'masq' })] }], remove: [] })).toEqual([
      '-e -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1',
    ]);
    // masq keeps the port: 10.0.0.2:8080 masq is another destination
    expect(await converge(d, { services: [{ service: svc(), dests: [dest('10.0.0.2:8080', { forward: 'masq' })] }], remove: [] })).toEqual([
      '-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 1',
      '-d -t 10.0.0.1:80 -r 10.0.0.2:80',
    ]);
  });

  it('fwm (IPv4 and IPv6) and IPv6 services, addresses compared in canonical form', async () => {
    const d = new SimDriver();
    const desired: DesiredTable = {
      services: [
        { service: { proto: 'fwm', vaddr: '3', scheduler: 'rr', persistent: 300 }, dests: [dest('127.0.0.31:8081'), dest('127.0.0.32:0')] },
        { service: { proto: 'fwm', vaddr: '3', ipv6Fwm: true, scheduler: 'rr' }, dests: [dest('[::1]:0', { forward: 'masq' })] },
        { service: { proto: 'tcp', vaddr: '[2001:db8:0::1]:443', scheduler: 'wlc', persistent: 300, netmask: '64' }, dests: [dest('[2001:db8::0:10]:8443', { forward: 'masq', weight: 2 })] },
      ],
      remove: [],
    };
    await converge(d, desired);
    expect(d.render()).toBe([
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'TCP  [2001:db8::1]:443 wlc persistent 300 mask 64',
      '  -> [2001:db8::10]:8443          Masq    2      0          0         ',
      'FWM  3 rr persistent 300',
      '  -> 127.0.0.31:8081              Route   1      0          0         ',
      '  -> 127.0.0.32:0                 Route   1      0          0         ',
      'FWM  3 IPv6 rr',
      '  -> [::1]:0                      Masq    1      0          0         ',
      '',
    ].join('\n'));
  });

  it('SimDriver reports a refused command with ipvsadm\'s message and goes on', async () => {
    const d = new SimDriver();
    const res = await d.apply([
      { op: 'add-dest', proto: 'tcp', vaddr: '10.0.0.1:80', dest: dest('10.0.0.2:80') },
      { op: 'add-service', service: svc() },
    ]);
    expect(res.map((r) => [r.ok, r.error ?? '', r.commandLine])).toEqual([
      [false, 'Service not defined', 'ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1'],
      [true, '', 'ipvsadm -A -t 10.0.0.1:80 -s wrr'],
    ]);
  });
});

describe('canonicalAddrPort', () => {
  it('writes ip:port as ipvsadm -n lists it; a canonical dotted quad is kept as it is', () => {
    expect(canonicalAddrPort('127.4.0.1:2000')).toBe('127.4.0.1:2000');
    expect(canonicalAddrPort('255.255.255.255:65535')).toBe('255.255.255.255:65535');
    expect(canonicalAddrPort('127.004.0.1:80')).toBe('127.4.0.1:80'); // octal part, as inet_aton reads it
    expect(canonicalAddrPort('10.0.0.1:080')).toBe('10.0.0.1:80');
    expect(canonicalAddrPort('1.2.3:4')).toBe('1.2.0.3:4');
    expect(canonicalAddrPort('0x7f.1:80')).toBe('127.0.0.1:80');
    expect(canonicalAddrPort('[2001:DB8:0:0::1]:80')).toBe('[2001:db8::1]:80');
  });
});

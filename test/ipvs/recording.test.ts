import { describe, expect, it } from 'vitest';
import { RecordingDriver } from '../../src/ipvs/recording.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import type { IpvsCommand, IpvsTable } from '../../src/ipvs/types.js';

const addService: IpvsCommand = { op: 'add-service', service: { proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr' } };

describe('RecordingDriver', () => {
  it('keeps the table a batch listed back as the last table read (show, status page); a driver that lists nothing back leaves the last read', async () => {
    let now = 1000;
    const sim = new SimDriver();
    let listed: IpvsTable | undefined;
    const inner = {
      read: () => sim.read(),
      apply: async (cmds: readonly IpvsCommand[]) => {
        const r = await sim.apply(cmds);
        listed = await sim.read();
        return r;
      },
      appliedTable: () => listed,
    };
    const d = new RecordingDriver(inner, () => now);
    expect(d.last()).toBeUndefined();
    await d.read();
    expect(d.last()).toEqual({ table: { services: [] }, at: 1000 });
    now = 2000;
    await d.apply([addService]);
    expect(d.last()?.at).toBe(2000);
    expect(d.last()?.table.services.map((s) => s.service.vaddr)).toEqual(['10.0.0.1:80']);
    expect(d.appliedTable()).toBe(listed);

    const plain = new RecordingDriver(new SimDriver(), () => now);
    await plain.read();
    now = 3000;
    await plain.apply([addService]);
    expect(plain.last()).toEqual({ table: { services: [] }, at: 2000 });
    expect(plain.appliedTable()).toBeUndefined();
  });
});

// A small stand-in director and simulated table for testing the demo's own code (servers, script,
// drawing) independently of the real engine: HTTP GET checks, remove on failure, fallback when none is up.
// Passed to runDemo() in-process as its wiring; the real parser is used.
import http from 'node:http';
import type { Config } from '../../src/model/config.js';
import type { Director, EngineEvent } from '../../src/engine/types.js';
import type { IpvsCommand, IpvsDriver, IpvsTable } from '../../src/ipvs/types.js';
import type { SimDriverLike, Wiring } from '../../src/daemon/wiring.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- a loose stand-in: it reads only the fields it needs */
type Loose = any;

class MiniSim implements SimDriverLike {
  private readonly services = new Map<string, { service: Loose; dests: Map<string, Loose> }>();
  async read(): Promise<IpvsTable> {
    return { services: [...this.services.values()].map((s) => ({ service: s.service, dests: [...s.dests.values()] })) } as IpvsTable;
  }
  async apply(cmds: readonly IpvsCommand[]): Promise<Loose> {
    for (const c of cmds as Loose[]) {
      if (c.op === 'add-service') this.services.set(c.service.vaddr, { service: c.service, dests: new Map() });
      else if (c.op === 'delete-service') this.services.delete(c.vaddr);
      else if (c.op === 'add-dest' || c.op === 'edit-dest') this.services.get(c.vaddr)?.dests.set(c.dest.rs, c.dest);
      else if (c.op === 'delete-dest') this.services.get(c.vaddr)?.dests.delete(c.rs);
    }
    return cmds.map((command) => ({ command, ok: true, commandLine: command.op }));
  }
  render(): string {
    const out = ['Prot LocalAddress:Port Scheduler', '  -> RemoteAddress:Port   Forward Weight'];
    for (const s of this.services.values()) {
      out.push(`TCP  ${s.service.vaddr} ${s.service.scheduler}`);
      for (const d of s.dests.values()) out.push(`  -> ${String(d.rs).padEnd(20)} Masq    ${d.weight}`);
    }
    return out.join('\n');
  }
}

function get(url: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: ms, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
  });
}

function createMiniDirector({ driver }: { driver: IpvsDriver }): Director {
  const listeners: ((e: EngineEvent) => void)[] = [];
  const emit = (e: Loose) => listeners.forEach((l) => l(e as EngineEvent));
  let timer: NodeJS.Timeout | undefined;
  let config: Loose;
  const pass = async () => {
    for (const v of config.virtuals as Loose[]) {
      const t = await driver.read();
      const cmds: Loose[] = [];
      if (!t.services.some((s) => s.service.vaddr === v.vaddr)) cmds.push({ op: 'add-service', service: { proto: 'tcp', vaddr: v.vaddr, scheduler: v.scheduler } });
      const dests = new Set(t.services.find((s) => s.service.vaddr === v.vaddr)?.dests.map((d) => d.rs) ?? []);
      let anyUp = false;
      for (const r of v.reals as Loose[]) {
        const rs = `${r.ip}:${r.port}`;
        const ok = (await get(`http://${rs}${v.request}`, v.negotiatetimeout * 1000)).includes(v.receive);
        anyUp ||= ok;
        if (ok && !dests.has(rs)) {
          cmds.push({ op: 'add-dest', proto: 'tcp', vaddr: v.vaddr, dest: { rs, forward: r.forward, weight: r.weight, upperThreshold: 0, lowerThreshold: 0 } });
          emit({ type: 'real-state', id: `${rs} (${v.vid})`, vid: v.vid, rs, state: 'up', message: `Added real server: ${rs} (${v.vid}) (Weight set to ${r.weight})` });
        } else if (!ok && dests.has(rs)) {
          cmds.push({ op: 'delete-dest', proto: 'tcp', vaddr: v.vaddr, rs });
          emit({ type: 'real-state', id: `${rs} (${v.vid})`, vid: v.vid, rs, state: 'removed', message: `Deleted real server: ${rs} (${v.vid})` });
        }
      }
      const fb = v.fallback && `${v.fallback.ip}:${v.fallback.port}`;
      if (fb && !anyUp && !dests.has(fb)) {
        cmds.push({ op: 'add-dest', proto: 'tcp', vaddr: v.vaddr, dest: { rs: fb, forward: v.fallback.forward, weight: 1, upperThreshold: 0, lowerThreshold: 0 } });
        emit({ type: 'fallback', vid: v.vid, active: true, message: `Added fallback server: ${fb} (${v.vid}) (Weight set to 1)` });
      } else if (fb && anyUp && dests.has(fb)) {
        cmds.push({ op: 'delete-dest', proto: 'tcp', vaddr: v.vaddr, rs: fb });
        emit({ type: 'fallback', vid: v.vid, active: false, message: `Deleted fallback server: ${fb} (${v.vid})` });
      }
      await driver.apply(cmds);
    }
  };
  const loop = async () => {
    await pass();
    timer = setTimeout(() => void loop(), config.global.checkinterval * 1000);
  };
  return {
    async start(c: Config) {
      config = c;
      await loop();
    },
    async reload(c: Config) {
      config = c;
    },
    async stop() {
      clearTimeout(timer);
      for (const v of config.virtuals as Loose[]) await driver.apply([{ op: 'delete-service', proto: 'tcp', vaddr: v.vaddr } as Loose]);
    },
    onEvent: (l) => void listeners.push(l),
    snapshot: () => ({ reals: [], fallbacks: [], cycle: { count: 0, lastDurationMs: 0, lagMs: 0 }, ipvsadm: { runs: 0, failures: 0 } }) as Loose,
    cycleCount: () => 0,
    // The demo sends no admin commands; the Director interface wants them answered.
    admin: async () => ({ ok: false as const, message: 'the mini director takes no admin commands' }),
    adminEntries: () => [],
    healthEntries: () => [],
  };
}

/** The demo's parts: the real parser, this director and table. */
export const miniParts: Partial<Wiring> = {
  createDirector: (opts) => createMiniDirector(opts),
  createSimDriver: () => new MiniSim(),
};

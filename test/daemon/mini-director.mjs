// A small stand-in director and simulated table for testing the demo's own code (servers, script,
// drawing) independently of the real engine: HTTP GET checks, remove on failure, fallback when none is up.
// Loaded through LDIRECTORD_TEST_DEPS; the real parser is used.
import http from 'node:http';
export { parseConfigFile } from '../../dist/config/parse.js';
export { dumpConfig, formatWarning } from '../../dist/config/dump.js';

export class SimDriver {
  constructor() {
    this.services = new Map();
  }
  async read() {
    return { services: [...this.services.values()].map((s) => ({ service: s.service, dests: [...s.dests.values()] })) };
  }
  async apply(cmds) {
    for (const c of cmds) {
      if (c.op === 'add-service') this.services.set(c.service.vaddr, { service: c.service, dests: new Map() });
      else if (c.op === 'delete-service') this.services.delete(c.vaddr);
      else if (c.op === 'add-dest' || c.op === 'edit-dest') this.services.get(c.vaddr)?.dests.set(c.dest.rs, c.dest);
      else if (c.op === 'delete-dest') this.services.get(c.vaddr)?.dests.delete(c.rs);
    }
    return cmds.map((command) => ({ command, ok: true, commandLine: command.op }));
  }
  render() {
    const out = ['Prot LocalAddress:Port Scheduler', '  -> RemoteAddress:Port   Forward Weight'];
    for (const s of this.services.values()) {
      out.push(`TCP  ${s.service.vaddr} ${s.service.scheduler}`);
      for (const d of s.dests.values()) out.push(`  -> ${d.rs.padEnd(20)} Masq    ${d.weight}`);
    }
    return out.join('\n');
  }
}

function get(url, ms) {
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

export function createDirector({ driver }) {
  const listeners = [];
  const emit = (e) => listeners.forEach((l) => l(e));
  let timer;
  let config;
  const pass = async () => {
    for (const v of config.virtuals) {
      const t = await driver.read();
      const cmds = [];
      if (!t.services.some((s) => s.service.vaddr === v.vaddr)) cmds.push({ op: 'add-service', service: { proto: 'tcp', vaddr: v.vaddr, scheduler: v.scheduler } });
      const dests = new Set(t.services.find((s) => s.service.vaddr === v.vaddr)?.dests.map((d) => d.rs) ?? []);
      let anyUp = false;
      for (const r of v.reals) {
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
    timer = setTimeout(loop, config.global.checkinterval * 1000);
  };
  return {
    async start(c) {
      config = c;
      await loop();
    },
    async reload(c) {
      config = c;
    },
    async stop() {
      clearTimeout(timer);
      for (const v of config.virtuals) await driver.apply([{ op: 'delete-service', proto: 'tcp', vaddr: v.vaddr }]);
    },
    onEvent: (l) => listeners.push(l),
    snapshot: () => ({ reals: [], fallbacks: [], cycle: { count: 0, lastDurationMs: 0, lagMs: 0 }, ipvsadm: { runs: 0, failures: 0 } }),
  };
}

// A scripted stand-in for the parser and the director, passed to the real command line by the scripted
// launcher (./ldirectord.js), so the lifecycle tests (pid files, signals, reload, autoreload, execute,
// logging) do not depend on health-check timing. It understands the global directives the daemon acts
// on and counts virtuals. LDIRECTORD_FAKE_FAIL_CHILD (read here, in test code) fails the daemon child's parse.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../dist/util/errors.js';

const GLOBAL = new Set(['logfile', 'autoreload', 'callback', 'execute', 'supervised', 'fork', 'checkinterval', 'quiescent']);

export function parseConfigFile(file) {
  if (process.env.LDIRECTORD_FAKE_FAIL_CHILD && process.env.LDIRECTORD_DAEMON_CHILD === '1') {
    throw new ConfigError(file, 7, 'scripted failure in the daemon child');
  }
  const text = readFileSync(file, 'utf8');
  const g = {
    checkinterval: 10, checkcount: 1, failurecount: 1, autoreload: false, logfile: { kind: 'file', path: '/var/log/ldirectord.log' },
    emailalert: '', emailalertfreq: 0, emailalertstatus: ['starting', 'running', 'stopping', 'reloading'], execute: [],
    supervised: false, fork: false, quiescent: false, readdquiescent: false, cleanstop: true,
  };
  const virtuals = [];
  const warnings = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*(#.*)?$/.test(raw)) return;
    if (/^\s{4,}\S/.test(raw) && virtuals.length) {
      virtuals[virtuals.length - 1].lines.push(raw.trim());
      return;
    }
    const m = /^(\w+)\s*=\s*(.*)$/.exec(raw);
    if (m && m[1] === 'virtual') {
      virtuals.push({ vid: `tcp:${m[2]}`, vaddr: m[2], lines: [], reals: [], pos: { file, line } });
      return;
    }
    if (!m || !GLOBAL.has(m[1])) throw new ConfigError(file, line, `Unknown command ${raw}`, raw);
    const [, k, v] = m;
    if (k === 'logfile') {
      const q = /^"(.*)"$/.exec(v);
      if (!q) throw new ConfigError(file, line, `Unknown command ${raw}`, raw);
      g.logfile = q[1].startsWith('/') ? { kind: 'file', path: q[1] } : { kind: 'syslog', facility: q[1] };
    } else if (k === 'callback') {
      const q = /^"(.*)"$/.exec(v);
      if (!q) throw new ConfigError(file, line, `Unknown command ${raw}`, raw);
      g.callback = q[1];
    } else if (k === 'execute') g.execute.push(v);
    else if (k === 'checkinterval') g.checkinterval = Number(/\d+/.exec(v)[0]);
    else if (v !== 'yes' && v !== 'no') throw new ConfigError(file, line, `${k} must be yes or no`, raw);
    else g[k] = v === 'yes';
  });
  if (/^warnme/m.test(text)) warnings.push({ file, line: 1, message: 'test warning' });
  return { file, global: g, virtuals, warnings };
}

export function formatWarning(w) {
  return `${w.file}:${w.line}: warning: ${w.message}`;
}

export function dumpConfig(config) {
  return { file: config.file, global: config.global, virtuals: config.virtuals.map((v) => v.vid) };
}

export function createDirector() {
  const listeners = [];
  const emit = (message) => listeners.forEach((l) => l({ type: 'log', level: 'info', message }));
  let vids = [];
  return {
    async start(c) {
      vids = c.virtuals.map((v) => v.vid);
      emit(`fake director: start ${vids.join(',')}`);
    },
    async reload(c) {
      vids = c.virtuals.map((v) => v.vid);
      emit(`fake director: reload ${vids.join(',')}`);
    },
    async stop() {
      emit('fake director: stop');
    },
    onEvent(l) {
      listeners.push(l);
    },
    cycleCount() {
      return 1;
    },
    snapshot() {
      return { reals: [], fallbacks: vids.map((vid) => ({ vid, active: false })), cycle: { count: 1, lastDurationMs: 0, lagMs: 0 }, ipvsadm: { runs: 0, failures: 0 } };
    },
  };
}

class NoTable {
  async read() {
    return { services: [] };
  }
  async apply() {
    return [];
  }
  render() {
    return '';
  }
}

/** The parts main() takes in place of the real ones (src/daemon/wiring.ts). */
export const scriptedParts = {
  parseConfig: parseConfigFile,
  dumpConfig,
  formatWarning,
  createDirector,
  selectIpvsDriver: async () => ({ driver: new NoTable(), selection: { driver: 'ipvsadm', requested: 'auto', reason: 'scripted' } }),
  createSimDriver: () => new NoTable(),
};

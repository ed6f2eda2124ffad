import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { renderMetrics, writeMetricsFile, parseListen } from '../../src/observe/metrics.js';
import { serveStatus } from '../../src/observe/http.js';
import type { DirectorSnapshot } from '../../src/engine/types.js';

const snap: DirectorSnapshot = {
  reals: [
    { vid: 'tcp:127.0.0.10:80', rs: '127.0.0.11:80', state: 'up', weight: 3, failures: 0, lastCheck: 1, lastResult: { ok: true, status: 'ok', message: 'HTTP/1.1 200 OK', durationMs: 12 } },
    { vid: 'tcp:127.0.0.10:80', rs: '127.0.0.12:80', state: 'quiescent', weight: 0, failures: 4, lastResult: { ok: false, status: 'l4-refused', message: 'connect: ECONNREFUSED', durationMs: 1 } },
    { vid: 'fwm:7', rs: '127.0.0.13:0', state: 'down', weight: 0, failures: 1 },
  ],
  fallbacks: [{ vid: 'fwm:7', active: true }],
  cycle: { count: 42, lastDurationMs: 1500, lagMs: 3 },
  ipvsadm: { runs: 17, failures: 1 },
};

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('metrics', () => {
  it('exposes per-real, per-virtual and daemon values', () => {
    const text = renderMetrics(snap, { mailsSent: 2, mailsFailed: 0 });
    expect(text).toContain('ldirectord_real_up{virtual="tcp:127.0.0.10:80",real="127.0.0.11:80"} 1');
    expect(text).toContain('ldirectord_real_up{virtual="tcp:127.0.0.10:80",real="127.0.0.12:80"} 0');
    expect(text).toContain('ldirectord_real_weight{virtual="tcp:127.0.0.10:80",real="127.0.0.11:80"} 3');
    expect(text).toContain('ldirectord_real_failures{virtual="tcp:127.0.0.10:80",real="127.0.0.12:80"} 4');
    expect(text).toContain('ldirectord_real_check_duration_seconds{virtual="tcp:127.0.0.10:80",real="127.0.0.11:80"} 0.012');
    expect(text).toContain('ldirectord_virtual_active_reals{virtual="tcp:127.0.0.10:80"} 1');
    expect(text).toContain('ldirectord_virtual_active_reals{virtual="fwm:7"} 0');
    expect(text).toContain('ldirectord_virtual_fallback_active{virtual="fwm:7"} 1');
    expect(text).toContain('ldirectord_ipvsadm_runs_total 17');
    expect(text).toContain('ldirectord_check_cycle_duration_seconds 1.5');
    expect(text).toContain('ldirectord_scheduler_lag_seconds 0.003');
  });

  it.skipIf(!promtool)('passes promtool check metrics', () => {
    const out = spawnSync('promtool', ['check', 'metrics'], { input: renderMetrics(snap, { mailsSent: 1, mailsFailed: 1 }) });
    expect(out.stderr.toString() + out.stdout.toString()).toBe('');
    expect(out.status).toBe(0);
  });
  if (!promtool) console.warn('metrics: promtool not installed (Debian package prometheus), promtool validation skipped');

  it('is scraped over HTTP on a local address and written atomically as a textfile', async () => {
    let n = 0;
    const server = await serveStatus(
      '127.0.0.1:0',
      {
        snapshot: () => snap,
        cycleCount: () => 0,
        config: () => undefined,
        daemonStatus: () => 'running',
        configPath: 'x.cf',
        metrics: () => renderMetrics({ ...snap, cycle: { ...snap.cycle, count: ++n } }),
      },
      { cacheMs: 0 },
    );
    try {
      const port = (server.address() as AddressInfo).port;
      const r1 = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(r1.headers.get('content-type')).toContain('text/plain');
      expect(await r1.text()).toContain('ldirectord_check_cycles_total 1');
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('ldirectord_check_cycles_total 2');
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'prom-'));
    await writeMetricsFile(join(dir, 'ldirectord.prom'), renderMetrics(snap));
    expect(readFileSync(join(dir, 'ldirectord.prom'), 'utf8')).toContain('ldirectord_real_up');
    expect(() => parseListen('9100')).toThrow(/host:port/);
  });
});

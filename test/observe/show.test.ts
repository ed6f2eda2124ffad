import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStateFile, readStateFile, showJson, showText, stateFilePath, type StateFile } from '../../src/observe/show.js';
import { buildStatus, statusConfig } from '../../src/observe/status.js';

const state: StateFile = {
  version: 1, pid: 123, config: '/etc/ha.d/ldirectord.cf', writtenAt: 1_000_000, status: 'running',
  snapshot: {
    reals: [
      { vid: 'tcp:127.0.0.10:80', rs: '127.0.0.11:80', state: 'up', weight: 2, failures: 0, lastCheck: 990_000, lastResult: { ok: true, status: 'ok', message: '200 OK', durationMs: 4 } },
      { vid: 'tcp:127.0.0.10:80', rs: '127.0.0.12:80', state: 'quiescent', weight: 0, failures: 3, lastCheck: 995_000, lastResult: { ok: false, status: 'l4-timeout', message: 'connect timed out after 5000 ms', durationMs: 5000 } },
    ],
    fallbacks: [{ vid: 'tcp:127.0.0.10:80', active: false }],
    cycle: { count: 7, lastDurationMs: 5003, lagMs: 1 },
    ipvsadm: { runs: 4, failures: 0 },
  },
};

describe('show', () => {
  it('keeps the state file private and reads it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'show-'));
    const p = stateFilePath(dir, 'ldirectord.cf');
    expect(p).toBe(join(dir, 'ldirectord.ldirectord.cf.state.json'));
    await writeStateFile(p, state);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect((await readStateFile(p)).snapshot.reals).toHaveLength(2);
  });
  it('streams a large state file in pieces that read back as the same JSON (0, 1 and 1201 reals)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'show-'));
    const p = stateFilePath(dir, 'big.cf');
    for (const n of [0, 1, 1201]) {
      const reals = Array.from({ length: n }, (_, i) => ({ ...state.snapshot.reals[i % 2], rs: `127.1.${i >> 8}.${i & 255}:80` }));
      const big: StateFile = { ...state, snapshot: { ...state.snapshot, reals } };
      await writeStateFile(p, big);
      const text = readFileSync(p, 'utf8');
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(big)));
      expect(text.endsWith('}\n')).toBe(true);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
  });
  it('gives each real its state, weight, failures, latency and reason by layer in JSON', () => {
    const j = showJson(state) as unknown as { virtuals: { virtual: string; fallbackActive: boolean; reals: Record<string, unknown>[] }[] };
    expect(j.virtuals).toHaveLength(1);
    expect(j.virtuals[0].reals[1]).toMatchObject({ real: '127.0.0.12:80', state: 'quiescent', weight: 0, failures: 3, latencyMs: 5000, reason: { layer: 'l4-timeout' } });
    expect(j.virtuals[0].reals[0].reason).toBeNull();
  });
  it('gives in JSON the status data of the status page (config details and connection counts from the file), written atomically', async () => {
    const model = statusConfig({
      virtuals: [{
        vid: 'tcp:127.0.0.10:80', vaddr: '127.0.0.10:80', protocol: 'tcp', family: 4, scheduler: 'wlc', persistent: 600, netmask: undefined,
        checktype: 'negotiate', service: 'http', checkinterval: 6, checktimeout: 5, failurecount: 1, quiescent: true, fallback: undefined,
        reals: [{ ip: '127.0.0.11', port: 80, weight: 2, forward: 'masq' }, { ip: '127.0.0.12', port: 80, weight: 5, forward: 'masq' }],
      }],
    });
    const table = { at: 999_000, table: { services: [{ service: { proto: 'tcp' as const, vaddr: '127.0.0.10:80', scheduler: 'wlc' }, dests: [{ rs: '127.0.0.11:80', forward: 'masq' as const, weight: 2, upperThreshold: 0, lowerThreshold: 0, activeConns: 4 }] }] } };
    const full: StateFile = { ...state, model, table };
    const dir = mkdtempSync(join(tmpdir(), 'show-'));
    const p = stateFilePath(dir, 'm.cf');
    await writeStateFile(p, full);
    const back = await readStateFile(p);
    expect(back).toEqual(JSON.parse(JSON.stringify(full)));
    // The table's text is kept per read (per object): the next read's table is written, not the old text.
    const next = { ...full, table: { at: 1_000_000, table: { services: [] } } };
    await writeStateFile(p, next);
    expect((await readStateFile(p)).table).toEqual(next.table);
    await writeStateFile(p, full);
    const j = showJson(back);
    expect(j).toEqual({
      ...buildStatus({ snapshot: full.snapshot, table, config: model, pid: 123, configPath: full.config, status: 'running', now: full.writtenAt, withHistory: false }),
      writtenAt: new Date(full.writtenAt).toISOString(),
    });
    expect(j.virtuals[0]).toMatchObject({ scheduler: 'wlc', persistent: 600, realsUp: 1, realsTotal: 2 });
    expect(j.virtuals[0].reals.map((r) => [r.configuredWeight, r.activeConns, r.inactConns])).toEqual([[2, 4, 0], [5, null, null]]);
    // A file without them (an older daemon) still shows every real.
    expect(showJson(state).virtuals[0]).toMatchObject({ scheduler: null, realsTotal: 2 });
  });
  it('shows the IPVS driver the daemon chose, and null from a daemon that did not say', () => {
    const sel = { driver: 'netlink', requested: 'auto', reason: 'the IPVS generic netlink family resolves' };
    expect((showJson({ ...state, ipvsDriver: sel }) as { ipvsDriver: unknown }).ipvsDriver).toEqual(sel);
    expect((showJson(state) as { ipvsDriver: unknown }).ipvsDriver).toBeNull();
  });
  it('prints a table a person reads at a glance, coloured only when asked', () => {
    const plain = showText(state, { color: false, now: 1_000_000 });
    expect(plain).toMatch(/127\.0\.0\.12:80\s+quiescent\s+-\s+0\s+3\s+5s ago\s+5000ms\s+l4-timeout: connect timed out/);
    expect(plain).not.toContain('\x1b[');
    expect(showText(state, { color: true, now: 1_000_000 })).toContain('\x1b[33mquiescent');
  });

  it('shows a slowstart ramp as the weight now and the weight it ramps to', () => {
    const ramping = { ...state.snapshot.reals[0], weight: 3, rampTarget: 10 };
    const text = showText({ ...state, snapshot: { ...state.snapshot, reals: [ramping, state.snapshot.reals[1]] } }, { color: false, now: 1_000_000 });
    expect(text).toMatch(/127\.0\.0\.11:80\s+up\s+-\s+3 -> 10\s+0\s+10s ago/);
    expect(text).toMatch(/127\.0\.0\.12:80\s+quiescent\s+-\s+0\s+3\s/);
  });
});

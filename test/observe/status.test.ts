// The status data (buildStatus, CheckHistory) and the server-rendered page (renderPage).
import { describe, it, expect } from 'vitest';
import { buildStatus, CheckHistory, type StatusConfig } from '../../src/observe/status.js';
import { adminText, escapeHtml, renderPage } from '../../src/observe/page.js';
import type { DirectorSnapshot } from '../../src/engine/types.js';
import type { IpvsTable } from '../../src/ipvs/types.js';

const pos = { file: 'x.cf', line: 1 };
const real = (ip: string, port: number, weight: number, forward: 'gate' | 'masq' = 'masq') => ({
  ip, family: 4 as const, port, forward, weight, upperThreshold: 0, lowerThreshold: 0, source: `${ip}:${port}`, pos,
});
const config: StatusConfig = {
  virtuals: [
    {
      vid: 'tcp:10.0.0.1:80', vaddr: '10.0.0.1:80', protocol: 'tcp', family: 4, scheduler: 'wrr', persistent: 300, netmask: '255.255.255.0',
      checktype: 'negotiate', service: 'http', checkinterval: 5, checktimeout: 3, failurecount: 2, quiescent: true,
      fallback: { ip: '127.0.0.1', port: 80 },
      reals: [real('10.0.0.2', 80, 3), real('10.0.0.3', 8080, 1, 'gate'), real('10.0.0.4', 80, 2)],
    },
    {
      vid: 'fwm:7', vaddr: '7', protocol: 'fwm', family: 4, scheduler: 'rr', persistent: undefined, netmask: undefined,
      checktype: 'connect', service: 'none', checkinterval: 5, checktimeout: 3, failurecount: 1, quiescent: false, fallback: undefined,
      reals: [real('10.0.0.9', 0, 1, 'gate')],
    },
  ],
};
const ok = (ms: number) => ({ ok: true, status: 'ok' as const, message: '200 OK', durationMs: ms });
const snapshot = (t: number, extra: Partial<Record<string, unknown>> = {}): DirectorSnapshot => ({
  reals: [
    { vid: 'tcp:10.0.0.1:80', rs: '10.0.0.2:80', state: 'up', weight: 3, failures: 0, lastCheck: t, lastResult: ok(4), ...extra },
    // gate with a port other than the service's: the kernel lists it on the service's port
    { vid: 'tcp:10.0.0.1:80', rs: '10.0.0.3:8080', state: 'up', weight: 1, failures: 0, lastCheck: t, lastResult: ok(6) },
    {
      vid: 'tcp:10.0.0.1:80', rs: '10.0.0.4:80', state: 'quiescent', weight: 0, failures: 2, lastCheck: t,
      lastResult: { ok: false, status: 'l7-bad-status', message: 'greeting: "<script>alert(1)</script>"', durationMs: 12 },
    },
    { vid: 'fwm:7', rs: '10.0.0.9:0', state: 'maintenance', weight: 0, failures: 0, admin: 'none', adminWeight: null },
  ],
  fallbacks: [{ vid: 'tcp:10.0.0.1:80', active: false }, { vid: 'fwm:7', active: true }],
  cycle: { count: 9, lastDurationMs: 15, lagMs: 0 },
  ipvsadm: { runs: 2, failures: 0 },
});
const table: IpvsTable = {
  services: [
    {
      service: { proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr', persistent: 300 },
      dests: [
        { rs: '10.0.0.2:80', forward: 'masq', weight: 3, upperThreshold: 0, lowerThreshold: 0, activeConns: 5, inactConns: 40 },
        { rs: '10.0.0.3:80', forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0, activeConns: 1 },
        { rs: '10.0.0.4:80', forward: 'masq', weight: 0, upperThreshold: 0, lowerThreshold: 0 },
      ],
    },
  ],
};

describe('buildStatus', () => {
  it('gives each virtual its address, protocol, scheduler, persistence, reals up and fallback', () => {
    const s = buildStatus({ snapshot: snapshot(1000), table: { table, at: 900 }, config, configPath: 'x.cf', status: 'running', now: 2000, pid: 42 });
    expect(s).toMatchObject({ version: 1, pid: 42, config: 'x.cf', status: 'running', generatedAt: new Date(2000).toISOString(), tableReadAt: new Date(900).toISOString() });
    expect(s.totals).toEqual({ virtuals: 2, reals: 4, up: 2, down: 1 });
    expect(s.virtuals[0]).toMatchObject({
      virtual: 'tcp:10.0.0.1:80', address: '10.0.0.1:80', protocol: 'tcp', scheduler: 'wrr', persistent: 300, netmask: '255.255.255.0',
      realsUp: 2, realsTotal: 3, fallback: '127.0.0.1:80', fallbackActive: false, checkinterval: 5, failurecount: 2,
    });
    expect(s.virtuals[1]).toMatchObject({ virtual: 'fwm:7', protocol: 'fwm', persistent: null, netmask: null, fallback: null, fallbackActive: true, realsUp: 0 });
  });

  it('gives each real its health, admin state, weights, failures, last check, result and the connections of the table', () => {
    const s = buildStatus({ snapshot: snapshot(1000), table: { table, at: 900 }, config, configPath: 'x.cf', status: 'running', now: 2000 });
    const [a, b, c] = s.virtuals[0].reals;
    expect(a).toEqual({
      real: '10.0.0.2:80', state: 'up', admin: 'none', adminWeight: null, drain: null, weight: 3, configuredWeight: 3, rampTarget: null, failures: 0,
      lastCheck: new Date(1000).toISOString(), latencyMs: 4, result: { ok: true, status: 'ok', message: '200 OK' }, reason: null,
      activeConns: 5, inactConns: 40, history: [],
    });
    expect(b).toMatchObject({ real: '10.0.0.3:8080', activeConns: 1, inactConns: 0 });
    expect(c).toMatchObject({ state: 'quiescent', weight: 0, configuredWeight: 2, failures: 2, activeConns: 0, reason: { layer: 'l7-bad-status' } });
    // A maintenance file is an admin decision; a real not in the table has no connection counts.
    expect(s.virtuals[1].reals[0]).toMatchObject({ state: 'maintenance', admin: 'maint', activeConns: null, lastCheck: null, result: null });
    // Without a table read there are no counts at all.
    const none = buildStatus({ snapshot: snapshot(1000), config, configPath: 'x.cf', status: 'running', now: 2000 });
    expect(none.tableReadAt).toBeNull();
    expect(none.virtuals[0].reals.map((r) => r.activeConns)).toEqual([null, null, null]);
  });

  it('takes admin state and admin weight from the snapshot when it has them', () => {
    const drain = { state: 'draining', activeConn: 3, inactConn: 10 };
    const s = buildStatus({ snapshot: snapshot(1000, { admin: 'drain', adminWeight: 7, drain }), config, configPath: 'x.cf', status: 'running', now: 0 });
    expect(s.virtuals[0].reals[0]).toMatchObject({ admin: 'drain', adminWeight: 7, drain });
    expect(renderPage(s)).toContain('<td class="c-admin">draining 3/10 w=7</td>');
    expect(adminText({ admin: 'drain', adminWeight: null, drain: { state: 'drained', activeConn: 0, inactConn: 0 } })).toBe('drained');
    expect(adminText({ admin: 'none', adminWeight: 4, drain: null })).toBe('w=4');
    expect(adminText({ admin: 'maint', adminWeight: null, drain: null })).toBe('maint');
  });

  it('gives a slowstart ramp as the weight now and the weight it ramps to, in the data and on the page', () => {
    const s = buildStatus({ snapshot: snapshot(1000, { weight: 1, rampTarget: 3 }), config, configPath: 'x.cf', status: 'running', now: 0 });
    expect(s.virtuals[0].reals.map((r) => [r.weight, r.rampTarget])).toEqual([[1, 3], [1, null], [0, null]]);
    expect(renderPage(s)).toContain('<td class="c-weight num">1 / 3 \u2197 3</td>');
    expect(renderPage(s)).toContain('<td class="c-weight num">1 / 1</td>');
  });

  it('shows the snapshot without a config (null details) and is pure', () => {
    const input = { snapshot: snapshot(1000), configPath: 'x.cf', status: 'starting', now: 5 };
    const s = buildStatus(input);
    expect(s.virtuals.map((v) => [v.virtual, v.address, v.scheduler, v.realsTotal])).toEqual([['tcp:10.0.0.1:80', '10.0.0.1:80', null, 3], ['fwm:7', '7', null, 1]]);
    expect(s.virtuals[0].reals[0].configuredWeight).toBeNull();
    expect(buildStatus(input)).toEqual(s);
  });
});

describe('CheckHistory', () => {
  it('keeps the last N checks of each real, oldest first, once per check, and forgets removed reals', () => {
    const h = new CheckHistory(3);
    for (let t = 1; t <= 5; t++) {
      h.record(snapshot(t * 1000));
      h.record(snapshot(t * 1000)); // the same check seen twice counts once
    }
    expect(h.of('tcp:10.0.0.1:80', '10.0.0.2:80')).toEqual([3, 4, 5].map((t) => ({ at: new Date(t * 1000).toISOString(), ok: true, latencyMs: 4 })));
    expect(h.of('tcp:10.0.0.1:80', '10.0.0.4:80').map((c) => c.ok)).toEqual([false, false, false]);
    expect(h.of('fwm:7', '10.0.0.9:0')).toEqual([]); // never checked
    h.record({ reals: snapshot(6000).reals.slice(1) });
    expect(h.of('tcp:10.0.0.1:80', '10.0.0.2:80')).toEqual([]);
    const s = buildStatus({ snapshot: snapshot(6000), config, history: h, configPath: 'x.cf', status: 'running', now: 0 });
    expect(s.virtuals[0].reals[1].history).toHaveLength(3);
    expect(buildStatus({ snapshot: snapshot(6000), config, history: h, configPath: 'x.cf', status: 'running', now: 0, withHistory: false }).virtuals[0].reals[1].history).toEqual([]);
  });
});

describe('renderPage', () => {
  it('is complete HTML with every real, and escapes what real servers answered and config text', () => {
    const h = new CheckHistory();
    h.record(snapshot(1000));
    const s = buildStatus({ snapshot: snapshot(1000), table: { table, at: 900 }, config, history: h, configPath: '/etc/ha.d/<b>x</b>.cf', status: 'running', now: 2000 });
    const html = renderPage(s, { hostname: 'dir"1' });
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>x');
    expect(html).toContain('greeting: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
    expect(html).toContain('ldirectord on dir&quot;1');
    expect(html).toMatch(/<span class="up some">2\/3 up<\/span>/);
    expect(html).toContain('<span class="fallback on">fallback');
    expect(html.match(/<tr class="st-/g)).toHaveLength(4);
    expect(html).toContain('data-key="tcp:10.0.0.1:80 10.0.0.2:80"');
    expect(html).toContain('>5 / 40<');
    expect(html).toContain('<span class="hist" title="last 1 checks: 1 failed; 12–12 ms"><i class=k></i></span>');
    // Only the daemon's own script and style sheet, no inline script or style.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/static/status.js" defer>']);
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  });
  it('escapes quotes, angle brackets, ampersands and control characters', () => {
    expect(escapeHtml(`<a href='x'>"&"</a>\u0000\u001b`)).toBe('&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;\ufffd\ufffd');
  });
});

// The status listener over HTTP: routes, headers, read-only, bounded for hostile clients, one address.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { serveStatus, httpSpec, type StatusServer, type StatusSource } from '../../src/observe/http.js';
import type { DirectorSnapshot } from '../../src/engine/types.js';

let cycles = 3;
const snap = (): DirectorSnapshot => ({
  reals: [
    { vid: 'tcp:127.0.0.10:80', rs: '127.0.0.11:80', state: 'up', weight: 1, failures: 0, lastCheck: 1000 * cycles, lastResult: { ok: true, status: 'ok', message: '<b>hi</b>', durationMs: 3 } },
  ],
  fallbacks: [],
  cycle: { count: cycles, lastDurationMs: 5, lagMs: 0 },
  ipvsadm: { runs: 0, failures: 0 },
});
let refreshes = 0;
const source: StatusSource = {
  snapshot: snap,
  cycleCount: () => cycles,
  config: () => undefined,
  refreshTable: () => void refreshes++,
  daemonStatus: () => 'running',
  configPath: 'x.cf',
  metrics: () => '# TYPE ldirectord_check_cycles_total counter\nldirectord_check_cycles_total 3\n',
};

let server: StatusServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(opts = {}): Promise<string> {
  server = await serveStatus('127.0.0.1:0', source, opts);
  return `http://127.0.0.1:${server.address().port}`;
}

/** Sends raw bytes and returns what comes back until the server closes (or 3 s pass). */
function raw(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
    let out = '';
    c.on('data', (d) => (out += d));
    c.on('error', () => resolve(out));
    c.on('close', () => resolve(out));
    c.write(text);
    setTimeout(() => c.destroy(), 3000).unref();
  });
}

describe('status listener', () => {
  it('serves the page, the JSON, the metrics and its own static files with the security headers', async () => {
    const base = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).toContain('&lt;b&gt;hi&lt;/b&gt;');
    expect(html).not.toContain('<b>hi');
    const json = await fetch(`${base}/status.json`);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
    const data = (await json.json()) as { virtuals: { reals: { real: string; history: unknown[]; result: { message: string } }[] }[] };
    expect(data.virtuals[0].reals[0]).toMatchObject({ real: '127.0.0.11:80', result: { message: '<b>hi</b>' } });
    expect(data.virtuals[0].reals[0].history).toHaveLength(1);
    const noHist = (await (await fetch(`${base}/status.json?history=0`)).json()) as typeof data;
    expect(noHist.virtuals[0].reals[0].history).toEqual([]);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('ldirectord_check_cycles_total 3');
    for (const [path, type] of [['/static/status.js', 'text/javascript'], ['/static/status.css', 'text/css'], ['/static/favicon.svg', 'image/svg+xml']]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toContain(type);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    for (const path of ['/static/../package.json', '/static/', '/static/constructor', '/etc/passwd', '/status.json/x']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect(refreshes).toBeGreaterThan(0);
  });

  it('answers HEAD with the headers only', async () => {
    const base = await start();
    const r = await fetch(`${base}/status.json`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(Number(r.headers.get('content-length'))).toBeGreaterThan(10);
    expect(await r.text()).toBe('');
  });

  it('refuses every other method with 405, reads no body, and changes nothing', async () => {
    const base = await start();
    // The data without the time they were put together (the cache lasts 500 ms; this test may take longer).
    const data = async () => {
      const { generatedAt: _t, ...rest } = (await (await fetch(`${base}/status.json`)).json()) as Record<string, unknown>;
      return rest;
    };
    const before = await data();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND']) {
      const port = server!.address().port;
      const answer = await raw(port, `${method} /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello`);
      expect(answer, method).toMatch(/^HTTP\/1\.1 (405|400)/);
      if (answer.startsWith('HTTP/1.1 405')) {
        expect(answer).toMatch(/\r\nallow: GET, HEAD\r\n/i);
        expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      }
    }
    expect((await fetch(`${base}/`, { method: 'POST', body: 'x'.repeat(1 << 20) })).status).toBe(405);
    const port = server!.address().port;
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toMatch(/^HTTP\/1\.1 405/);
    expect(await data()).toEqual(before);
  });

  it('answers only to loopback host names on a loopback address (no DNS rebinding)', async () => {
    const base = await start();
    const port = server!.address().port;
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 421/);
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: localhost:9\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    expect((await fetch(`${base}/status.json`)).status).toBe(200);
  });

  it('bounds what a client can send: long URLs, huge headers, too many connections', async () => {
    const base = await start({ maxConnections: 2 });
    const port = server!.address().port;
    expect((await fetch(`${base}/?${'a'.repeat(5000)}`)).status).toBe(414);
    expect(await raw(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(40_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(await raw(port, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    // Two idle connections hold the limit; a third is dropped at once, and served again once they go.
    const idle = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => { const c = net.connect(port, '127.0.0.1', () => r(c)); })));
    await new Promise((r) => setTimeout(r, 100));
    expect(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toBe('');
    for (const c of idle) c.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
  });

  it('builds the data at most once per cache period, however often it is asked', async () => {
    let built = 0;
    const counting = { ...source, snapshot: () => (built++, snap()) };
    server = await serveStatus('127.0.0.1:0', counting, { cacheMs: 60_000, sampleMs: 60_000 });
    const base = `http://127.0.0.1:${server.address().port}`;
    const start0 = built;
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/status.json`).then((r) => r.text())));
    expect(built - start0).toBe(1);
  });

  it('listens only on the address given', async () => {
    await start();
    const port = server!.address().port;
    expect(server!.address().address).toBe('127.0.0.1');
    const other = await new Promise<string>((resolve) => {
      const c = net.connect(port, '127.0.0.2');
      c.on('connect', () => (c.destroy(), resolve('connected')));
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(other).toBe('ECONNREFUSED');
  });

  it('takes LDIRECTORD_HTTP, else LDIRECTORD_METRICS', () => {
    expect(httpSpec({ LDIRECTORD_HTTP: '127.0.0.1:1', LDIRECTORD_METRICS: '127.0.0.1:2' })).toBe('127.0.0.1:1');
    expect(httpSpec({ LDIRECTORD_METRICS: '127.0.0.1:2' })).toBe('127.0.0.1:2');
    expect(httpSpec({})).toBeUndefined();
  });
});

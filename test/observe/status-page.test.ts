// The status page in a real browser (Debian's chromium driven by playwright-core): a daemon on the
// fake ipvsadm with live HTTP real servers on 127.0.0.x. The page renders without console errors or
// failed requests, shows every real's state, follows a real server that dies and comes back while it
// stays open, shows a real's hostile answer as text, renders 1000 reals (the time is printed), and
// refuses every write method. Skips with the reason when chromium or playwright-core is missing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, ld, tmp, until, read, killPidFile, closeHttp, ROOT } from '../cli/helpers.js';
import { installFakeIpvsadm, readFakeTable, fakeSave } from '../fake-ipvsadm/install.js';

const CHROMIUM = process.env.LDIRECTORD_TEST_CHROMIUM ?? '/usr/bin/chromium';
// The launch flags that work on this kind of machine (shared/reference/operations.md §3).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

type PW = typeof import('playwright-core');
let pw: PW | undefined;
let why = '';
try {
  pw = await import('playwright-core');
} catch (e) {
  why = `playwright-core can not be loaded (${e instanceof Error ? e.message : String(e)})`;
}
if (!why && !existsSync(CHROMIUM)) why = `${CHROMIUM} is missing (Debian package chromium; test/setup/install-debian.sh installs it)`;
if (why) console.warn(`status page browser tests skipped: ${why}`);

/** An HTTP real server answering with the given reason phrase and body. */
function realServer(ip: string, port: number, reason = 'OK', body = 'OK'): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const s = http.createServer((_req, res) => {
      res.statusMessage = reason;
      res.end(body);
    });
    s.once('error', reject);
    s.listen(port, ip, () => resolve(s));
  });
}

const HOSTILE = '554 <img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>';

/** An SMTP real server whose greeting is markup. */
function hostileSmtp(ip: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => {
      c.on('error', () => {});
      c.end(`${HOSTILE}\r\n`);
    });
    s.once('error', reject);
    s.listen(0, ip, () => resolve(s));
  });
}

describe.skipIf(Boolean(why))('status page in chromium', () => {
  let dir: string;
  let profile: string;
  let context: import('playwright-core').BrowserContext;
  const servers = new Map<string, http.Server>();
  const smtpServers: net.Server[] = [];
  const pidFiles: string[] = [];

  beforeAll(async () => {
    build();
    dir = tmp('ldts-status-');
    profile = mkdtempSync(join(tmpdir(), 'ldts-status-chromium-'));
    context = await pw!.chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 800 },
    });
  });
  afterAll(async () => {
    for (const p of pidFiles) killPidFile(p);
    await Promise.all([...servers.values()].map(closeHttp));
    for (const s of smtpServers) s.close();
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Starts the daemon on the fake ipvsadm with the status listener; returns its base URL. */
  async function daemon(name: string, cf: string): Promise<{ url: string; state: string; env: Record<string, string> }> {
    const state = join(dir, `${name}.ipvs.json`);
    const fake = installFakeIpvsadm(join(dir, `${name}-bin`), { state });
    writeFileSync(join(dir, name), cf);
    // A free port for the listener: let the kernel pick one, then give it to the daemon.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_IPVSADM: fake, LDIRECTORD_HTTP: `127.0.0.1:${port}` };
    pidFiles.push(join(dir, `ldirectord.${name}.pid`));
    const r = await ld([`./${name}`, 'start'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    await until(() => read(join(dir, `${name}.log`)).includes('Serving metrics and the status page'), 15_000, 'status listener');
    return { url: `http://127.0.0.1:${port}`, state, env };
  }

  it('shows every real, follows a real server that dies and returns, shows a hostile answer as text, refuses writes', async () => {
    const a = await realServer('127.0.0.31', 0);
    const port = (a.address() as { port: number }).port;
    servers.set('a', a);
    servers.set('wrong', await realServer('127.0.0.32', port, 'OK', 'not the expected answer'));
    const smtp = await hostileSmtp('127.0.0.35');
    smtpServers.push(smtp);
    const smtpPort = (smtp.address() as { port: number }).port;
    servers.set('c', await realServer('127.0.0.33', port));
    // 127.0.0.34 never listens: down from the first check.
    const checkinterval = 1;
    const failurecount = 2;
    const checktimeout = 1;
    const cf =
      `logfile="${join(dir, 's.cf.log')}"\ncheckinterval=${checkinterval}\nchecktimeout=${checktimeout}\nfailurecount=${failurecount}\n` +
      `virtual=127.0.0.30:${port}\n` +
      ['31', '32', '33', '34'].map((h) => `\treal=127.0.0.${h}:${port} masq 3\n`).join('') +
      `\tservice=http\n\trequest="/"\n\treceive="OK"\n\tscheduler=wlc\n\tpersistent=60\n\tfallback=127.0.0.1:${port}\n` +
      `virtual=127.0.0.30:${smtpPort}\n\treal=127.0.0.35:${smtpPort} masq\n\tservice=smtp\n\tchecktype=negotiate\n`;
    const { url, state } = await daemon('s.cf', cf);
    const real = (h: string) => `127.0.0.${h}:${port}`;
    await until(() => readFakeTable(state).services.some((s) => s.dests.filter((d) => d.weight > 0).length === 2), 20_000, 'two reals up in the table');

    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      if (!r.url().startsWith(url)) problems.push(`foreign request: ${r.url()}`);
    });
    await page.goto(`${url}/`);
    await page.waitForFunction(() => Number(document.documentElement.dataset.updates ?? 0) >= 1);

    const stateOf = (rs: string) =>
      page.locator(`tr[data-key="tcp:127.0.0.30:${port} ${rs}"] .c-state .badge`).textContent({ timeout: 2000 });
    // Every real with its state, as the daemon's JSON has it.
    expect(await stateOf(real('31'))).toBe('up');
    expect(await stateOf(real('32'))).toBe('down');
    expect(await stateOf(real('33'))).toBe('up');
    expect(await stateOf(real('34'))).toBe('down');
    const json = (await (await fetch(`${url}/status.json`)).json()) as { virtuals: { reals: { real: string; state: string }[] }[] };
    const shown = await page.$$eval('tr[data-key]', (trs) => trs.map((tr) => [tr.querySelector('.c-real')!.textContent, tr.querySelector('.badge')!.textContent]));
    expect(shown).toHaveLength(5);
    expect(new Map(shown as [string, string][])).toEqual(new Map(json.virtuals.flatMap((v) => v.reals.map((r) => [r.real, r.state]))));
    expect(await page.locator('section.virtual h2').first().textContent()).toMatch(/2\/4 up.*wlc.*persistent 60s.*fallback 127\.0\.0\.1/);

    // The hostile answer is shown as text: no element made of it, no script of it run.
    const hostileRow = page.locator(`tr[data-key="tcp:127.0.0.30:${smtpPort} 127.0.0.35:${smtpPort}"]`);
    expect(await hostileRow.locator('.badge').textContent()).toBe('down');
    expect(await hostileRow.locator('.c-result').textContent()).toContain(HOSTILE);
    expect(await page.locator('main img, main script, main [onerror]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // The page left open: a real server dies and is shown down in time, then comes back.
    const bound = (checkinterval * failurecount + checktimeout + 2) * 1000;
    const t0 = Date.now();
    await closeHttp(servers.get('c'));
    await page.waitForFunction(
      (key) => document.querySelector(`tr[data-key="${key}"] .badge`)?.textContent === 'down',
      `tcp:127.0.0.30:${port} ${real('33')}`,
      { timeout: bound + 5000 },
    );
    const downMs = Date.now() - t0;
    console.log(`status page: real server stopped -> shown down after ${downMs} ms (bound ${bound} ms)`);
    expect(downMs).toBeLessThanOrEqual(bound);
    await page.screenshot({ path: join(dir, 'down.png') });
    const t1 = Date.now();
    servers.set('c', await realServer('127.0.0.33', port));
    await page.waitForFunction(
      (key) => document.querySelector(`tr[data-key="${key}"] .badge`)?.textContent === 'up',
      `tcp:127.0.0.30:${port} ${real('33')}`,
      { timeout: bound + 5000 },
    );
    const upMs = Date.now() - t1;
    console.log(`status page: real server back -> shown up after ${upMs} ms (bound ${bound} ms)`);
    expect(upMs).toBeLessThanOrEqual(bound);
    // Its history strip has both failed and passed checks in it now.
    const strip = page.locator(`tr[data-key="tcp:127.0.0.30:${port} ${real('33')}"] .hist i`);
    expect(await strip.evaluateAll((is) => is.some((i) => i.className === 'k') && is.some((i) => /^o[0-4]$/.test(i.className)))).toBe(true);

    // Connection counts come from the table the daemon reads (here: set in the fake kernel's state).
    const sim = JSON.parse(readFileSync(state, 'utf8')) as { services: { dests: { addr: string; activeConns?: number; inactConns?: number }[] }[] };
    const dest = sim.services[0].dests.find((d) => d.addr === '127.0.0.31')!;
    Object.assign(dest, { activeConns: 7, inactConns: 3 });
    writeFileSync(`${state}.t`, JSON.stringify(sim));
    renameSync(`${state}.t`, state);
    await page.waitForFunction(
      (key) => document.querySelector(`tr[data-key="${key}"] .c-conns`)?.textContent === '7 / 3',
      `tcp:127.0.0.30:${port} ${real('31')}`,
      { timeout: 15_000 },
    );

    // Search: only the matching real stays visible.
    await page.fill('#filter', '127.0.0.34');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-key]:not([hidden])').length === 1);
    expect(await page.locator('#shown').textContent()).toBe('1 of 5 reals shown');
    await page.fill('#filter', '');
    await page.check('#problems');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-key]:not([hidden])').length === 3);
    await page.uncheck('#problems');

    // The README's screenshots: written to docs/ with UPDATE_SCREENSHOTS=1, else beside the test's files
    // (so that a test run leaves the work tree clean).
    const shots = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs') : dir;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'status-page.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(shots, 'status-page-phone.png'), fullPage: true });
    console.log(`status page: screenshots in ${shots}/status-page{,-phone}.png`);
    expect(problems).toEqual([]);

    // Read-only: every write method is refused with 405 and changes nothing.
    const before = fakeSave(state);
    const statusBefore = (await (await fetch(`${url}/status.json`)).json()) as { virtuals: unknown[] };
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/', '/status.json', '/metrics']) {
        const r = await fetch(`${url}${path}`, { method, body: method === 'DELETE' || method === 'OPTIONS' ? undefined : '{"admin":"drain"}' });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.get('allow')).toBe('GET, HEAD');
      }
    }
    const inPage = await page.evaluate(async () => (await fetch('/status.json', { method: 'POST', body: 'x' })).status);
    expect(inPage).toBe(405);
    expect(fakeSave(state)).toBe(before);
    const statusAfter = (await (await fetch(`${url}/status.json`)).json()) as { virtuals: { reals: { state: string }[] }[] };
    expect(statusAfter.virtuals[0].reals.map((r) => r.state)).toEqual((statusBefore as typeof statusAfter).virtuals[0].reals.map((r) => r.state));
    await page.close();
  });

  it('renders 1000 reals and filters them (times printed)', async () => {
    // checktype=on: every real is up without a probe, so no traffic goes anywhere.
    const vs = [0, 1, 2, 3].map(
      (i) => `virtual=127.0.1.${i + 1}:80\n\treal=127.3.${i}.1->127.3.${i}.250:80 gate 5\n\tchecktype=on\n\tscheduler=wrr\n`,
    );
    const cf = `logfile="${join(dir, 'big.cf.log')}"\ncheckinterval=2\n${vs.join('')}`;
    const { url } = await daemon('big.cf', cf);
    await until(() => read(join(dir, 'big.cf.log')).includes('Added real server: 127.3.3.250:80'), 30_000, 'every real added');
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    const t0 = Date.now();
    await page.goto(`${url}/`, { waitUntil: 'load' });
    const loadMs = Date.now() - t0;
    expect(await page.locator('tr[data-key]').count()).toBe(1000);
    await page.waitForFunction(() => Number(document.documentElement.dataset.updates ?? 0) >= 1, undefined, { timeout: 10_000 });
    const liveMs = Date.now() - t0;
    const t1 = Date.now();
    await page.fill('#filter', '127.3.2.17:');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-key]:not([hidden])').length === 1);
    const filterMs = Date.now() - t1;
    const timing = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const [, , patch] = (document.documentElement.dataset.updateMs ?? '').split(' ').map(Number);
      return { responseEnd: Math.round(n.responseEnd), domContentLoaded: Math.round(n.domContentLoadedEventEnd), patch };
    });
    console.log(
      `status page, 1000 reals: loaded in ${loadMs} ms (response ${timing.responseEnd} ms, DOMContentLoaded ${timing.domContentLoaded} ms), ` +
        `first live update applied after ${liveMs} ms (last update's script work ${timing.patch} ms), filter to one real in ${filterMs} ms`,
    );
    expect(await page.locator('#shown').textContent()).toBe('1 of 1000 reals shown');
    expect(errors).toEqual([]);
    await page.close();
  });
});

/**
 * `ldirectord demo`: a self-contained show of the director at work. It starts three HTTP real servers
 * on 127.0.0.2-4 and a sorry server on 127.0.0.5, runs the director in this process against the
 * simulated IPVS table with examples/demo.cf, and shows the table as it changes while it stops one
 * server, then all of them (the sorry server takes over), then brings them back. On a terminal the
 * table is redrawn in place with changed lines highlighted; otherwise each new table is printed in turn.
 */
import http from 'node:http';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Director, EngineEvent } from '../engine/types.js';
import type { IpvsTable } from '../ipvs/types.js';
import { systemHost } from '../daemon/host.js';
import { wire, type SimDriverLike, type Wiring } from '../daemon/wiring.js';
import { systemClock } from '../util/clock.js';

const REALS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const SORRY = '127.0.0.5';
const DEFAULT_PORT = 18080;

/** The demo's config file (examples/demo.cf beside the package). */
export function demoConfigPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '../../examples/demo.cf');
}

interface Server {
  ip: string;
  server?: http.Server;
}

function listen(ip: string, port: number, body: string): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const s = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(req.url === '/health' ? body : `${body} from ${ip}\n`);
    });
    s.once('error', reject);
    s.listen(port, ip, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function close(s: http.Server | undefined): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

/** A port free on every demo address: 18080 if possible. */
async function choosePort(): Promise<number> {
  for (const port of [DEFAULT_PORT, 0]) {
    const opened: http.Server[] = [];
    try {
      let p = port;
      for (const ip of [...REALS, SORRY]) {
        const s = await listen(ip, p, 'probe');
        opened.push(s);
        p = (s.address() as { port: number }).port;
      }
      await Promise.all(opened.map(close));
      return p;
    } catch {
      await Promise.all(opened.map(close));
    }
  }
  throw new Error('no free port on 127.0.0.2-5');
}

/** ipvsadm -Ln style text of a table, when the driver has no render(). */
export function renderTable(t: IpvsTable): string {
  const lines = ['Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight'];
  for (const { service, dests } of t.services) {
    lines.push(`${service.proto.toUpperCase().padEnd(4)} ${service.vaddr} ${service.scheduler}`);
    for (const d of dests) {
      const fwd = d.forward === 'masq' ? 'Masq' : d.forward === 'ipip' ? 'Tunnel' : 'Route';
      lines.push(`  -> ${d.rs.padEnd(28)} ${fwd.padEnd(7)} ${d.weight}`);
    }
  }
  return lines.join('\n');
}

/** Options of the demo (tests shorten it). */
export interface DemoOptions {
  argv: string[];
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Longest wait for each step, ms. */
  stepTimeoutMs?: number;
  /** The parser, director and simulated table (tests pass scripted ones; default: the real parts). */
  wiring?: Partial<Wiring>;
}

/** Runs the demo; resolves with the exit status (0 when every step was seen in the table). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const out = o.out ?? process.stdout;
  const tty = Boolean(out.isTTY) && !o.argv.includes('--plain');
  const stepTimeout = o.stepTimeoutMs ?? 15_000;
  const write = (s: string) => void out.write(s);

  const port = await choosePort();
  const work = mkdtempSync(join(tmpdir(), 'ldirectord-demo-'));
  const cfgPath = join(work, 'demo.cf');
  writeFileSync(cfgPath, readFileSync(demoConfigPath(), 'utf8').replaceAll(`:${DEFAULT_PORT}`, `:${port}`));

  const servers: Server[] = REALS.map((ip) => ({ ip }));
  const startAll = async () => {
    for (const s of servers) if (!s.server) s.server = await listen(s.ip, port, 'OK');
  };
  const stop = async (s: Server) => {
    await close(s.server);
    s.server = undefined;
  };
  const sorry = await listen(SORRY, port, 'Sorry, we are down for maintenance');

  let director: Director | undefined;
  let sim: SimDriverLike | undefined;
  const log: string[] = [];
  let phase = 'starting';
  let prev = '';
  let shown = '';
  let failed = false;

  const table = async (): Promise<{ text: string; t: IpvsTable }> => {
    const t = await sim!.read();
    const text = typeof sim!.render === 'function' ? sim!.render() : renderTable(t);
    return { text, t };
  };

  // On a terminal: lines that are new since the last change stay highlighted for two seconds, and
  // lines that went away are shown struck through for as long.
  let base = '';
  let highlightUntil = 0;
  const draw = async () => {
    const { text } = await table();
    if (tty) {
      if (text !== prev) {
        base = prev;
        prev = text;
        highlightUntil = Date.now() + 2000;
      }
      const hl = Date.now() < highlightUntil && base !== '';
      const was = new Set(base.split('\n'));
      const now = new Set(text.split('\n'));
      const lines = text.split('\n').map((l) => (hl && !was.has(l) ? `\x1b[1;32;7m${l}\x1b[0m` : l));
      if (hl) for (const l of base.split('\n')) if (!now.has(l)) lines.push(`\x1b[9;31m${l}\x1b[0m`);
      const screen =
        `\x1b[H\x1b[2J\x1b[1mldirectord demo\x1b[0m: simulated IPVS table, web servers 127.0.0.2-4:${port}, sorry server ${SORRY}:${port}\n\n` +
        `\x1b[36m${phase}\x1b[0m\n\n${lines.join('\n')}\n\nlog:\n${log.slice(-8).map((l) => `  ${l}`).join('\n')}\n`;
      if (screen !== shown) write(screen);
      shown = screen;
    } else if (text !== prev) {
      write(`\n--- IPVS table (${phase}) ---\n${text}\n`);
      prev = text;
    }
  };

  const onEvent = (e: EngineEvent) => {
    let msg: string | undefined;
    if (e.type === 'log' && e.level !== 'debug') msg = e.message;
    else if (e.type === 'real-state' || e.type === 'fallback') msg = e.message;
    if (!msg) return;
    log.push(msg);
    if (!tty) write(`log: ${msg}\n`);
  };

  const waitFor = async (what: string, ok: (t: IpvsTable) => boolean) => {
    phase = what;
    if (!tty) write(`\n== ${what}\n`);
    const end = Date.now() + stepTimeout;
    for (;;) {
      await draw();
      if (ok((await table()).t)) return;
      if (Date.now() > end) {
        failed = true;
        write(`demo: the table did not reach the expected state in ${stepTimeout / 1000}s (${what})\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const dests = (t: IpvsTable) => t.services.flatMap((s) => s.dests);
  const has = (t: IpvsTable, ip: string) => dests(t).some((d) => d.rs.startsWith(`${ip}:`) && d.weight > 0);

  // Ctrl-C: give the terminal its cursor back and stop the servers.
  const onInt = () => {
    if (tty) write('\x1b[?25h\n');
    void Promise.all([...servers.map(stop), close(sorry)]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onInt);
  try {
    await startAll();
    const wiring = wire(o.wiring);
    sim = wiring.createSimDriver();
    const config = await wiring.parseConfig(cfgPath);
    director = wiring.createDirector({
      driver: sim,
      host: systemHost,
      hostname: 'demo',
      clock: systemClock,
      log: (level: string, m: string) => onEvent({ type: 'log', level: level as 'info', message: m }),
    });
    director.onEvent(onEvent);
    if (tty) write('\x1b[?25l');
    else write(`ldirectord demo: web servers on 127.0.0.2-4:${port}, sorry server ${SORRY}:${port}, simulated IPVS table\n\n== Starting the director: the first checks put the web servers in the table\n`);
    phase = 'Starting the director: the first checks put the web servers in the table';
    await director.start(config);
    await waitFor('All three web servers are up: each is in the table with its weight', (t) => REALS.every((ip) => has(t, ip)));
    await new Promise((r) => setTimeout(r, 1500));
    await stop(servers[1]);
    await waitFor('Web server 127.0.0.3 stopped: its check fails and the director removes it', (t) => !has(t, REALS[1]) && has(t, REALS[0]));
    await new Promise((r) => setTimeout(r, 1500));
    await stop(servers[0]);
    await stop(servers[2]);
    await waitFor('All web servers stopped: the sorry server 127.0.0.5 takes over', (t) => has(t, SORRY) && !REALS.some((ip) => has(t, ip)));
    await new Promise((r) => setTimeout(r, 1500));
    await startAll();
    await waitFor('The web servers are back: they return to the table and the sorry server leaves', (t) => REALS.every((ip) => has(t, ip)) && !has(t, SORRY));
    await new Promise((r) => setTimeout(r, 1000));
    await draw();
  } finally {
    process.off('SIGINT', onInt);
    phase = 'stopping';
    if (director) await director.stop().catch(() => {});
    if (tty) write('\x1b[?25h');
    await Promise.all([...servers.map(stop), close(sorry)]);
    rmSync(work, { recursive: true, force: true });
  }
  write(failed ? '\ndemo: finished, but a step was not seen in the table.\n' : '\ndemo: finished; every change was seen in the table.\n');
  return failed ? 1 : 0;
}

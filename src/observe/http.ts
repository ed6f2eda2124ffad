/**
 * The daemon's one HTTP listener (opt-in: LDIRECTORD_HTTP=host:port, or its older name
 * LDIRECTORD_METRICS): the status page at `/`, the same data at `/status.json`, Prometheus metrics at
 * `/metrics`, and the page's own script, style sheet and icon under `/static/`. Nothing else.
 *
 * Read-only: GET and HEAD; any other method gets 405 and changes nothing. Everything the page loads
 * comes from here; the Content-Security-Policy forbids inline script and every other origin. A hostile
 * client costs bounded memory and time: limited header size, URL length and connections, timeouts on
 * slow requests and idle sockets, and the data built at most once per 500 ms whoever asks.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../model/config.js';
import type { DirectorSnapshot } from '../engine/types.js';
import type { TableReading } from '../ipvs/recording.js';
import { parseListen } from './metrics.js';
import { renderPage } from './page.js';
import { buildStatus, CheckHistory, type IpvsDriverInfo, type StatusData, type SyncDaemonReport } from './status.js';

/** What the listener shows, read when asked. */
export interface StatusSource {
  snapshot(): DirectorSnapshot;
  cycleCount(): number;
  config(): Config | undefined;
  /** The last IPVS table read, if the driver records it. */
  table?(): TableReading | undefined;
  /** Asks for a fresher table read (bounded by the driver: at most one read per interval). */
  refreshTable?(): void;
  daemonStatus(): string;
  /** The IPVS driver the daemon chose, when known. */
  ipvsDriver?(): IpvsDriverInfo | undefined;
  /** The configured sync daemons as last seen. */
  syncDaemons?(): readonly SyncDaemonReport[];
  configPath: string;
  pid?: number;
  hostname?: string;
  metrics(): string;
}

export interface StatusServerOptions {
  /** Simultaneous connections (default 64). */
  readonly maxConnections?: number;
  /** How long a built page or JSON body is reused (default 500 ms). */
  readonly cacheMs?: number;
  /** Checks kept per real for the history strip (default 20). */
  readonly historySize?: number;
  /** How often the history looks for a completed check cycle (default 500 ms). */
  readonly sampleMs?: number;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

const MAX_URL = 2048;

const STATIC: Record<string, string> = {
  'status.js': 'text/javascript; charset=utf-8',
  'status.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** The page's files, read once (from `static/` beside `src/` and `dist/`). */
function loadStatic(log: StatusServerOptions['log']): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of Object.keys(STATIC)) {
    try {
      out.set(name, readFileSync(new URL(`../../static/${name}`, import.meta.url)));
    } catch (e) {
      log?.('warn', `status page: can not read static/${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** The host part of a Host header (`name:port`, `[v6]:port`). */
function hostOf(header: string): string {
  const m = /^\[([^\]]*)\](?::\d+)?$/.exec(header) ?? /^([^:]*)(?::\d+)?$/.exec(header);
  return m ? m[1] : header;
}

export class StatusServer {
  readonly server: http.Server;
  private readonly history: CheckHistory;
  private readonly statics: Map<string, Buffer>;
  private readonly cache = new Map<string, { at: number; body: Buffer; type: string }>();
  private sampler?: NodeJS.Timeout;
  private lastCycle = -1;
  private readonly loopbackOnly: boolean;

  constructor(
    private readonly host: string,
    private readonly source: StatusSource,
    private readonly o: StatusServerOptions = {},
  ) {
    this.history = new CheckHistory(o.historySize ?? 20);
    this.statics = loadStatic(o.log);
    this.loopbackOnly = isLoopback(host);
    this.server = http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) =>
      this.handle(req, res),
    );
    this.server.maxConnections = o.maxConnections ?? 64;
    this.server.maxRequestsPerSocket = 1000;
    this.server.setTimeout(30_000, (socket) => socket.destroy());
    // CONNECT (and upgrades, which this listener never grants) get the same refusal, on the raw socket.
    const refuse = (_req: http.IncomingMessage, socket: import('node:stream').Duplex): void => {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };
    this.server.on('connect', refuse);
    this.server.on('upgrade', refuse);
    this.server.on('clientError', (_e, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Listens on host:port only; resolves once listening. */
  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (e) => this.o.log?.('error', `status page: ${e.message}`));
    this.sample();
    this.sampler = setInterval(() => this.sample(), this.o.sampleMs ?? 500);
    this.sampler.unref();
  }

  address(): { address: string; port: number } {
    return this.server.address() as { address: string; port: number };
  }

  close(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Adds the checks of each completed cycle to the history (one snapshot per cycle, not per request). */
  private sample(): void {
    try {
      const n = this.source.cycleCount();
      if (n === this.lastCycle) return;
      this.lastCycle = n;
      this.history.record(this.source.snapshot());
    } catch {
      /* no director yet */
    }
  }

  /** The status data now (for tests and the daemon). */
  status(withHistory = true): StatusData {
    const s = this.source;
    return buildStatus({
      snapshot: s.snapshot(),
      table: s.table?.(),
      config: s.config(),
      history: this.history,
      pid: s.pid,
      ipvsDriver: s.ipvsDriver?.(),
      ...(s.syncDaemons ? { syncDaemons: s.syncDaemons() } : {}),
      configPath: s.configPath,
      status: s.daemonStatus(),
      now: Date.now(),
      withHistory,
    });
  }

  private cached(key: string, type: string, build: () => string): { body: Buffer; type: string } {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && now - hit.at < (this.o.cacheMs ?? 500) && now >= hit.at) return hit;
    const entry = { at: now, body: Buffer.from(build(), 'utf8'), type };
    this.cache.set(key, entry);
    return entry;
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: Buffer | string, extra: Record<string, string> = {}): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(code, { ...COMMON_HEADERS, 'content-type': type, 'content-length': String(buf.length), ...extra });
    res.end(req.method === 'HEAD' ? undefined : buf);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const text = 'text/plain; charset=utf-8';
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        // Nothing here changes anything; the body is not read, and the connection ends after the answer.
        this.send(req, res, 405, text, 'read-only: use GET or HEAD; changes go through the ldirectord command line\n', { allow: 'GET, HEAD', connection: 'close' });
        return;
      }
      const rawUrl = req.url ?? '/';
      if (rawUrl.length > MAX_URL) {
        this.send(req, res, 414, text, 'URI too long\n', { connection: 'close' });
        return;
      }
      // A page on a loopback address answers only to loopback names, so that a foreign web site cannot
      // read it through a browser by rebinding its own name to 127.0.0.1.
      const host = req.headers.host ?? '';
      if (this.loopbackOnly && !isLoopback(hostOf(host))) {
        this.send(req, res, 421, text, 'this listener answers to loopback host names only\n', { connection: 'close' });
        return;
      }
      let url: URL;
      try {
        url = new URL(rawUrl, 'http://status.invalid');
      } catch {
        this.send(req, res, 400, text, 'bad request\n', { connection: 'close' });
        return;
      }
      const dyn = { 'cache-control': 'no-store' };
      switch (url.pathname) {
        case '/':
        case '/index.html': {
          this.source.refreshTable?.();
          const page = this.cached('page', 'text/html; charset=utf-8', () => renderPage(this.status(true), { hostname: this.source.hostname }));
          this.send(req, res, 200, page.type, page.body, dyn);
          return;
        }
        case '/status.json': {
          this.source.refreshTable?.();
          const withHistory = url.searchParams.get('history') !== '0';
          const key = withHistory ? 'json' : 'json-nohist';
          const j = this.cached(key, 'application/json; charset=utf-8', () => JSON.stringify(this.status(withHistory)) + '\n');
          this.send(req, res, 200, j.type, j.body, dyn);
          return;
        }
        case '/metrics': {
          const m = this.cached('metrics', 'text/plain; version=0.0.4; charset=utf-8', () => this.source.metrics());
          this.send(req, res, 200, m.type, m.body, dyn);
          return;
        }
        default: {
          const name = url.pathname.startsWith('/static/') ? url.pathname.slice('/static/'.length) : '';
          const file = Object.hasOwn(STATIC, name) ? this.statics.get(name) : undefined;
          if (file) {
            this.send(req, res, 200, STATIC[name], file, { 'cache-control': 'no-cache' });
            return;
          }
          this.send(req, res, 404, text, 'not found\n');
        }
      }
    } catch (e) {
      this.o.log?.('error', `status page: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) this.send(req, res, 500, text, 'internal error\n', { connection: 'close' });
      else res.destroy();
    }
  }
}

/** The listener's address from the environment: LDIRECTORD_HTTP, else LDIRECTORD_METRICS. */
export function httpSpec(env: NodeJS.ProcessEnv): string | undefined {
  return env.LDIRECTORD_HTTP || env.LDIRECTORD_METRICS || undefined;
}

/** Starts the listener on `host:port` (`[v6]:port`). */
export async function serveStatus(spec: string, source: StatusSource, o: StatusServerOptions = {}): Promise<StatusServer> {
  const { host, port } = parseListen(spec);
  const s = new StatusServer(host, source, o);
  await s.listen(port);
  return s;
}

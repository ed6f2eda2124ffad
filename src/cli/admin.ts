/**
 * `ldirectord [configfile] drain|maint|ready REAL [VIRTUAL]` and `weight REAL N [VIRTUAL]` (issue 18): the
 * command line side of the control socket. Names are resolved here (the daemon gets addresses).
 *
 * Exit codes: 0 done; 1 refused (unknown real or virtual, bad value: one line on stderr); 3 no daemon
 * for that config (as `status`); 4 not permitted.
 */
import net from 'node:net';
import { systemResolver, type Resolver } from '../config/resolver.js';
import { MAX_ADMIN_WEIGHT, parseEndpoint, type AdminOp } from '../engine/admin.js';
import { controlSocketPath, type ControlReply } from '../daemon/control.js';
import { runDir } from '../daemon/pidfile.js';
import { flushLogs } from '../log/logger.js';

export const ADMIN_VERBS: readonly AdminOp[] = ['drain', 'maint', 'ready', 'weight'];

/** How long to wait for the daemon's answer (it may be in the middle of a reload's first checks). */
const ANSWER_MS = 60_000;

export interface AdminCommandOptions {
  readonly verb: AdminOp;
  readonly args: readonly string[];
  readonly cfgName: string;
  readonly configPath: string;
  readonly resolver?: Resolver;
  readonly socketPath?: string;
  readonly out?: (s: string) => void;
  readonly err?: (s: string) => void;
}

class Refused extends Error {}

/** Resolves `host:port`, `[ip6]:port`, `ip`, `host` (port may be a service name) to `ip:port` / `[ip6]:port` / `ip`. */
export async function resolveEndpoint(text: string, r: Resolver, what: string): Promise<string> {
  const lit = parseEndpoint(text);
  if (lit) return lit.ip.includes(':') ? `[${lit.ip}]${lit.port !== undefined ? `:${lit.port}` : ''}` : text;
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::([^:]+))?$/.exec(text);
  if (!m) throw new Refused(`bad ${what} ${JSON.stringify(text)}: expected ip:port or host:port`);
  const host = m[1].replace(/^\[|\]$/g, '');
  let port: number | undefined;
  if (m[2] !== undefined) {
    port = /^\d+$/.test(m[2]) ? Number(m[2]) : r.servicePort(m[2], 'tcp') ?? r.servicePort(m[2], '');
    if (port === undefined || port > 65535) throw new Refused(`bad ${what} ${JSON.stringify(text)}: unknown port ${m[2]}`);
  }
  const ip = (await r.lookupHost(host, 4)) ?? (await r.lookupHost(host, 6));
  if (ip === undefined) throw new Refused(`bad ${what} ${JSON.stringify(text)}: can not resolve ${host}`);
  const addr = ip.includes(':') ? `[${ip}]` : ip;
  return port !== undefined ? `${addr}:${port}` : ip.includes(':') ? `[${ip}]` : ip;
}

/** Builds the request from the command's arguments; throws Refused with the one-line reason. */
export async function buildRequest(verb: AdminOp, args: readonly string[], r: Resolver): Promise<Record<string, unknown>> {
  const usage = verb === 'weight' ? 'weight REAL N [VIRTUAL]' : `${verb} REAL [VIRTUAL]`;
  const n = verb === 'weight' ? 2 : 1;
  if (args.length < n || args.length > n + 1) throw new Refused(`usage: ldirectord [configfile] ${usage}`);
  const req: Record<string, unknown> = { op: verb, real: await resolveEndpoint(args[0], r, 'real server') };
  if (verb === 'weight') {
    const w = args[1];
    if (!/^\d+$/.test(w) || Number(w) > MAX_ADMIN_WEIGHT) throw new Refused(`bad weight ${JSON.stringify(w)}: expected an integer from 0 to ${MAX_ADMIN_WEIGHT}`);
    req.weight = Number(w);
  }
  const v = args[n];
  if (v !== undefined) req.virtual = /^\d+$/.test(v) ? v : await resolveEndpoint(v, r, 'virtual service');
  return req;
}

type Sent = { reply: ControlReply } | { connectError: string };

/** Sends one request line and reads one reply line. */
export function sendRequest(path: string, req: unknown, timeoutMs = ANSWER_MS): Promise<Sent> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    let buf = '';
    let connected = false;
    const done = (v: Sent): void => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done({ reply: { ok: false, code: 'internal', message: `no answer from the daemon within ${timeoutMs / 1000}s` } }), timeoutMs);
    c.on('connect', () => {
      connected = true;
      c.write(JSON.stringify(req) + '\n');
    });
    c.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done({ reply: JSON.parse(buf.slice(0, nl)) as ControlReply });
      } catch {
        done({ reply: { ok: false, code: 'internal', message: 'unreadable answer from the daemon' } });
      }
    });
    c.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) done({ connectError: e.code ?? e.message });
      else done({ reply: { ok: false, code: 'internal', message: `control socket: ${e.message}` } });
    });
    c.on('close', () => done({ reply: { ok: false, code: 'internal', message: 'the daemon closed the connection without an answer' } }));
  });
}

/** Runs the verb; resolves with the exit status. Never throws. */
export async function adminCommand(o: AdminCommandOptions): Promise<number> {
  const out = o.out ?? ((s: string) => (flushLogs(), void process.stdout.write(s)));
  const err = o.err ?? ((s: string) => (flushLogs(), void process.stderr.write(s)));
  let req: Record<string, unknown>;
  try {
    req = await buildRequest(o.verb, o.args, o.resolver ?? systemResolver);
  } catch (e) {
    err(`ldirectord: ${e instanceof Refused ? e.message : `bad arguments: ${String(e)}`}\n`);
    return 1;
  }
  const path = o.socketPath ?? controlSocketPath(runDir(), o.cfgName);
  const r = await sendRequest(path, req);
  if ('connectError' in r) {
    if (r.connectError === 'EACCES' || r.connectError === 'EPERM') {
      err(`ldirectord: not permitted: ${path} is for root only\n`);
      return 4;
    }
    if (r.connectError === 'ENOENT' || r.connectError === 'ECONNREFUSED') {
      out(`ldirectord is stopped for ${o.configPath}\n`);
      return 3;
    }
    err(`ldirectord: can not reach the daemon at ${path}: ${r.connectError}\n`);
    return 1;
  }
  const reply = r.reply;
  if (!reply || typeof reply !== 'object') {
    err('ldirectord: unreadable answer from the daemon\n');
    return 1;
  }
  if (reply.ok) {
    out(`${reply.message}\n`);
    for (const c of reply.changes ?? []) {
      const state = c.admin === 'none' ? (c.adminWeight !== null ? `weight ${c.adminWeight}` : 'ready') : c.admin;
      out(`  ${c.real} (${c.virtual}): ${state}${c.changed ? '' : ' (unchanged)'}\n`);
    }
    return 0;
  }
  err(`ldirectord: ${String(reply.message).split('\n')[0]}\n`);
  return reply.code === 'not-permitted' ? 4 : 1;
}

/**
 * The control socket (issue 18): `<rundir>/ldirectord.<CFGNAME>.sock`, a unix stream socket created with
 * mode 0600 (owner: the daemon's user, root in production), through which `ldirectord drain|maint|ready|
 * weight` reach the running daemon.
 *
 * Protocol: one JSON object per line, at most MAX_REQUEST_BYTES, answered by one JSON line:
 *   -> {"op":"drain","real":"10.0.0.2:80","virtual":"10.0.0.1:80"}      ("weight": N with op "weight")
 *   <- {"ok":true,"message":"...","changes":[...]}
 *   <- {"ok":false,"code":"refused|bad-request|too-large|not-permitted|busy|internal","message":"..."}
 *
 * Who may: the kernel lets only the socket's owner (and root) connect (mode 0600); then the peer's uid is
 * read through sock_diag (peercred.ts) and must be root or the daemon's own uid. Whatever arrives, the
 * daemon neither dies nor blocks: bounded line size, connections, idle time and pending output; a
 * malformed or oversized request gets an error reply and changes nothing.
 */
import net, { type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { checkAdminRequest, type AdminChange, type AdminRequest } from '../engine/admin.js';
import { peerUid as defaultPeerUid } from './peercred.js';

/** Longest request line (bytes, newline excluded). */
export const MAX_REQUEST_BYTES = 4096;
/** Connections served at once; more are closed at once. */
export const MAX_CONNECTIONS = 16;
/** A connection idle this long is closed (ms). */
export const IDLE_MS = 10_000;
/** Requests per connection. */
const MAX_REQUESTS = 64;
/** Output not read by the client beyond this closes the connection (bytes). */
const MAX_PENDING_OUTPUT = 64 * 1024;

export type ControlErrorCode = 'refused' | 'bad-request' | 'too-large' | 'not-permitted' | 'busy' | 'internal';

export type ControlReply =
  | { readonly ok: true; readonly message: string; readonly changes?: readonly AdminChange[] }
  | { readonly ok: false; readonly code: ControlErrorCode; readonly message: string };

export interface ControlServerOptions {
  readonly path: string;
  /** Applies a checked request; must not throw (a throw is answered as internal). */
  readonly handle: (req: AdminRequest, uid: number | undefined) => Promise<ControlReply>;
  readonly log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** Who may change things (default: root or this process's uid). */
  readonly allowed?: (uid: number) => boolean;
  /** The peer's uid (default: sock_diag); undefined = unknown (the socket's mode is then the only check). */
  readonly peerUid?: (s: Socket) => Promise<number | undefined>;
}

/** The control socket's path beside the pid file. */
export function controlSocketPath(rundir: string, cfgName: string): string {
  return `${rundir}/ldirectord.${cfgName}.sock`;
}

export class ControlServer {
  private server?: net.Server;
  private ino?: number;
  private readonly conns = new Set<Socket>();
  private warnedUnknown = false;

  constructor(private readonly o: ControlServerOptions) {}

  /** Listens; false (logged) when the path is taken by a live daemon or is not a socket, or listen fails. */
  async start(): Promise<boolean> {
    const { path, log } = this.o;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      st = undefined;
    }
    if (st) {
      if (!st.isSocket()) {
        log('error', `Control socket not started: ${path} exists and is not a socket`);
        return false;
      }
      if (await answers(path)) {
        log('error', `Control socket not started: another daemon listens on ${path}`);
        return false;
      }
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
    }
    const server = net.createServer({ allowHalfOpen: false, pauseOnConnect: false }, (s) => this.onConnection(s));
    server.maxConnections = MAX_CONNECTIONS;
    server.on('error', (e) => log('error', `Control socket ${path}: ${e.message}`));
    // The socket file is created by bind() inside listen(): with this umask it never exists with a
    // mode wider than 0600, not even for a moment.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      log('error', `Control socket not started: ${path}: ${(e as Error).message}`);
      return false;
    } finally {
      process.umask(old);
    }
    try {
      chmodSync(path, 0o600);
      this.ino = lstatSync(path).ino;
    } catch {
      /* created above */
    }
    this.server = server;
    return true;
  }

  /** Stops listening, closes every connection and removes the socket file if it is still ours. */
  close(): void {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.close();
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    try {
      if (lstatSync(this.o.path).ino === this.ino) unlinkSync(this.o.path);
    } catch {
      /* gone */
    }
  }

  private onConnection(s: Socket): void {
    this.conns.add(s);
    s.on('close', () => this.conns.delete(s));
    s.on('error', () => s.destroy());
    s.setTimeout(IDLE_MS, () => s.destroy());
    const uid = (this.o.peerUid ?? defaultPeerUid)(s).catch(() => undefined);
    let buf: Buffer = Buffer.alloc(0);
    let queue: Promise<void> = Promise.resolve();
    let requests = 0;
    let closing = false;
    const reply = (r: ControlReply): void => {
      if (s.destroyed) return;
      s.write(JSON.stringify(r) + '\n');
      if (s.writableLength > MAX_PENDING_OUTPUT) s.destroy();
    };
    s.on('data', (chunk: Buffer) => {
      if (closing) return;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) break;
        const line = buf.subarray(0, nl);
        buf = buf.subarray(nl + 1);
        if (line.length > MAX_REQUEST_BYTES) {
          closing = true;
          queue = queue.then(() => reply({ ok: false, code: 'too-large', message: `request longer than ${MAX_REQUEST_BYTES} bytes` }));
          void queue.then(() => s.end());
          return;
        }
        const text = line.toString('utf8').trim();
        if (text === '') continue;
        if (++requests > MAX_REQUESTS) {
          closing = true;
          queue = queue.then(() => reply({ ok: false, code: 'busy', message: `more than ${MAX_REQUESTS} requests on one connection` }));
          void queue.then(() => s.end());
          return;
        }
        queue = queue.then(() => this.request(text, uid).then(reply, (e) => reply({ ok: false, code: 'internal', message: String(e) })));
      }
      if (buf.length > MAX_REQUEST_BYTES) {
        closing = true;
        buf = Buffer.alloc(0);
        queue = queue.then(() => reply({ ok: false, code: 'too-large', message: `request longer than ${MAX_REQUEST_BYTES} bytes` }));
        void queue.then(() => s.end());
      }
    });
  }

  private async request(text: string, uidP: Promise<number | undefined>): Promise<ControlReply> {
    let x: unknown;
    try {
      x = JSON.parse(text);
    } catch {
      return { ok: false, code: 'bad-request', message: 'not JSON' };
    }
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return { ok: false, code: 'bad-request', message: 'expected a JSON object' };
    const req = checkAdminRequest(x as Record<string, unknown>);
    if (typeof req === 'string') return { ok: false, code: 'bad-request', message: req };
    const uid = await uidP;
    if (uid === undefined) {
      if (!this.warnedUnknown) {
        this.warnedUnknown = true;
        this.o.log('warn', `Control socket: the peer's uid can not be read (no sock_diag); the socket's mode 0600 is the only check`);
      }
    } else if (!(this.o.allowed ?? defaultAllowed)(uid)) {
      this.o.log('warn', `Control socket: ${req.op} ${req.real} refused: uid ${uid} is not permitted`);
      return { ok: false, code: 'not-permitted', message: `uid ${uid} is not permitted (root only)` };
    }
    try {
      return await this.o.handle(req, uid);
    } catch (e) {
      this.o.log('error', `Control socket: ${req.op} ${req.real} failed: ${e instanceof Error ? e.message : String(e)}`);
      return { ok: false, code: 'internal', message: 'internal error (logged)' };
    }
  }
}

function defaultAllowed(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

/** Does a daemon answer on this socket path? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    const t = setTimeout(() => {
      c.destroy();
      resolve(true); // connected but silent, or slow: someone is there
    }, 500);
    c.once('connect', () => {
      clearTimeout(t);
      c.destroy();
      resolve(true);
    });
    c.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

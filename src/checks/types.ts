import type net from 'node:net';
import type { RealServer, VirtualService } from '../model/config.js';

/**
 * Why a check failed, by layer (HAProxy's taxonomy): the engine and `show` report it; a check never
 * throws for a failure of the real server, it returns one of these.
 */
export type CheckStatus =
  | 'ok'
  | 'l4-refused' // connection refused / reset / unreachable
  | 'l4-timeout' // no connection within the timeout
  | 'tls' // TLS handshake failed
  | 'l7-timeout' // connected, but no (complete) answer in time
  | 'l7-bad-response' // protocol error, unexpected greeting, wrong answer
  | 'l7-bad-status' // e.g. HTTP status not 2xx, SMTP/FTP reply code
  | 'l7-no-match' // answer did not match receive=
  | 'proc-exit' // external check exited non-zero
  | 'proc-timeout' // external check killed at the timeout
  | 'proc-error' // external check could not be run
  | 'maintenance' // forced down by a maintenancedir file
  | 'internal'; // a bug or a missing capability (e.g. no CAP_NET_RAW for ping)

/** CheckResult is a value: the outcome of one check of one real. */
export interface CheckResult {
  readonly ok: boolean;
  readonly status: CheckStatus;
  /** Human text built up step by step ("connect 10.0.0.1:80; read: timeout"). */
  readonly message: string;
  readonly durationMs: number;
  /** Set on a combined check's connect pass, which the original logs as a plain connect check. */
  readonly pass?: 'connect';
}

/**
 * CheckTarget is everything one check needs, derived from the virtual and the real by
 * src/checks/target.ts (the original's ld_setup / ld_checkport / URL rules).
 */
export interface CheckTarget {
  readonly virtual: VirtualService;
  readonly real: RealServer;
  /** Address to contact, IPv6 without brackets. */
  readonly ip: string;
  readonly family: 4 | 6;
  /** Port to contact: checkport, else the real's port if > 0, else the service's well-known port. */
  readonly port: number;
  /** Request text in effect (per-real or virtual), with the original's leading "/". */
  readonly request: string;
  /** Receive pattern in effect (per-real or virtual); may be empty. */
  readonly receive: string;
  /** For http/https/http_proxy: the URL the original would fetch. */
  readonly url: string;
}

/** CheckContext: timeouts already chosen by the caller (checktimeout or negotiatetimeout, in ms). */
export interface CheckContext {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Hostname used where the original uses it (sip login default, ftp password). */
  readonly hostname: string;
  /** How TCP connections are opened (default: net.connect); tests record or redirect them. */
  readonly connectFactory?: ConnectFactory;
}

/**
 * ConnectFactory opens a TCP socket, as net.connect does. Every TCP connection a check makes itself
 * goes through src/checks/net.ts's connect with it (the SQL and LDAP drivers open their own).
 */
export type ConnectFactory = (opts: net.NetConnectOpts) => net.Socket;

/** CheckModule: one per check type or negotiate service. Stateless between runs; never counts failures. */
export interface CheckModule {
  readonly name: string;
  run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult>;
}

/**
 * CheckJob is one real to check in a cycle. Reals that the original shares (same real id, see
 * get_real_id_str) become one job whose result the engine applies to every virtual listing it.
 */
export interface CheckJob {
  /** The original's real id string; the engine's key for the real's shared state. */
  readonly key: string;
  readonly virtual: VirtualService;
  readonly real: RealServer;
}

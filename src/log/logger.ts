/**
 * The daemon's log, written where the original writes it (`[ld_log]`):
 *  - `-d`: every message on stderr, as is;
 *  - `supervised=yes`: stdout, `[<localtime>] <msg>`;
 *  - `logfile="/path"`: appended, `[<localtime>|<CFGNAME>|<pid>] <msg>`, the file opened and closed per
 *    message as the original does (so logrotate needs no signal; reopen() exists for HUP anyway);
 *  - `logfile="<facility>"`: the local syslog socket, RFC 3164, tag `ldirectord[<pid>]`.
 * Each call is formatted straight into its line (pino, used before, made a JSON record of it that was parsed
 * back at once: some 30 modules and a few MB of RSS for nothing).
 */
import { appendFileSync } from 'node:fs';
import type { LogTarget } from '../model/config.js';
import { perlLocaltime } from '../util/localtime.js';
import { SyslogSink } from './syslog.js';

/** Levels of the daemon's log. debug lines are written only in `-d` mode. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where log lines go. */
export type LogDestination =
  | { readonly kind: 'stderr' }
  | { readonly kind: 'supervised' }
  | LogTarget;

/** LdLogger is the daemon's logger. Messages are the original's texts, one line each. */
export interface LdLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** Sends later lines somewhere else (a reload may change logfile=). */
  setDestination(dest: LogDestination): void;
  /** Reopens the destination (HUP, for logrotate). */
  reopen(): void;
  /** Flushes and closes (the syslog helper). */
  close(): Promise<void>;
  readonly destination: LogDestination;
}

export interface LoggerOptions {
  destination: LogDestination;
  /** CFGNAME, the config name as given (file lines carry it). */
  cfgName: string;
  /** Write debug lines (the `-d` mode). */
  debug?: boolean;
  /** Clock for the line's time; default Date.now. */
  now?: () => number;
  /** Syslog socket path; default env LDIRECTORD_SYSLOG_SOCKET, else /dev/log. */
  syslogSocket?: string;
}

interface Sink {
  write(msg: string, level: LogLevel): void;
  reopen(): void;
  close(): Promise<void>;
}

function makeSink(dest: LogDestination, opts: LoggerOptions): Sink {
  const now = opts.now ?? Date.now;
  switch (dest.kind) {
    case 'stderr':
      return {
        write: (msg) => void process.stderr.write(`${msg}\n`),
        reopen: () => {},
        close: async () => {},
      };
    case 'supervised':
      return {
        write: (msg) => void process.stdout.write(`[${perlLocaltime(now())}] ${msg}\n`),
        reopen: () => {},
        close: async () => {},
      };
    case 'file':
      return {
        write: (msg) => {
          // Open, append, close per line, as the original does: logrotate can move the file at any time.
          try {
            appendFileSync(dest.path, `[${perlLocaltime(now())}|${opts.cfgName}|${process.pid}] ${msg}\n`, { mode: 0o640 });
          } catch {
            try {
              process.stderr.write(`${msg}\n`);
            } catch {
              /* stderr may be closed in a daemon */
            }
          }
        },
        reopen: () => {},
        close: async () => {},
      };
    case 'syslog': {
      const s = new SyslogSink({
        facility: dest.facility,
        socket: opts.syslogSocket ?? process.env.LDIRECTORD_SYSLOG_SOCKET ?? '/dev/log',
        tag: 'ldirectord',
        pid: process.pid,
        now,
      });
      return { write: (msg, level) => s.write(msg, level), reopen: () => s.reopen(), close: () => s.close() };
    }
  }
}

/** createLogger builds the daemon's logger. */
export function createLogger(opts: LoggerOptions): LdLogger {
  let destination = opts.destination;
  let sink = makeSink(destination, opts);
  // Each message, without its trailing newlines, is written line by line (a multi-line message, a
  // stack, is several log lines); debug ones only in the -d mode.
  const write = (level: LogLevel, m: string): void => {
    const msg = String(m).replace(/\n+$/, '');
    for (const line of msg.split('\n')) sink.write(line, level);
  };
  return {
    debug: (m) => {
      if (opts.debug) write('debug', m);
    },
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    setDestination(dest) {
      const old = sink;
      destination = dest;
      sink = makeSink(dest, opts);
      void old.close();
    },
    reopen: () => sink.reopen(),
    close: () => sink.close(),
    get destination() {
      return destination;
    },
  };
}

/** The log destination a config asks for, given the command-line mode. */
export function destinationFor(target: LogTarget, mode: { debug: boolean; supervised: boolean }): LogDestination {
  if (mode.debug) return { kind: 'stderr' };
  if (mode.supervised) return { kind: 'supervised' };
  return target;
}

/**
 * The daemon's log, written where the original writes it (`[ld_log]`):
 *  - `-d`: every message on stderr, as is;
 *  - `supervised=yes`: stdout, `[<localtime>] <msg>`;
 *  - `logfile="/path"`: appended, `[<localtime>|<CFGNAME>|<pid>] <msg>`, the file opened and closed per
 *    message as the original does (so logrotate needs no signal; reopen() exists for HUP anyway), except that
 *    the lines of one turn of the event loop are appended in one open (see BufferedSink);
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
  /** Writes the lines held for this turn of the event loop now (before a child writes to the same stderr). */
  flush(): void;
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
  flush(): void;
  reopen(): void;
  close(): Promise<void>;
}

/** Sinks holding lines, and whether the process 'exit' hook that writes them is in place. */
const holding = new Set<BufferedSink>();
let exitHook = false;
/** Above this many characters held, a sink writes at once (a long burst of lines keeps bounded memory). */
const HOLD_MAX = 64 * 1024;

/**
 * flushLogs writes every held log line now: before a direct write to stdout/stderr (the command line's own
 * messages), so that the order on the terminal stays the order of the calls. Exits flush by themselves.
 */
export function flushLogs(): void {
  for (const s of [...holding]) s.flush();
}

/**
 * BufferedSink holds the lines of one turn of the event loop and writes them in one call at its end
 * (setImmediate), or when the process exits, or before a direct write (flushLogs). A start with 10 000
 * reals logs some 40 000 lines; one write system call (or one open, write and close of the logfile) per
 * line was 0.46 s of such a start's 6.6 s under the profiler. Each line gets the time it was logged at.
 */
class BufferedSink implements Sink {
  private msgs: string[] = [];
  private times: number[] = [];
  private chars = 0;
  private timer: NodeJS.Immediate | undefined;
  constructor(
    private readonly now: () => number,
    /** A held message as its line, with the time it was logged at. */
    private readonly format: (msg: string, t: number) => string,
    /** Writes the lines; gets the bare messages too (a logfile that cannot be written falls back to stderr). */
    private readonly out: (text: string, msgs: readonly string[]) => void,
  ) {}

  write(msg: string): void {
    this.msgs.push(msg);
    this.times.push(this.now());
    this.chars += msg.length;
    if (this.chars > HOLD_MAX) this.flush();
    else if (!this.timer) {
      this.timer = setImmediate(() => this.flush());
      holding.add(this);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', flushLogs);
      }
    }
  }

  flush(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    holding.delete(this);
    const { msgs, times } = this;
    if (!msgs.length) return;
    this.msgs = [];
    this.times = [];
    this.chars = 0;
    let text = '';
    for (let i = 0; i < msgs.length; i++) text += this.format(msgs[i]!, times[i]!);
    this.out(text, msgs);
  }

  reopen(): void {}

  async close(): Promise<void> {
    this.flush();
  }
}

function makeSink(dest: LogDestination, opts: LoggerOptions): Sink {
  const now = opts.now ?? Date.now;
  // The line's time to the second, made once per second (a burst of lines shares it).
  let sec = NaN;
  let text = '';
  const stamp = (t: number): string => {
    const s = Math.floor(t / 1000);
    if (s !== sec) {
      sec = s;
      text = perlLocaltime(t);
    }
    return text;
  };
  switch (dest.kind) {
    case 'stderr':
      return new BufferedSink(
        () => 0, // -d lines carry no time
        (msg) => `${msg}\n`,
        (text) => void process.stderr.write(text),
      );
    case 'supervised':
      return new BufferedSink(
        now,
        (msg, t) => `[${stamp(t)}] ${msg}\n`,
        (text) => void process.stdout.write(text),
      );
    case 'file':
      return new BufferedSink(
        now,
        (msg, t) => `[${stamp(t)}|${opts.cfgName}|${process.pid}] ${msg}\n`,
        (text, msgs) => {
          // Open, append, close per write, as the original does per line: logrotate can move the file at any time.
          try {
            appendFileSync(dest.path, text, { mode: 0o640 });
          } catch {
            try {
              // The bare messages, as before.
              process.stderr.write(msgs.map((m) => `${m}\n`).join(''));
            } catch {
              /* stderr may be closed in a daemon */
            }
          }
        },
      );
    case 'syslog': {
      const s = new SyslogSink({
        facility: dest.facility,
        socket: opts.syslogSocket ?? process.env.LDIRECTORD_SYSLOG_SOCKET ?? '/dev/log',
        tag: 'ldirectord',
        pid: process.pid,
        now,
      });
      return { write: (msg, level) => s.write(msg, level), flush: () => {}, reopen: () => s.reopen(), close: () => s.close() };
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
    const text = String(m);
    if (!text.includes('\n')) {
      sink.write(text, level); // the common case: one line
      return;
    }
    for (const line of text.replace(/\n+$/, '').split('\n')) sink.write(line, level);
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
      old.flush();
      destination = dest;
      sink = makeSink(dest, opts);
      void old.close();
    },
    reopen: () => sink.reopen(),
    flush: () => sink.flush(),
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

/**
 * The line-protocol runner: ftp (control), smtp, pop, imap and nntp checks are declarative step lists
 * (connect, send, expect /regex/) run by runLineScript, HAProxy tcp-check style. Every read is capped
 * (MAX_REPLY_BYTES), the whole script runs under the check's hard deadline, and each step adds to the
 * message so a failure says which step and which answer.
 */
import type net from 'node:net';
import type { CheckContext, CheckModule, CheckResult, CheckStatus, CheckTarget, ConnectFactory } from '../types.js';
import { CheckError, type Trail } from '../result.js';
import { MAX_REPLY_BYTES, connectStep, runNegotiation } from './common.js';

/**
 * Framing says how one reply is delimited:
 * - `line`: one CRLF/LF-terminated line (POP3 status, IMAP greeting);
 * - `coded`: an FTP/SMTP reply, `ddd-` continuation lines up to the final `ddd ` line;
 * - `{ tagged }`: IMAP, untagged `*` lines up to the line starting with the tag;
 * - `{ chunk }`: whatever one read returns, at most `chunk` bytes (the original's sysread in check_nntp).
 */
export type Framing = 'line' | 'coded' | { readonly tagged: string } | { readonly chunk: number };

/** Branch: steps run instead of failing when a reply does not match `ok` but matches `when`. */
export interface Branch {
  readonly when: RegExp;
  readonly steps: readonly Step[];
}

/** Step is one instruction of a line script. */
export type Step =
  /** Send one command line (CRLF appended). `shown` replaces the text in the message (passwords). */
  | { readonly op: 'send'; readonly line: string; readonly shown?: string }
  /**
   * Read one reply and test the text the framing yields (the final line; the whole chunk) against `ok`.
   * On mismatch: run `orElse` if its `when` matches, else continue when `soft` (the original ignored the
   * error), else fail with `status` (default l7-bad-status).
   */
  | {
      readonly op: 'expect';
      readonly label: string;
      readonly framing: Framing;
      readonly ok: RegExp;
      readonly status?: CheckStatus;
      readonly soft?: boolean;
      readonly orElse?: Branch;
    }
  /** Send a line without waiting for its answer (QUIT/LOGOUT: politeness, never a failure). */
  | { readonly op: 'bye'; readonly line: string }
  /** Protocol work that is not a plain exchange (FTP data connection); may throw CheckError. */
  | { readonly op: 'custom'; readonly label: string; run(io: LineIo): Promise<void> };

/** LineScript is a whole check: how to connect and what to exchange. */
export interface LineScript {
  readonly tls?: boolean;
  readonly steps: readonly Step[];
}

/** Reply is one framed answer: all its lines, and the text that `expect` tests. */
export interface Reply {
  readonly lines: readonly string[];
  readonly last: string;
}

/**
 * LineReader buffers a socket and hands out framed replies, never holding more than `cap` bytes of
 * one reply. Reads wait for data, end of stream or the abort signal.
 */
export class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly sock: net.Socket,
    private readonly signal: AbortSignal,
    private readonly cap = MAX_REPLY_BYTES,
  ) {
    sock.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      // Stop pulling from a peer that floods us; the next read notices the overflow.
      if (this.buf.length > this.cap) sock.pause();
      this.poke();
    });
    sock.on('end', () => {
      this.ended = true;
      this.poke();
    });
    sock.on('close', () => {
      this.ended = true;
      this.poke();
    });
    sock.on('error', (err) => {
      this.error = err;
      this.poke();
    });
    signal.addEventListener('abort', () => this.poke(), { once: true });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async more(what: string): Promise<void> {
    if (this.signal.aborted) throw this.signal.reason;
    if (this.error) throw new CheckError('l7-bad-response', `${what}: ${this.error.message}`);
    if (this.ended) {
      throw new CheckError('l7-bad-response', `${what}: connection closed${this.buf.length ? ` after ${JSON.stringify(this.buf.toString('latin1').slice(0, 80))}` : ''}`);
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** line reads one line (without its CR LF); `used` bytes already taken by the current reply count to the cap. */
  async line(what: string, used = 0): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0 && used + nl + 1 <= this.cap) {
        const text = this.buf.subarray(0, nl).toString('latin1').replace(/\r$/, '');
        this.buf = this.buf.subarray(nl + 1);
        this.sock.resume();
        return text;
      }
      if (used + this.buf.length > this.cap) {
        throw new CheckError('l7-bad-response', `${what}: reply longer than ${this.cap} bytes`);
      }
      if (this.error === undefined && this.ended && this.buf.length > 0) {
        // A last line without its terminator still counts, as for Perl's readline at EOF.
        const text = this.buf.toString('latin1').replace(/\r$/, '');
        this.buf = Buffer.alloc(0);
        return text;
      }
      await this.more(what);
    }
  }

  /** chunk returns what one read delivers, at most `max` bytes. */
  async chunk(what: string, max: number): Promise<string> {
    while (this.buf.length === 0) await this.more(what);
    const take = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(take.length);
    this.sock.resume();
    return take.toString('latin1');
  }

  /** reply reads one reply framed as asked. */
  async reply(what: string, framing: Framing): Promise<Reply> {
    if (typeof framing === 'object' && 'chunk' in framing) {
      const text = await this.chunk(what, framing.chunk);
      return { lines: [text], last: text };
    }
    const lines: string[] = [];
    let used = 0;
    for (;;) {
      const l = await this.line(what, used);
      used += l.length + 2;
      lines.push(l);
      if (framing === 'line') break;
      if (framing === 'coded') {
        // RFC 959/5321: the reply ends at a line "ddd " (or a bare "ddd"); "ddd-" and other lines continue.
        if (/^\d{3}(?: |$)/.test(l)) break;
      } else if (l.toUpperCase().startsWith(`${framing.tagged.toUpperCase()} `)) {
        break;
      }
    }
    return { lines, last: lines[lines.length - 1] ?? '' };
  }
}

/** LineIo is what a custom step gets: the connection, its reader, and the check's trail/signal/target. */
export interface LineIo {
  readonly sock: net.Socket;
  readonly reader: LineReader;
  readonly trail: Trail;
  readonly signal: AbortSignal;
  readonly target: CheckTarget;
  /** How TCP connections are opened (the check context's; FTP's data connection uses it too). */
  readonly connectFactory?: ConnectFactory;
  /** send writes one command line (CRLF appended). */
  send(line: string, shown?: string): void;
}

function shorten(text: string): string {
  const t = text.replace(/[\r\n]+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

async function runSteps(steps: readonly Step[], io: LineIo): Promise<void> {
  for (const step of steps) {
    switch (step.op) {
      case 'send':
        io.send(step.line, step.shown);
        break;
      case 'bye':
        if (!io.sock.destroyed && io.sock.writable) io.sock.write(`${step.line}\r\n`);
        break;
      case 'custom':
        await step.run(io);
        break;
      case 'expect': {
        const reply = await io.reader.reply(step.label, step.framing);
        if (step.ok.test(reply.last)) {
          io.trail.add(`${step.label}: ${shorten(reply.last)}`);
          break;
        }
        if (step.orElse && step.orElse.when.test(reply.last)) {
          io.trail.add(`${step.label}: ${shorten(reply.last)}`);
          await runSteps(step.orElse.steps, io);
          break;
        }
        if (step.soft) {
          io.trail.add(`${step.label}: ${shorten(reply.last)} (ignored)`);
          break;
        }
        throw new CheckError(step.status ?? 'l7-bad-status', `${step.label}: unexpected ${JSON.stringify(shorten(reply.last))}`);
      }
    }
  }
}

/**
 * runLineScript connects to the target (TLS when the script says so, without verification), runs the
 * steps and closes. Up iff every step passed; a failure is reported with the layer of the failing step.
 */
export function runLineScript(script: LineScript, target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
  return runNegotiation(ctx, async (trail, signal) => {
    const sock = await connectStep(target.ip, target.port, trail, signal, { tls: script.tls, factory: ctx.connectFactory });
    try {
      const reader = new LineReader(sock, signal);
      const io: LineIo = {
        sock,
        reader,
        trail,
        signal,
        target,
        connectFactory: ctx.connectFactory,
        send(line, shown) {
          trail.add(`sent ${shown ?? line}`);
          sock.write(`${line}\r\n`);
        },
      };
      await runSteps(script.steps, io);
      return trail.up();
    } finally {
      // end() lets a queued QUIT reach the peer; destroy soon after so nothing lingers.
      sock.end();
      setTimeout(() => sock.destroy(), 200).unref();
    }
  });
}

/** lineScriptModule: the CheckModule `name` that runs the script built for each target. */
export function lineScriptModule(name: string, script: (target: CheckTarget) => LineScript): CheckModule {
  return { name, run: (target, ctx) => runLineScript(script(target), target, ctx) };
}

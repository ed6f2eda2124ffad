/**
 * The outcome side of the check toolkit: CheckError (the one failure type a check throws inside
 * itself), Trail (the message and duration of one check run, which turns into a CheckResult) and the
 * two ways an unknown error is rendered in messages. A check's outcome is a value, never a throw.
 */
import { performance } from 'node:perf_hooks';
import { LdirError } from '../util/errors.js';
import type { CheckResult, CheckStatus } from './types.js';

/**
 * CheckError is a check failure on its way through async code, with the layer that failed (`status`,
 * HAProxy's taxonomy: l4-refused, l4-timeout, tls, l7-timeout, l7-bad-response, ..., internal) and the
 * stable code LDIR_ERR_CHECK. A check turns it into a down CheckResult; it never escapes a check.
 * `cause` keeps the underlying error (an errno error, a TLS error) when there is one.
 */
export class CheckError extends LdirError {
  readonly status: CheckStatus;
  constructor(status: CheckStatus, message: string, options?: { cause?: unknown }) {
    super('LDIR_ERR_CHECK', message, options);
    this.name = 'CheckError';
    this.status = status;
  }
}

/**
 * Trail measures one check run and accumulates its message step by step ("connect 127.0.0.1:21;
 * greeting 220; ..."); up/down turn it into the CheckResult. A check with a one-part message just
 * passes it to up/down.
 */
export class Trail {
  private readonly parts: string[] = [];
  private readonly started = performance.now();
  /** Whether the TCP (or TLS) connection is established: decides l4-timeout versus l7-timeout. */
  connected = false;

  add(part: string): void {
    this.parts.push(part);
  }

  get text(): string {
    return this.parts.join('; ');
  }

  result(ok: boolean, status: CheckStatus, last?: string): CheckResult {
    if (last !== undefined) this.add(last);
    return { ok, status, message: this.text, durationMs: Math.round(performance.now() - this.started) };
  }

  up(last?: string): CheckResult {
    return this.result(true, 'ok', last);
  }

  down(status: CheckStatus, last?: string): CheckResult {
    return this.result(false, status, last);
  }
}

/** errText: the most useful short text of an unknown error (its code first; a CheckError's message). */
export function errText(err: unknown): string {
  if (err instanceof LdirError) return err.message;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const cause = e?.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (typeof e?.code === 'string' && !e.code.startsWith('UND_ERR')) return e.code;
  if (typeof e?.message === 'string' && e.message) return e.message;
  return String(err);
}

/** describeError: an error in full, its code then its text (the code once); a CheckError's message. */
export function describeError(err: unknown): string {
  if (err instanceof LdirError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/** Building CheckResults: a check's outcome is a value, never a throw. */
import { performance } from 'node:perf_hooks';
import type { CheckResult, CheckStatus } from './types.js';

/** Stopwatch measures one check run and turns its outcome into a CheckResult. */
export class Stopwatch {
  private readonly started = performance.now();

  /** Milliseconds since the stopwatch started. */
  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  up(message: string): CheckResult {
    return { ok: true, status: 'ok', message, durationMs: Math.round(this.elapsedMs) };
  }

  down(status: CheckStatus, message: string): CheckResult {
    return { ok: false, status, message, durationMs: Math.round(this.elapsedMs) };
  }
}

/** hostPort formats an address and port as the messages show them (`[v6]:port`). */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** errText: the most useful short text of an unknown error (code first). */
export function errText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const cause = e?.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (typeof e?.code === 'string' && !e.code.startsWith('UND_ERR')) return e.code;
  if (typeof e?.message === 'string' && e.message) return e.message;
  return String(err);
}

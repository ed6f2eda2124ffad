/**
 * runCycle: one check pass. Every job of the cycle is started at once up to a bound on concurrent
 * checks (each holds at most one socket or child), and each result is delivered as soon as it arrives,
 * so a fast real's recovery is never held up by a slow one. Jobs are the deduplicated reals (one per
 * real id, as the original checks a shared real once per pass).
 */
import { setMaxListeners } from 'node:events';
import { hostname as osHostname } from 'node:os';
import type { VirtualService } from '../model/config.js';
import { realIdString } from './target.js';
import type { CheckJob, CheckResult } from './types.js';

/**
 * buildCheckJobs lists a cycle's jobs in the original's order (virtuals, then reals, as configured).
 * With dedupe (the original's fork=no pass, _ld_main_check_all) a real id already listed is skipped:
 * the first virtual listing it is the one whose settings check it, and the engine applies the result
 * to every virtual with the same key. Without dedupe (fork=yes: one child per virtual) every real of
 * every virtual is a job.
 */
export function buildCheckJobs(virtuals: readonly VirtualService[], opts: { dedupe?: boolean } = {}): CheckJob[] {
  const dedupe = opts.dedupe ?? true;
  const seen = new Set<string>();
  const jobs: CheckJob[] = [];
  for (const virtual of virtuals) {
    for (const real of virtual.reals) {
      const key = realIdString(virtual, real);
      if (dedupe) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      jobs.push({ key, virtual, real });
    }
  }
  return jobs;
}

/** DEFAULT_CONCURRENCY: checks in flight at once (bench: 512 keeps a 1000-real cycle with 100 SYN-dropping reals near checktimeout and 10 000 reals under 100 MB RSS). */
export const DEFAULT_CONCURRENCY = 512;

export type RunCheckFn = (
  job: CheckJob,
  opts: { signal: AbortSignal; hostname: string; combinedState?: Map<string, number> },
) => Promise<CheckResult>;

export interface RunCycleOptions {
  /** The check runner (default: runCheck of ./index.js). */
  readonly runCheck?: RunCheckFn;
  /** Bound on checks in flight (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  /** Called once per job, as results arrive. An exception thrown here does not stop the cycle; the first one is rethrown when the cycle ends. */
  readonly onResult: (job: CheckJob, result: CheckResult) => void;
  /** Aborting stops starting new jobs and cancels those in flight (each still reports a result). */
  readonly signal?: AbortSignal;
  readonly hostname?: string;
  /** Counters of combined checks across cycles (pass the same map every cycle). */
  readonly combinedState?: Map<string, number>;
}

/** runCycle resolves when every started job has reported its result. */
export async function runCycle(jobs: readonly CheckJob[], opts: RunCycleOptions): Promise<void> {
  const run: RunCheckFn = opts.runCheck ?? (await import('./index.js')).runCheck;
  const limit = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  // One listener per check in flight hangs on the cycle's signal: a signal of our own, linked to the caller's.
  const cycleAc = new AbortController();
  setMaxListeners(0, cycleAc.signal);
  const signal = cycleAc.signal;
  const onOuter = (): void => cycleAc.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onOuter();
  else opts.signal?.addEventListener('abort', onOuter, { once: true });
  const hostname = opts.hostname ?? osHostname();
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !signal.aborted) {
      const job = jobs[next++];
      let result: CheckResult;
      try {
        result = await run(job, { signal, hostname, combinedState: opts.combinedState });
      } catch (err) {
        result = { ok: false, status: 'internal', message: `check crashed: ${err instanceof Error ? err.message : String(err)}`, durationMs: 0 };
      }
      try {
        opts.onResult(job, result);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(limit, jobs.length); i++) workers.push(worker());
  await Promise.all(workers);
  opts.signal?.removeEventListener('abort', onOuter);
  if (firstError !== undefined) throw firstError;
}

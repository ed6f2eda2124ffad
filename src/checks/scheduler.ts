/**
 * runCycle: one check pass. Every job of the cycle is started at once up to a bound on concurrent
 * checks (each holds at most one socket or child), and each result is delivered as soon as it arrives,
 * so a fast real's recovery is never held up by a slow one. Jobs are the deduplicated reals (one per
 * real id, as the original checks a shared real once per pass).
 */
import { setMaxListeners } from 'node:events';
import { hostname as osHostname } from 'node:os';
import type { VirtualService } from '../model/config.js';
import { runCheck } from './dispatch.js';
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

/**
 * DEFAULT_CONCURRENCY: checks started and not yet slow, at once. A trade-off measured with bench/checks.mjs:
 * a bigger bound starts a cycle's last checks sooner (1000 reals with 100 silent ones: 2.35 s at 128,
 * 2.25 s at 256, 2.2 s at 512, checktimeout=2), a smaller one keeps each check less time in flight, so
 * less of it survives into the old generation (10 000 reals: peak RSS 93, 95, 98 MB).
 */
export const DEFAULT_CONCURRENCY = 256;

/** A check still running after this long is slow (a silent real): it no longer counts against DEFAULT_CONCURRENCY. */
export const SLOW_AFTER_MS = 50;

/** DEFAULT_MAX_IN_FLIGHT: the hard bound on checks (sockets) in flight, slow ones included. */
export const DEFAULT_MAX_IN_FLIGHT = 1024;

export type RunCheckFn = (
  job: CheckJob,
  opts: { signal: AbortSignal; hostname: string; combinedState?: Map<string, number> },
) => Promise<CheckResult>;

export interface RunCycleOptions {
  /** The check runner (default: runCheck of ./dispatch.js). */
  readonly runCheck?: RunCheckFn;
  /** Bound on checks in flight that are not slow yet (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  /** Hard bound on checks in flight, slow ones included (default DEFAULT_MAX_IN_FLIGHT, at least concurrency). */
  readonly maxInFlight?: number;
  /** After how long a running check counts as slow (default SLOW_AFTER_MS). */
  readonly slowAfterMs?: number;
  /** Called once per job, as results arrive. An exception thrown here does not stop the cycle; the first one is rethrown when the cycle ends. */
  readonly onResult: (job: CheckJob, result: CheckResult) => void;
  /** Aborting stops starting new jobs and cancels those in flight (each still reports a result). */
  readonly signal?: AbortSignal;
  readonly hostname?: string;
  /** Counters of combined checks across cycles (pass the same map every cycle). */
  readonly combinedState?: Map<string, number>;
}

interface Slot {
  readonly at: number;
  young: boolean;
}

/**
 * runCycle resolves when every started job has reported its result. Jobs start in order while fewer than
 * `concurrency` young (not yet slow) checks and fewer than `maxInFlight` checks in all are running; a
 * check running longer than `slowAfterMs` stops counting as young, so reals that swallow SYNs hold
 * sockets, not the cycle: the others go on being checked at full pace meanwhile.
 */
export async function runCycle(jobs: readonly CheckJob[], opts: RunCycleOptions): Promise<void> {
  const run: RunCheckFn = opts.runCheck ?? runCheck;
  const youngLimit = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const maxInFlight = Math.max(youngLimit, Math.floor(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
  const slowMs = Math.max(1, opts.slowAfterMs ?? SLOW_AFTER_MS);
  // One listener per check in flight hangs on the cycle's signal: a signal of our own, linked to the caller's.
  const cycleAc = new AbortController();
  setMaxListeners(0, cycleAc.signal);
  const signal = cycleAc.signal;
  const onOuter = (): void => cycleAc.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onOuter();
  else opts.signal?.addEventListener('abort', onOuter, { once: true });
  const hostname = opts.hostname ?? osHostname();
  const runOpts = { signal, hostname, combinedState: opts.combinedState };
  let next = 0;
  let active = 0;
  let young = 0;
  let firstError: unknown;
  // Young checks in start order (so the oldest is first); slots of finished checks are dropped as met.
  let lane: Slot[] = [];
  let head = 0;
  let sweeper: NodeJS.Timeout | undefined;

  await new Promise<void>((resolve) => {
    const finishIfDone = (): void => {
      if (active > 0 || (next < jobs.length && !signal.aborted)) return;
      clearInterval(sweeper);
      resolve();
    };
    const done = (job: CheckJob, slot: Slot, result: CheckResult): void => {
      active--;
      if (slot.young) {
        slot.young = false;
        young--;
      }
      try {
        opts.onResult(job, result);
      } catch (err) {
        firstError ??= err;
      }
      launch();
      finishIfDone();
    };
    const launch = (): void => {
      while (next < jobs.length && !signal.aborted && young < youngLimit && active < maxInFlight) {
        const job = jobs[next++];
        const slot: Slot = { at: performance.now(), young: true };
        lane.push(slot);
        active++;
        young++;
        let p: Promise<CheckResult>;
        try {
          p = run(job, runOpts);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (r) => done(job, slot, r),
          (err: unknown) =>
            done(job, slot, { ok: false, status: 'internal', message: `check crashed: ${err instanceof Error ? err.message : String(err)}`, durationMs: 0 }),
        );
      }
    };
    const sweep = (): void => {
      const now = performance.now();
      while (head < lane.length && (!lane[head].young || now - lane[head].at >= slowMs)) {
        const slot = lane[head++];
        if (slot.young) {
          slot.young = false;
          young--;
        }
      }
      if (head > 256 && head * 2 > lane.length) {
        lane = lane.slice(head);
        head = 0;
      }
      launch();
    };
    sweeper = setInterval(sweep, Math.max(1, Math.floor(slowMs / 2)));
    sweeper.unref();
    launch();
    finishIfDone();
  });
  opts.signal?.removeEventListener('abort', onOuter);
  if (firstError !== undefined) throw firstError;
}

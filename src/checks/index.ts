/**
 * runCheck: the original's _check_real dispatch for one CheckJob, with the original's timeouts and a
 * hard outer deadline. negotiate → the service's CheckModule; connect → TCP (ping for udp virtuals);
 * ping; external; external-perl; on = up; off = never up; combined = connect, and negotiate every N+1
 * passes (the counter lives in `combinedState`, keyed by the job key).
 */
import type { ServiceName } from '../model/config.js';
import type { ProcessRunner } from '../util/process.js';
import { connectModule } from './connect.js';
import { createExternalModule, createExternalPerlModule, externalModule, externalPerlModule } from './external.js';
import { httpModule } from './http.js';
import { pingModule } from './ping.js';
import { Stopwatch } from './result.js';
import { simpletcpModule } from './simpletcp.js';
import { checkTarget } from './target.js';
import type { CheckContext, CheckJob, CheckModule, CheckResult, CheckStatus, CheckTarget } from './types.js';

export { checkTarget, realIdString, checkPort } from './target.js';
export { translatePerlRegex, perlSubject, perlMatch } from '../util/perl-regex.js';
export { runCycle, buildCheckJobs, DEFAULT_CONCURRENCY } from './scheduler.js';

/** GRACE_MS: how long after its timeout a check that ignores its abort signal may still take. */
export const GRACE_MS = 1000;
/** COMBINED_START: the original's initial (and after-failure) counter of a combined check. */
export const COMBINED_START = 999999;

/** noneModule: service=none, always up (the original's check_none). */
export const noneModule: CheckModule = {
  name: 'none',
  run: async () => new Stopwatch().up('service none: no check'),
};

function missingModule(service: ServiceName): CheckModule {
  return {
    name: service,
    run: async () => new Stopwatch().down('internal', `negotiate ${service}: no check module for this service`),
  };
}

type NegotiateExports = { negotiateModules?: Partial<Record<ServiceName, CheckModule>> };
let negotiateLoad: Promise<Partial<Record<ServiceName, CheckModule>>> | undefined;

/** loadNegotiateModules: the protocol checks of src/checks/negotiate/ when present (cached). */
export function loadNegotiateModules(): Promise<Partial<Record<ServiceName, CheckModule>>> {
  negotiateLoad ??= import('./negotiate/index.js' as string).then(
    (m: NegotiateExports) => m.negotiateModules ?? {},
    () => ({}),
  );
  return negotiateLoad;
}

let registry: Promise<Record<ServiceName, CheckModule>> | undefined;

/** serviceRegistry: every service= of the original mapped to its CheckModule (built once). */
export function serviceRegistry(): Promise<Record<ServiceName, CheckModule>> {
  registry ??= buildRegistry();
  return registry;
}

async function buildRegistry(): Promise<Record<ServiceName, CheckModule>> {
  const neg = await loadNegotiateModules();
  const pick = (s: ServiceName): CheckModule => neg[s] ?? missingModule(s);
  return {
    http: httpModule,
    https: httpModule,
    http_proxy: httpModule,
    simpletcp: simpletcpModule,
    none: noneModule,
    dns: pick('dns'),
    ftp: pick('ftp'),
    imap: pick('imap'),
    imaps: pick('imaps'),
    ldap: pick('ldap'),
    ldaps: pick('ldaps'),
    mysql: pick('mysql'),
    nntp: pick('nntp'),
    oracle: pick('oracle'),
    pgsql: pick('pgsql'),
    pop: pick('pop'),
    pops: pick('pops'),
    radius: pick('radius'),
    sip: pick('sip'),
    smtp: pick('smtp'),
    submission: pick('submission'),
  };
}

export interface RunCheckOptions {
  readonly signal: AbortSignal;
  /** This host's name (sip login default, ftp password...). */
  readonly hostname: string;
  /** Counters of combined checks, keyed by CheckJob.key; required to honour combined's N. */
  readonly combinedState?: Map<string, number>;
  /** Override of the service modules (tests). */
  readonly services?: Partial<Record<ServiceName, CheckModule>>;
  /** ProcessRunner for external checks (tests record calls). */
  readonly runner?: ProcessRunner;
  /** Grace after the timeout before a check that ignores its signal is abandoned (default GRACE_MS). */
  readonly graceMs?: number;
}

interface Plan {
  readonly module: CheckModule;
  /** ctx.timeoutMs handed to the module. */
  readonly timeoutMs: number;
  /** When the module's signal is aborted (its whole budget). */
  readonly budgetMs: number;
  readonly timeoutStatus: CheckStatus;
}

async function negotiatePlan(target: CheckTarget, opts: RunCheckOptions): Promise<Plan> {
  const v = target.virtual;
  const module = opts.services?.[v.service] ?? (await serviceRegistry())[v.service];
  const nt = v.negotiatetimeout * 1000;
  // ldap and radius run under alarm(checktimeout) in the original, with negotiatetimeout inside.
  const budgetMs = v.service === 'ldap' || v.service === 'ldaps' || v.service === 'radius' ? Math.max(nt, v.checktimeout * 1000) : nt;
  return { module, timeoutMs: nt, budgetMs, timeoutStatus: 'l7-timeout' };
}

/** runCheck checks one job as the original's _check_real would, never throwing and never overrunning. */
export async function runCheck(job: CheckJob, opts: RunCheckOptions): Promise<CheckResult> {
  const sw = new Stopwatch();
  const v = job.virtual;
  const target = checkTarget(v, job.real, opts.hostname);
  const ct = v.checktimeout * 1000;
  let plan: Plan;
  let combined: 'negotiate' | 'connect' | undefined;
  switch (v.checktype) {
    case 'on':
      return sw.up('checktype on: no check');
    case 'off':
      return sw.down('maintenance', 'checktype off: the original never brings a real up by checks');
    case 'negotiate':
      plan = await negotiatePlan(target, opts);
      break;
    case 'combined': {
      const n = v.combinedCount ?? 0;
      const count = opts.combinedState?.get(job.key) ?? COMBINED_START;
      if (count >= n) {
        combined = 'negotiate';
        plan = await negotiatePlan(target, opts);
      } else {
        combined = 'connect';
        plan = { module: connectModule, timeoutMs: ct, budgetMs: ct, timeoutStatus: 'l4-timeout' };
      }
      break;
    }
    case 'connect':
      plan =
        v.protocol === 'udp'
          ? { module: pingModule, timeoutMs: ct, budgetMs: ct * Math.max(1, v.checkcount), timeoutStatus: 'l4-timeout' }
          : { module: connectModule, timeoutMs: ct, budgetMs: ct, timeoutStatus: 'l4-timeout' };
      break;
    case 'ping':
      plan = { module: pingModule, timeoutMs: ct, budgetMs: ct * Math.max(1, v.checkcount), timeoutStatus: 'l4-timeout' };
      break;
    case 'external':
      plan = {
        module: opts.runner ? createExternalModule(opts.runner) : externalModule,
        timeoutMs: ct,
        budgetMs: ct,
        timeoutStatus: 'proc-timeout',
      };
      break;
    case 'external-perl':
      plan = {
        module: opts.runner ? createExternalPerlModule(opts.runner) : externalPerlModule,
        timeoutMs: ct,
        budgetMs: ct,
        timeoutStatus: 'proc-timeout',
      };
      break;
    default:
      return sw.down('internal', `unknown checktype ${String(v.checktype)}`);
  }

  const result = await runWithDeadline(plan, target, opts);
  if (combined && opts.combinedState) {
    const st = opts.combinedState;
    if (combined === 'negotiate') {
      if (result.ok) st.set(job.key, 0);
      else if (!st.has(job.key)) st.set(job.key, COMBINED_START);
    } else {
      st.set(job.key, result.ok ? (st.get(job.key) ?? 0) + 1 : COMBINED_START);
    }
  }
  return combined === 'connect' ? { ...result, pass: 'connect' } : result;
}

/**
 * runWithDeadline runs a module with its own signal, aborted at the module's budget or when the caller
 * aborts; if the module has not answered `grace` ms later it is abandoned and the check is down. One
 * timer and one listener per check (this path runs for every real of every cycle).
 */
function runWithDeadline(plan: Plan, target: CheckTarget, opts: RunCheckOptions): Promise<CheckResult> {
  const sw = new Stopwatch();
  const ac = new AbortController();
  const ctx: CheckContext = { timeoutMs: plan.timeoutMs, signal: ac.signal, hostname: opts.hostname };
  const grace = opts.graceMs ?? GRACE_MS;
  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onOuter);
      resolve(r);
    };
    const abandon = (why: string): void => {
      timer = setTimeout(() => settle(sw.down(plan.timeoutStatus, `${plan.module.name}: ${why}; abandoned`)), grace);
    };
    const onBudget = (): void => {
      ac.abort(new Error('check timeout'));
      abandon(`no result ${plan.budgetMs} ms + ${grace} ms grace after start`);
    };
    function onOuter(): void {
      clearTimeout(timer);
      ac.abort(opts.signal.reason);
      abandon('cancelled');
    }
    if (opts.signal.aborted) onOuter();
    else {
      opts.signal.addEventListener('abort', onOuter, { once: true });
      timer = setTimeout(onBudget, plan.budgetMs);
    }
    let run: Promise<CheckResult>;
    try {
      run = plan.module.run(target, ctx);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(settle, (err: unknown) =>
      settle(sw.down('internal', `${plan.module.name}: ${err instanceof Error ? err.message : String(err)}`)),
    );
  });
}

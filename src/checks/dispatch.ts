/**
 * runCheck: the original's _check_real dispatch for one CheckJob, with the original's timeouts and a
 * hard outer deadline. negotiate → the service's CheckModule; connect → TCP (ping for udp virtuals);
 * ping; external; external-perl; on = up; off = never up; combined = connect, and negotiate every N+1
 * passes (the counter lives in `combinedState`, keyed by the job key).
 */
import type { ServiceName } from '../model/config.js';
import type { ProcessRunner } from '../util/process.js';
import { connectModule, tcpConnectCheck } from './connect.js';
import { withDeadline } from './deadline.js';
import { createExternalModule, createExternalPerlModule, externalModule, externalPerlModule } from './external.js';
import { httpModule } from './http.js';
import { negotiateModules } from './negotiate/index.js';
import { pingModule } from './ping.js';
import { Trail } from './result.js';
import { simpletcpModule } from './simpletcp.js';
import { checkPort, checkTarget } from './target.js';
import type { CheckJob, CheckModule, CheckResult, CheckStatus, CheckTarget, ConnectFactory } from './types.js';

/** GRACE_MS: how long after its timeout a check that ignores its abort signal may still take. */
export const GRACE_MS = 1000;
/** COMBINED_START: the original's initial (and after-failure) counter of a combined check. */
export const COMBINED_START = 999999;

/** noneModule: service=none, always up (the original's check_none). */
export const noneModule: CheckModule = {
  name: 'none',
  run: async () => new Trail().up('service none: no check'),
};

/** SERVICE_MODULES: every service= of the original mapped to its CheckModule. */
export const SERVICE_MODULES: Readonly<Record<ServiceName, CheckModule>> = {
  http: httpModule,
  https: httpModule,
  http_proxy: httpModule,
  simpletcp: simpletcpModule,
  none: noneModule,
  ...negotiateModules,
};

/** serviceRegistry: SERVICE_MODULES (a function for its callers; nothing is loaded on demand any more). */
export function serviceRegistry(): Readonly<Record<ServiceName, CheckModule>> {
  return SERVICE_MODULES;
}

export interface RunCheckOptions {
  readonly signal: AbortSignal;
  /** This host's name (sip login default, ftp password...). */
  readonly hostname: string;
  /** Counters of combined checks, keyed by CheckJob.key; required to honour combined's N. */
  readonly combinedState?: Map<string, number>;
  /** Override of the service modules (tests). */
  readonly services?: Partial<Record<ServiceName, CheckModule>>;
  /** How the checks open TCP connections (default net.connect; tests record them). */
  readonly connectFactory?: ConnectFactory;
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

function negotiatePlan(target: CheckTarget, opts: RunCheckOptions): Plan {
  const v = target.virtual;
  const module = opts.services?.[v.service] ?? SERVICE_MODULES[v.service];
  const nt = v.negotiatetimeout * 1000;
  // ldap and radius run under alarm(checktimeout) in the original, with negotiatetimeout inside.
  const budgetMs = v.service === 'ldap' || v.service === 'ldaps' || v.service === 'radius' ? Math.max(nt, v.checktimeout * 1000) : nt;
  return { module, timeoutMs: nt, budgetMs, timeoutStatus: 'l7-timeout' };
}

/** A plan run under checktimeout: once (budget = checktimeout), or ping's checkcount attempts of checktimeout each. */
function checktimeoutPlan(module: CheckModule, ct: number, timeoutStatus: CheckStatus, attempts = 1): Plan {
  return { module, timeoutMs: ct, budgetMs: ct * Math.max(1, attempts), timeoutStatus };
}

/** runCheck checks one job as the original's _check_real would, never throwing and never overrunning. */
export function runCheck(job: CheckJob, opts: RunCheckOptions): Promise<CheckResult> {
  const v = job.virtual;
  // checktype=connect on tcp (or fwm): connectModule under its checktimeout, by its cheaper twin.
  if (v.checktype === 'connect' && v.protocol !== 'udp') {
    return tcpConnectCheck(job.real.ip, checkPort(v, job.real), v.checktimeout * 1000, opts.signal, opts.connectFactory);
  }
  return runOtherCheck(job, opts);
}

async function runOtherCheck(job: CheckJob, opts: RunCheckOptions): Promise<CheckResult> {
  const v = job.virtual;
  const target = checkTarget(v, job.real, opts.hostname);
  const ct = v.checktimeout * 1000;
  let plan: Plan;
  let combined: 'negotiate' | 'connect' | undefined;
  switch (v.checktype) {
    case 'on':
      return new Trail().up('checktype on: no check');
    case 'off':
      return new Trail().down('maintenance', 'checktype off: the original never brings a real up by checks');
    case 'negotiate':
      plan = negotiatePlan(target, opts);
      break;
    case 'combined': {
      const n = v.combinedCount ?? 0;
      const count = opts.combinedState?.get(job.key) ?? COMBINED_START;
      combined = count >= n ? 'negotiate' : 'connect';
      plan = combined === 'negotiate' ? negotiatePlan(target, opts) : checktimeoutPlan(connectModule, ct, 'l4-timeout');
      break;
    }
    case 'connect':
      plan = v.protocol === 'udp' ? checktimeoutPlan(pingModule, ct, 'l4-timeout', v.checkcount) : checktimeoutPlan(connectModule, ct, 'l4-timeout');
      break;
    case 'ping':
      plan = checktimeoutPlan(pingModule, ct, 'l4-timeout', v.checkcount);
      break;
    case 'external':
      plan = checktimeoutPlan(opts.runner ? createExternalModule(opts.runner) : externalModule, ct, 'proc-timeout');
      break;
    case 'external-perl':
      plan = checktimeoutPlan(opts.runner ? createExternalPerlModule(opts.runner) : externalPerlModule, ct, 'proc-timeout');
      break;
    default:
      return new Trail().down('internal', `unknown checktype ${String(v.checktype)}`);
  }

  const result = await runPlan(plan, target, opts);
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
 * runPlan runs a module under the toolkit's deadline: its signal is aborted at the module's budget or
 * when the caller aborts; if the module has not answered `grace` ms later it is abandoned and the check
 * is down with the plan's timeout status.
 */
function runPlan(plan: Plan, target: CheckTarget, opts: RunCheckOptions): Promise<CheckResult> {
  const trail = new Trail();
  const grace = opts.graceMs ?? GRACE_MS;
  const name = plan.module.name;
  return withDeadline((signal) => plan.module.run(target, { timeoutMs: plan.timeoutMs, signal, hostname: opts.hostname, connectFactory: opts.connectFactory }), {
    timeoutMs: plan.budgetMs,
    signal: opts.signal,
    graceMs: grace,
    // The reason the modules see (undici rejects with it): a plain abort, not a check failure of theirs.
    abortReason: (cause) => (cause === 'timeout' ? new Error('check timeout') : opts.signal.reason),
    expired: (cause) =>
      trail.down(plan.timeoutStatus, `${name}: ${cause === 'timeout' ? `no result ${plan.budgetMs} ms + ${grace} ms grace after start` : 'cancelled'}; abandoned`),
    failed: (err) => trail.down('internal', `${name}: ${err instanceof Error ? err.message : String(err)}`),
  });
}

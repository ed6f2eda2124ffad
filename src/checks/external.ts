/**
 * external and external-perl: the original's check_external (system_timeout) and check_external_perl.
 *
 * checkcommand is run directly (no shell) with the original's four arguments: the virtual's address
 * (bracketed for IPv6; the firewall mark for fwm), the virtual's port (0 for fwm), the real's address
 * (bracketed for IPv6) and the real's port. Exit 0 = up. At checktimeout the child gets SIGTERM (the
 * runner follows with SIGKILL after a grace) and the check is down. The original computes the status
 * as `$? >> 8`, so a child killed by a signal counts as exit 0 = up: kept. An exec failure is the
 * original's exit 127 = down.
 *
 * external-perl: the original compiles the file into the daemon and runs it with @ARGV set; here it
 * is run by `perl FILE args` (same exit/die semantics: exit(n≠0) or die = down, returning = up).
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { processRunner, type ProcessRunner } from '../util/process.js';
import { Trail } from './result.js';
import { serverString } from './target.js';
import type { CheckContext, CheckModule, CheckResult, CheckTarget } from './types.js';

/** externalArgs: the four arguments the original passes to checkcommand. */
export function externalArgs(target: CheckTarget): string[] {
  const v = target.virtual;
  const vserver = v.protocol === 'fwm' ? String(v.fwmark ?? 0) : serverString(v.ip, v.family);
  return [vserver, String(v.port), serverString(target.real.ip, target.real.family), String(target.real.port)];
}

function findPerl(): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, 'perl');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

async function runChild(
  sw: Trail,
  label: string,
  file: string,
  args: string[],
  ctx: CheckContext,
  runner: ProcessRunner,
): Promise<CheckResult> {
  const r = await runner(file, args, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, discardOutput: true });
  const cmd = `${label} ${[file, ...args].join(' ')}`;
  if (r.spawnError !== undefined) return sw.down('proc-error', `${cmd}: cannot run: ${r.spawnError}`);
  if (r.timedOut) return sw.down('proc-timeout', `${cmd}: killed after ${ctx.timeoutMs} ms`);
  if (r.exitCode === 0) return sw.up(`${cmd}: exit 0`);
  if (r.exitCode === null && r.signal) {
    // The original's `$? >> 8` is 0 for a child killed by a signal: up.
    return sw.up(`${cmd}: killed by ${r.signal} (counted as exit 0, as the original does)`);
  }
  return sw.down('proc-exit', `${cmd}: exit ${r.exitCode}`);
}

/** createExternalModule: the external check with an injectable ProcessRunner. */
export function createExternalModule(runner: ProcessRunner = processRunner): CheckModule {
  return {
    name: 'external',
    run(target, ctx) {
      const sw = new Trail();
      return runChild(sw, 'external', target.virtual.checkcommand, externalArgs(target), ctx, runner);
    },
  };
}

/** createExternalPerlModule: external-perl, run with `perl` (default: found on PATH; null = none, proc-error). */
export function createExternalPerlModule(runner: ProcessRunner = processRunner, perl: string | null = findPerl() ?? null): CheckModule {
  return {
    name: 'external-perl',
    async run(target, ctx) {
      const sw = new Trail();
      if (!perl) return sw.down('proc-error', `external-perl ${target.virtual.checkcommand}: perl not found on PATH`);
      return runChild(sw, 'external-perl', perl, [target.virtual.checkcommand, ...externalArgs(target)], ctx, runner);
    },
  };
}

export const externalModule: CheckModule = createExternalModule();
export const externalPerlModule: CheckModule = createExternalPerlModule();

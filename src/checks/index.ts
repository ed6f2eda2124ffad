/**
 * The checks layer's entry: what the engine and the daemon use (runCheck for one job, runCycle for a
 * pass, buildCheckJobs and the real id). Own modules only, wired statically; the heavy field libraries
 * (undici, ldapts, mysql2, pg, oracledb, execa) are loaded by the checks that need them, on first use.
 */
export { checkTarget, realIdString, checkPort } from './target.js';
export { translatePerlRegex, perlSubject, perlMatch } from '../util/perl-regex.js';
export { runCycle, buildCheckJobs, DEFAULT_CONCURRENCY } from './scheduler.js';
export { runCheck, serviceRegistry, SERVICE_MODULES, noneModule, GRACE_MS, COMBINED_START, type RunCheckOptions } from './dispatch.js';

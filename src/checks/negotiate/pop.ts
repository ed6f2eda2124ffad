/**
 * pop and pops (check_pop, Mail::POP3Client): a "+OK" greeting; when login is set, USER/PASS must both
 * get "+OK" and STAT too (POP3Client logs in and then STATs); then QUIT. pops is the same over TLS
 * without certificate verification.
 */
import type { CheckModule, CheckTarget } from '../types.js';
import { runLineScript, type LineScript, type Step } from './line-script.js';

const OK = /^\+OK/i;

/** popScript builds the step list for the virtual's login/passwd. */
export function popScript(login: string, passwd: string, tls: boolean): LineScript {
  const steps: Step[] = [{ op: 'expect', label: 'greeting', framing: 'line', ok: OK }];
  if (login !== '') {
    steps.push(
      { op: 'send', line: `USER ${login}` },
      { op: 'expect', label: 'USER', framing: 'line', ok: OK },
      { op: 'send', line: `PASS ${passwd}`, shown: 'PASS ****' },
      { op: 'expect', label: 'PASS', framing: 'line', ok: OK },
      { op: 'send', line: 'STAT' },
      { op: 'expect', label: 'STAT', framing: 'line', ok: OK },
    );
  }
  steps.push({ op: 'bye', line: 'QUIT' });
  return { tls, steps };
}

function popModule(name: string, tls: boolean): CheckModule {
  return {
    name,
    run: (target: CheckTarget, ctx) => runLineScript(popScript(target.virtual.login, target.virtual.passwd, tls), target, ctx),
  };
}

/** pop negotiate check (POP3, plain). */
export const pop = popModule('pop', false);
/** pops negotiate check (POP3 over TLS). */
export const pops = popModule('pops', true);

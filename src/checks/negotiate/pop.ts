/**
 * pop and pops (check_pop, Mail::POP3Client): a "+OK" greeting; when login is set, USER/PASS must both
 * get "+OK" and STAT too (POP3Client logs in and then STATs); then QUIT. pops is the same over TLS
 * without certificate verification.
 */
import { lineScriptModule, type LineScript, type Step } from './line-script.js';

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

/** pop negotiate check (POP3, plain). */
export const pop = lineScriptModule('pop', (t) => popScript(t.virtual.login, t.virtual.passwd, false));
/** pops negotiate check (POP3 over TLS). */
export const pops = lineScriptModule('pops', (t) => popScript(t.virtual.login, t.virtual.passwd, true));

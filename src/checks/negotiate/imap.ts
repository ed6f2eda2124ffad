/**
 * imap and imaps (check_imap/check_imaps, Net::IMAP::Simple[::SSL]): the greeting must be "* OK" or
 * "* PREAUTH"; when login is set, `LOGIN user "pass"` must get a tagged OK; then LOGOUT. Tags count from
 * 0 as Net::IMAP::Simple's do. imaps is the same over TLS without certificate verification.
 */
import { lineScriptModule, type LineScript, type Step } from './line-script.js';

/** imapQuote quotes a password as Net::IMAP::Simple's _escape does (backslash and double quote escaped). */
export function imapQuote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** imapScript builds the step list for the virtual's login/passwd. */
export function imapScript(login: string, passwd: string, tls: boolean): LineScript {
  const steps: Step[] = [
    { op: 'expect', label: 'greeting', framing: 'line', ok: /^\*\s+(?:OK|PREAUTH)/i, status: 'l7-bad-response' },
  ];
  let tag = 0;
  if (login !== '') {
    steps.push(
      { op: 'send', line: `${tag} LOGIN ${login} ${imapQuote(passwd)}`, shown: `${tag} LOGIN ${login} ****` },
      { op: 'expect', label: 'LOGIN', framing: { tagged: String(tag) }, ok: new RegExp(`^${tag}\\s+OK`, 'i') },
    );
    tag++;
  }
  steps.push({ op: 'bye', line: `${tag} LOGOUT` });
  return { tls, steps };
}

/** imap negotiate check. */
export const imap = lineScriptModule('imap', (t) => imapScript(t.virtual.login, t.virtual.passwd, false));
/** imaps negotiate check (IMAP over TLS). */
export const imaps = lineScriptModule('imaps', (t) => imapScript(t.virtual.login, t.virtual.passwd, true));

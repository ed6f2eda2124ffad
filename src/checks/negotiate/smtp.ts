/**
 * smtp and submission: the original's check_smtp builds a Net::SMTP object, which reads a 2xx greeting
 * and says EHLO (HELO when EHLO gets a 5xx), then QUITs. The domain is Net::SMTP's default.
 */
import { lineScriptModule, type LineScript } from './line-script.js';

/** SMTP_HELLO_DOMAIN is Net::SMTP's default hello domain, which the original never overrides. */
export const SMTP_HELLO_DOMAIN = 'localhost.localdomain';

/** smtpScript: greeting 2xx, EHLO 2xx or (on 5xx) HELO 2xx, QUIT. */
export const smtpScript: LineScript = {
  steps: [
    { op: 'expect', label: 'greeting', framing: 'coded', ok: /^2\d\d/ },
    { op: 'send', line: `EHLO ${SMTP_HELLO_DOMAIN}` },
    {
      op: 'expect',
      label: 'EHLO',
      framing: 'coded',
      ok: /^2\d\d/,
      orElse: {
        when: /^5\d\d/,
        steps: [
          { op: 'send', line: `HELO ${SMTP_HELLO_DOMAIN}` },
          { op: 'expect', label: 'HELO', framing: 'coded', ok: /^2\d\d/ },
        ],
      },
    },
    { op: 'bye', line: 'QUIT' },
  ],
};

/** smtp negotiate check. */
export const smtp = lineScriptModule('smtp', () => smtpScript);
/** submission is the same check as smtp (the original dispatches both to check_smtp). */
export const submission = lineScriptModule('submission', () => smtpScript);

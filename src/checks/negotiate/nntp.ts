/**
 * nntp (check_nntp): connect, wait for data, read one chunk of at most 64 bytes; up iff it starts with "2".
 */
import { lineScriptModule, type LineScript } from './line-script.js';

/** NNTP_READ_BYTES is the original's single sysread size. */
export const NNTP_READ_BYTES = 64;

/** nntpScript: one read of ≤ 64 bytes that must start with "2"; the original then just closes. */
export const nntpScript: LineScript = {
  steps: [{ op: 'expect', label: 'greeting', framing: { chunk: NNTP_READ_BYTES }, ok: /^2/ }],
};

/** nntp negotiate check. */
export const nntp = lineScriptModule('nntp', () => nntpScript);

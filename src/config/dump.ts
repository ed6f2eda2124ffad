/**
 * dumpConfig: the resolved model as a JSON-safe object (for `ldirectord dump`, tests and admins),
 * with secrets masked.
 */
import type { Config, ConfigWarning } from '../model/config.js';

/** The text that replaces a non-empty passwd= or secret= in dumps. */
export const MASK = '********';

/** dumpConfig returns a plain, JSON-safe copy of `config` with passwd and secret masked. */
export function dumpConfig(config: Config): unknown {
  return {
    file: config.file,
    global: structuredClone(config.global),
    virtuals: config.virtuals.map((v) => ({
      ...structuredClone(v),
      passwd: v.passwd === '' ? '' : MASK,
      secret: v.secret === '' ? '' : MASK,
    })),
    warnings: config.warnings.map((w) => ({ ...w })),
  };
}

/** formatWarning prints a parser warning as `FILE:LINE: warning: message` (`FILE: warning: …` for line 0). */
export function formatWarning(w: ConfigWarning): string {
  return w.line > 0 ? `${w.file}:${w.line}: warning: ${w.message}` : `${w.file}: warning: ${w.message}`;
}

/**
 * Ending a command with an exit status after everything is written: thrown by the command line and the
 * start path, caught by the command line's main().
 */
import type { LdLogger } from '../log/logger.js';

/** Thrown (internally) to end main() with an exit status after everything is written. */
export class Exit {
  constructor(readonly code: number) {}
}

/** ld_exit: logs "Exiting with exit_status N: msg" when N≠0 or in debug mode, then ends. */
export function ldExit(logger: LdLogger | undefined, debug: boolean, code: number, message: string): never {
  if (logger && (code !== 0 || debug)) logger.info(`Exiting with exit_status ${code}: ${message}`);
  throw new Exit(code);
}

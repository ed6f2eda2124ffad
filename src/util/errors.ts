/**
 * Typed errors. Every fault the project raises carries a stable `code`; config errors also carry
 * FILE:LINE and the offending text, and print as `FILE:LINE: message`.
 */
export type LdirErrorCode =
  | 'LDIR_ERR_CONFIG'
  | 'LDIR_ERR_CONFIG_NOT_FOUND'
  | 'LDIR_ERR_IPVSADM'
  | 'LDIR_ERR_IPVSADM_NOT_FOUND'
  | 'LDIR_ERR_DAEMON'
  /** A netlink message the codec cannot encode, or a kernel answer it cannot read (src/ipvs/netlink: CodecError). */
  | 'LDIR_ERR_NETLINK'
  | 'LDIR_ERR_USAGE'
  /** A health check's failure inside a check (src/checks: CheckError); it becomes a down result, never escapes. */
  | 'LDIR_ERR_CHECK';

/** LdirError is the base of every error the project throws on purpose. */
export class LdirError extends Error {
  readonly code: LdirErrorCode;
  constructor(code: LdirErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LdirError';
  }
}

/** ConfigError is a rejection of ldirectord.cf at a known line (line 0 = the file as a whole). */
export class ConfigError extends LdirError {
  readonly file: string;
  readonly line: number;
  /** The offending text (the line as written, or the value), if any. */
  readonly text?: string;
  constructor(file: string, line: number, message: string, text?: string) {
    super('LDIR_ERR_CONFIG', message);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.text = text;
  }
  /** `FILE:LINE: message` (or `FILE: message` when the line is unknown). */
  format(): string {
    return this.line > 0 ? `${this.file}:${this.line}: ${this.message}` : `${this.file}: ${this.message}`;
  }
}

/** IpvsadmError is a failed ipvsadm run: the command, its exit status and what it printed. */
export class IpvsadmError extends LdirError {
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string, message?: string) {
    super('LDIR_ERR_IPVSADM', message ?? `ipvsadm ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim()}`);
    this.name = 'IpvsadmError';
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

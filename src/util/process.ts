/** execa, loaded on the first child process (not at start: it is a large module graph). */
let execaLoad: Promise<typeof import('execa')> | undefined;

/** The outcome of a child process: a value, never a throw. */
export interface ProcessResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started at all (ENOENT, EACCES...). */
  readonly spawnError?: string;
}

export interface RunOptions {
  /** Text written to the child's stdin. */
  readonly input?: string;
  /** Kill (TERM, then KILL after a grace period) after this many milliseconds. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Cap on captured stdout/stderr bytes each. */
  readonly maxBuffer?: number;
  /** Send the child's stdout and stderr to /dev/null instead of capturing them (external checks). */
  readonly discardOutput?: boolean;
}

/**
 * ProcessRunner runs a program with arguments, never through a shell. Injected everywhere a child
 * process is started (ipvsadm, external checks, fallbackcommand, callback) so tests can record calls.
 */
export type ProcessRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<ProcessResult>;

/** execaRunner is the real ProcessRunner. */
export const execaRunner: ProcessRunner = async (file, args, opts = {}) => {
  const started = Date.now();
  try {
    const { execa } = await (execaLoad ??= import('execa'));
    const r = await execa(file, [...args], {
      input: opts.input,
      timeout: opts.timeoutMs,
      cancelSignal: opts.signal,
      forceKillAfterDelay: 1000,
      env: opts.env,
      extendEnv: true,
      cwd: opts.cwd,
      reject: false,
      stripFinalNewline: false,
      maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024,
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      stdout: opts.discardOutput ? 'ignore' : 'pipe',
      stderr: opts.discardOutput ? 'ignore' : 'pipe',
      detached: true,
      cleanup: true,
    });
    const spawnError =
      r.failed && r.exitCode === undefined && !r.timedOut && !r.signal && !r.isCanceled ? r.shortMessage : undefined;
    return {
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      timedOut: r.timedOut || Boolean(r.isCanceled),
      durationMs: Date.now() - started,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      spawnError,
    };
  } catch (err) {
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: Date.now() - started,
      stdout: '',
      stderr: '',
      spawnError: err instanceof Error ? err.message : String(err),
    };
  }
};

// Helpers for the tests that run the built `ldirectord` command as a process.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import { execa } from 'execa';
export { tmp, until, have } from '../support/host.js';

export const ROOT = resolve(__dirname, '../..');
export const BIN = join(ROOT, 'bin/ldirectord.js');
/** The real command over a scripted parser and director (test/daemon/scripted/parts.mjs). */
export const SCRIPTED_BIN = join(ROOT, 'test/daemon/scripted/ldirectord.js');

let built = false;

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds dist/ unless it is newer than every source file (the test scripts build first), once per
 * test file; errors in others' in-progress files do not stop tsc's emit.
 */
export function build(): void {
  if (built) return;
  const main = join(ROOT, 'dist/cli/main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newest(join(ROOT, 'src'))) {
    built = true;
    return;
  }
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    /* tsc exits non-zero on type errors elsewhere but still emits */
  }
  built = true;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ldirectord.js ...args` (or the launcher `bin`) and waits for it. */
export async function ld(args: string[], o: { cwd: string; env?: Record<string, string | undefined>; bin?: string }): Promise<RunResult> {
  const r = await execa(process.execPath, [o.bin ?? BIN, ...args], {
    cwd: o.cwd,
    env: o.env,
    extendEnv: true,
    reject: false,
    timeout: 30_000,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function read(p: string): string {
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills a daemon left over by a failed test. */
export function killPidFile(p: string): void {
  const pid = Number(read(p).trim());
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(p, { force: true });
}


/** An HTTP server on ip:port answering every request 200 "OK". */
export function httpOk(ip: string, port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const s = http.createServer((_req, res) => res.end('OK'));
    s.once('error', reject);
    s.listen(port, ip, () => resolve(s));
  });
}

/** Closes an HTTP server and its open connections. */
export function closeHttp(s?: http.Server): Promise<void> {
  return new Promise<void>((r) => {
    if (!s) return r();
    s.close(() => r());
    s.closeAllConnections();
  });
}

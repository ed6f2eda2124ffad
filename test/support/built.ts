// Running a few lines against the built modules in a child node (npm test builds dist/ first): for what a
// test cannot see in its own process (an exit hook, an uncaught error, the modules a call loads).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The import specifier of a built module, e.g. builtUrl('log/logger.js'). */
export function builtUrl(rel: string): string {
  return JSON.stringify(pathToFileURL(join(process.cwd(), 'dist', rel)).href);
}

/** Runs an ES module script in a child node (with nodeArgs, and env over this process's); its exit status, stdout and stderr. */
export function runScript(script: string, o: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): { status: number | null; stdout: string; stderr: string } {
  const env = o.env ? { ...process.env, ...o.env } : process.env;
  const r = spawnSync(process.execPath, [...(o.nodeArgs ?? []), '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

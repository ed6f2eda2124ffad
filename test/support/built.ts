// Running a few lines against the built modules in a child node (npm test builds dist/ first): for what a
// test cannot see in its own process (an exit hook, an uncaught error, the modules a call loads).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The import specifier of a built module, e.g. builtUrl('log/logger.js'). */
export function builtUrl(rel: string): string {
  return JSON.stringify(pathToFileURL(join(process.cwd(), 'dist', rel)).href);
}

/** Runs an ES module script in a child node; its exit status, stdout and stderr. */
export function runScript(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

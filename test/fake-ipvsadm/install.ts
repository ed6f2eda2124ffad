/**
 * Installing and inspecting the fake ipvsadm from tests. installFakeIpvsadm writes `dir/ipvsadm`, a
 * shell wrapper with the state/log files baked in, so that the Perl original (run with -d in dir, it
 * runs ./ipvsadm) and our daemon drive the same fake.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { emptyState, formatList, formatSave, toIpvsTable } from '../../src/ipvs-sim/index.js';
import type { SimState } from '../../src/ipvs-sim/index.js';
import type { IpvsTable } from '../../src/ipvs/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
/** Absolute path of the fake's node script. */
export const FAKE_IPVSADM_SCRIPT = join(HERE, 'ipvsadm.mjs');

/**
 * ensureFakeBuilt makes sure dist/ipvs-sim/index.js (the fake's engine) and the modules it loads exist
 * and are not older than their sources; it transpiles the stale ones one by one, following the relative
 * imports left in each output (the simulated kernel imports types only, outside src/ipvs-sim and
 * src/ipvs/addr.ts).
 */
export function ensureFakeBuilt(): void {
  const seen = new Set<string>();
  const visit = (rel: string): void => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const src = join(ROOT, 'src', rel.replace(/\.js$/, '.ts'));
    const out = join(ROOT, 'dist', rel);
    let js: string;
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) js = readFileSync(out, 'utf8');
    else {
      js = ts.transpileModule(readFileSync(src, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        fileName: src,
      }).outputText;
      mkdirSync(dirname(out), { recursive: true });
      const tmp = `${out}.${process.pid}.tmp`;
      writeFileSync(tmp, js);
      renameSync(tmp, out);
    }
    for (const m of js.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+\.js)';/gms)) visit(posix.join(posix.dirname(rel), m[1]));
  };
  visit('ipvs-sim/index.js');
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface FakeIpvsadmOptions {
  /** The JSON file holding the simulated table (created empty when missing). */
  state: string;
  /** Append a JSON line per invocation here. */
  log?: string;
  /** More environment baked into the wrapper (e.g. FAKE_IPVSADM_FAIL_MATCH). */
  env?: Record<string, string>;
}

/** installFakeIpvsadm writes an executable `dir/ipvsadm` running the fake, and returns its path. */
export function installFakeIpvsadm(dir: string, opts: FakeIpvsadmOptions): string {
  ensureFakeBuilt();
  mkdirSync(dir, { recursive: true });
  const env: Record<string, string> = { FAKE_IPVSADM_STATE: resolve(opts.state), ...(opts.log ? { FAKE_IPVSADM_LOG: resolve(opts.log) } : {}), ...opts.env };
  const lines = ['#!/bin/sh', ...Object.entries(env).map(([k, v]) => `${k}=${shq(v)}; export ${k}`), `exec ${shq(process.execPath)} ${shq(FAKE_IPVSADM_SCRIPT)} "$@"`, ''];
  const path = join(resolve(dir), 'ipvsadm');
  writeFileSync(path, lines.join('\n'));
  chmodSync(path, 0o755);
  return path;
}

/** The simulated kernel state in a fake's state file (empty when the file does not exist). */
export function readFakeState(stateFile: string): SimState {
  if (!existsSync(stateFile)) return emptyState();
  const text = readFileSync(stateFile, 'utf8');
  return text.trim() === '' ? emptyState() : (JSON.parse(text) as SimState);
}

/** The fake's table as IpvsTable. */
export function readFakeTable(stateFile: string): IpvsTable {
  return toIpvsTable(readFakeState(stateFile));
}

/** The fake's table as `ipvsadm -S -n` prints it. */
export function fakeSave(stateFile: string): string {
  return formatSave(readFakeState(stateFile));
}

/** The fake's table as `ipvsadm -L -n` prints it. */
export function fakeList(stateFile: string): string {
  return formatList(readFakeState(stateFile), { numeric: true });
}

/** One logged invocation of the fake. */
export interface FakeInvocation {
  time: string;
  pid: number;
  argv: string[];
  stdin?: string;
  stderr?: string;
  exitCode: number;
}

/** The invocations logged so far (empty when the log does not exist). */
export function readFakeLog(logFile: string): FakeInvocation[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FakeInvocation);
}

// Helpers of the compat suite: the built command, a temporary instance over the fake ipvsadm with
// a real TCP listener on 127.0.0.x for connect checks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installFakeIpvsadm, fakeSave } from '../fake-ipvsadm/install.js';
import { ROOT, BIN, build } from '../cli/helpers.js';
export { which } from '../support/host.js';

export { ROOT, BIN };

let cliState: { ok: boolean; why: string } | undefined;

/**
 * cliWorks builds dist/ when it is older than src/ (tsc emits despite type errors elsewhere) and
 * says whether `node bin/ldirectord.js -v` runs; the suites needing the daemon skip while it does not.
 */
export function cliWorks(): { ok: boolean; why: string } {
  if (cliState) return cliState;
  build();
  const r = spawnSync(process.execPath, [BIN, '-v'], { encoding: 'utf8' });
  cliState = r.status === 0 ? { ok: true, why: '' } : { ok: false, why: `node bin/ldirectord.js -v fails (status ${r.status}): ${(r.stderr || '').slice(0, 200)}` };
  return cliState;
}

export interface Instance {
  dir: string;
  config: string;
  badConfig: string;
  state: string;
  env: NodeJS.ProcessEnv;
  port: number;
  /** The fake table as `ipvsadm -S -n` would print it. */
  table(): string;
  close(): Promise<void>;
}

/**
 * makeInstance creates a temp dir with the fake ipvsadm, a listening real server on 127.0.0.2,
 * a config `ld.cf` with one connect-checked virtual 127.0.0.10:8080 → 127.0.0.2:<port> masq, a
 * config `bad.cf` with an error, and the environment that points the daemon at them.
 */
export async function makeInstance(): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'ldts-compat-'));
  const state = join(dir, 'state.json');
  const ipvsadm = installFakeIpvsadm(dir, { state, log: join(dir, 'ipvsadm.log') });
  const server: Server = createServer((s) => s.end());
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.2', () => res());
  });
  const port = (server.address() as { port: number }).port;
  const config = join(dir, 'ld.cf');
  writeFileSync(
    config,
    [
      'checktimeout=2',
      'checkinterval=1',
      `logfile="${join(dir, 'ldirectord.log')}"`,
      'virtual=127.0.0.10:8080',
      `\treal=127.0.0.2:${port} masq`,
      '\tchecktype=connect',
      '\tscheduler=rr',
      '',
    ].join('\n'),
  );
  const badConfig = join(dir, 'bad.cf');
  writeFileSync(badConfig, ['checkinterval=1', 'virtual=127.0.0.10:8080', '\treal=127.0.0.2:80 masq', '\tnosuchdirective=1', ''].join('\n'));
  const env = { ...process.env, LDIRECTORD_IPVSADM: ipvsadm, LDIRECTORD_RUNDIR: dir };
  return {
    dir,
    config,
    badConfig,
    state,
    env,
    port,
    table: () => (existsSync(state) ? fakeSave(state) : ''),
    close: async () => {
      spawnSync(process.execPath, [BIN, config, 'stop'], { env });
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/** waitFor polls cond every 100 ms until it holds or ms pass; returns the last value. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

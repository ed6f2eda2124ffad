/**
 * The system ping (iputils) as the ping check's fallback when raw-socket cannot be loaded (npm 11 skips
 * its build in `npm install -g` unless its install script is approved). One echo request per call:
 * `ping -n -q -c 1 -W <seconds> -4|-6 <address>`, run without a shell from a fixed list of paths (never
 * one found through PATH or chosen by anything but the admin's installation), killed if it outlives
 * its own timeout. iputils' -W takes fractional seconds and waits that long for the reply, the same
 * per-attempt checktimeout the raw-socket path waits.
 */
import { patientTimeout } from '../util/timer.js';
import { accessSync, constants as fsc } from 'node:fs';
import { spawn } from 'node:child_process';

/** Where the system ping is looked for, in order. */
export const SYSTEM_PING_PATHS: readonly string[] = ['/usr/bin/ping', '/bin/ping', '/usr/sbin/ping', '/sbin/ping'];

/** findSystemPing: the first executable of `paths`, or undefined. */
export function findSystemPing(paths: readonly string[] = SYSTEM_PING_PATHS): string | undefined {
  for (const p of paths) {
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The outcome of one system ping: a reply, none within the timeout, or an error (exit 2, spawn failure). */
export type SystemPingOutcome = { reply: true } | { reply: false; error?: string };

/**
 * How long past its own -W a ping may run before it is killed: its process start, which on a loaded
 * machine takes a good part of a second (the check dispatcher's own grace past the budget is 1 s too).
 */
export const SYSTEM_PING_SLACK_MS = 1000;

/** systemPingArgs: the arguments of one echo request waiting timeoutMs for its reply. */
export function systemPingArgs(address: string, family: 4 | 6, timeoutMs: number): string[] {
  const seconds = (Math.max(1, Math.round(timeoutMs)) / 1000).toFixed(3).replace(/\.?0+$/, '');
  return ['-n', '-q', '-c', '1', '-W', seconds, family === 6 ? '-6' : '-4', '--', address];
}

/** systemPingOnce: one echo request through `bin`; resolves, never rejects. */
export function systemPingOnce(bin: string, address: string, family: 4 | 6, timeoutMs: number, signal: AbortSignal): Promise<SystemPingOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ reply: false });
    let stderr = '';
    let settled = false;
    const child = spawn(bin, systemPingArgs(address, family, timeoutMs), { stdio: ['ignore', 'ignore', 'pipe'] });
    const finish = (o: SystemPingOutcome): void => {
      if (settled) return;
      settled = true;
      cancelTimer();
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const kill = (): void => {
      child.kill('SIGKILL');
      finish({ reply: false });
    };
    const onAbort = (): void => kill();
    const cancelTimer = patientTimeout(kill, Math.max(0, timeoutMs) + SYSTEM_PING_SLACK_MS);
    signal.addEventListener('abort', onAbort, { once: true });
    child.stderr!.on('data', (b: Buffer) => {
      if (stderr.length < 1000) stderr += b.toString();
    });
    child.on('error', (e) => finish({ reply: false, error: `${bin}: ${e.message}` }));
    child.on('close', (code) => {
      if (code === 0) finish({ reply: true });
      // iputils: 1 = no reply, 2 = any other error (unreachable network, unknown address, no permission).
      else if (code === 1 || code === null) finish({ reply: false });
      else finish({ reply: false, error: `${bin} exited ${code}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}` });
    });
  });
}

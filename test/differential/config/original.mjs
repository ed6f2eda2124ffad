// Runs the Perl original (ldirectord) on one config and reports its verdict. Shared by record.mjs
// (which writes expected.json) and by config-diff.test.ts (which may re-check a few configs live).
//
// The original has no parse-only mode, so it is started as `ldirectord -d <cfg> start` in a temporary
// directory holding a stub ./ipvsadm (with -d the original prefers ./ipvsadm), inside a fresh network
// namespace that has only a loopback interface (down), and killed by pid as soon as it either exited
// (rejection: "Error [...] reading file <cfg> at line N: ...") or logged "Invoking ldirectord invoked
// as", which it does right after read_config() succeeded (acceptance).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LDIRECTORD = '/usr/sbin/ldirectord';

const STUB_IPVSADM = `#!/bin/sh
echo "IP Virtual Server version 1.2.1 (size=4096)"
echo "Prot LocalAddress:Port Scheduler Flags"
echo "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
case "$1" in -A|-E|-a|-e|-d|-D) echo "$*" >> ./ipvsadm.log ;; esac
exit 0
`;

/** Why the original cannot be run here, or undefined when it can. */
export function originalUnavailableReason() {
  if (!existsSync(LDIRECTORD)) return `${LDIRECTORD} is not installed (Debian package ldirectord)`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root (unshare -n needs it)';
  const r = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) return 'unshare -n does not work here (no network namespaces)';
  return undefined;
}

/**
 * runOriginal(cfgAbsPath) → { verdict: 'accept'|'reject'|'unknown', line?, message?, warnings, output, ipvsadm? }
 * Bounded to timeoutMs; the process group it started is killed by pid in every case.
 * With { ipvsadm: true }, an accepted config is left running until its output has been quiet for
 * quietMs (the start-up table sync is done by then), and the ipvsadm commands that change the table
 * (-A -E -a -e -d -D, as logged by the stub) are returned.
 */
export async function runOriginal(cfg, { timeoutMs = 15000, ipvsadm = false, quietMs = 1200 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ldcfg-'));
  try {
    await writeFile(join(dir, 'ipvsadm'), STUB_IPVSADM);
    await chmod(join(dir, 'ipvsadm'), 0o755);
    return await new Promise((resolve) => {
      const child = spawn('unshare', ['-n', '--', LDIRECTORD, '-d', cfg, 'start'], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: 'ldirectord-test', LANG: 'C' },
      });
      let output = '';
      let accepted = false;
      let settled = false;
      const kill = () => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(kill, timeoutMs);
      let quiet;
      const onData = (b) => {
        output += b.toString('latin1');
        if (!accepted && /^Invoking ldirectord invoked as/m.test(output)) {
          accepted = true;
          if (!ipvsadm) kill();
        }
        if (accepted && ipvsadm) {
          clearTimeout(quiet);
          quiet = setTimeout(kill, quietMs);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(quiet);
        const warnings = [...output.matchAll(/^Warning \[\d+\](?: reading file .* at line (\d+))?: (.*)$/gm)].map(
          (m) => ({ line: m[1] ? Number(m[1]) : 0, message: m[2] }),
        );
        const err = /^Error \[\d+\](?: reading file .* at line (\d+))?: (.*)$/m.exec(output);
        let commands;
        if (accepted && ipvsadm) {
          try {
            commands = readFileSync(join(dir, 'ipvsadm.log'), 'latin1').split('\n').filter(Boolean);
          } catch {
            commands = [];
          }
        }
        // service_set's debug lines name each real by the original's real id string (check, protocol,
        // address, port, virtualhost, checkport, weight, forwarding, request, receive).
        const realIds = [...output.matchAll(/^DEBUG2: (?:Enabled |Disabled) real server=(.*) \(virtual=([^()]*)\)$/gm)].map(
          (m) => `${m[2]} ${m[1]}`,
        );
        if (accepted) resolve({ verdict: 'accept', warnings, output, ...(commands ? { ipvsadm: commands, realIds } : {}) });
        else if (err && code === 2) resolve({ verdict: 'reject', line: err[1] ? Number(err[1]) : 0, message: err[2], warnings, output });
        else resolve({ verdict: 'unknown', exit: code, signal, warnings, output: output.slice(-2000) });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A SYN black hole: in a network namespace this test creates (unshare -n), an nftables rule drops every
 * SYN to one port. The connect and http checks of a real behind it end within checktimeout + grace and
 * say down; a healthy real checked at the same time is not held up. Only loopback addresses inside the
 * namespace are used.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, build } from './helpers.js';

function reason(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v nft']).status !== 0) return 'nft (nftables) is not installed';
  if (spawnSync('unshare', ['-n', 'true']).status !== 0) return 'cannot create a network namespace (unshare -n)';
  return undefined;
}
const why = reason();
if (why) console.warn(`SYN black hole test skipped: ${why}`);

const SCRIPT = `
import net from 'node:net';
const { parseConfigText } = await import(${JSON.stringify(join(ROOT, 'dist/config/parse.js'))});
const { buildCheckJobs, runCheck } = await import(${JSON.stringify(join(ROOT, 'dist/checks/index.js'))});
const [dropPort, okPort] = process.argv.slice(2).map(Number);
const ok = net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nOK')));
await new Promise((r) => ok.listen(okPort, '127.0.0.3', r));
const out = [];
for (const [checktype, service] of [['connect', 'none'], ['negotiate', 'http']]) {
  const cfg = await parseConfigText(
    'checktimeout=2\\nnegotiatetimeout=2\\n' +
    'virtual=127.0.0.1:' + dropPort + '\\n\\treal=127.0.0.2:' + dropPort + ' gate\\n\\tchecktype=' + checktype + '\\n\\tservice=' + service + '\\n\\trequest="/"\\n\\treceive="OK"\\n' +
    'virtual=127.0.0.1:' + okPort + '\\n\\treal=127.0.0.3:' + okPort + ' gate\\n\\tchecktype=' + checktype + '\\n\\tservice=' + service + '\\n\\trequest="/"\\n\\treceive="OK"\\n',
    'bh.cf', { hostname: 'lb1', checkFiles: false });
  const order = [];
  const res = await Promise.all(buildCheckJobs(cfg.virtuals).map(async (j) => {
    const r = await runCheck(j, { signal: new AbortController().signal, hostname: 'lb1' });
    order.push(j.real.ip);
    return { ip: j.real.ip, ok: r.ok, durationMs: r.durationMs, message: r.message };
  }));
  out.push({ checktype, order, res });
}
ok.close();
process.stdout.write(JSON.stringify(out));
`;

describe.skipIf(why !== undefined)('SYN black hole in a test network namespace', () => {
  beforeAll(() => build());
  it('checks of a black-holed real end within their timeout; the healthy one is not delayed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldrel-bh-'));
    try {
      const script = join(dir, 'bh.mjs');
      writeFileSync(script, SCRIPT);
      const dropPort = 8081;
      const okPort = 8082;
      writeFileSync(join(dir, 'rules.nft'), `table inet bh {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport ${dropPort} tcp flags & (syn | ack) == syn drop\n }\n}\n`);
      const r = spawnSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && nft -f '${join(dir, 'rules.nft')}' && exec '${process.execPath}' '${script}' ${dropPort} ${okPort}`], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { checktype: string; order: string[]; res: { ip: string; ok: boolean; durationMs: number; message: string }[] }[];
      expect(out).toHaveLength(2);
      for (const c of out) {
        const bh = c.res.find((x) => x.ip === '127.0.0.2')!;
        const good = c.res.find((x) => x.ip === '127.0.0.3')!;
        expect(bh.ok, `${c.checktype}: ${bh.message}`).toBe(false);
        expect(bh.durationMs, `${c.checktype}: ${bh.message}`).toBeLessThan(2000 + 1000 + 1500);
        expect(bh.durationMs).toBeGreaterThanOrEqual(1500); // it really waited: the SYN was dropped, not refused
        expect(good.ok, `${c.checktype}: ${good.message}`).toBe(true);
        expect(c.order[0]).toBe('127.0.0.3');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
    }
  });
});

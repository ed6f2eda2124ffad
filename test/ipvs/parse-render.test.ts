import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyState, formatList, formatSave, runIpvsadm, toIpvsTable } from '../../src/ipvs-sim/index.js';
import { locateIpvsadm } from '../../src/ipvs/locate.js';
import { IpvsParseError, parseList, parseListing, parseSave } from '../../src/ipvs/parse.js';
import { renderArgs, renderCommandLine, renderRestoreLine } from '../../src/ipvs/render.js';
import type { IpvsCommand, IpvsTable } from '../../src/ipvs/types.js';

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

const RESTORE = [
  '-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0',
  '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 0 -x 100 -y 10',
  '-a -t 10.0.0.1:80 -r 10.0.0.3:8080 -m -w 70000',
  '-A -u 10.0.0.1:53 -s sh -b sh-fallback -o',
  '-a -u 10.0.0.1:53 -r 10.0.0.4:53 -i -w 2 -x 5 -y 0',
  '-A -t [2001:db8::1]:443 -s rr -p 60 -M 64',
  '-a -t [2001:db8::1]:443 -r [2001:db8::10]:8443 -m -w 1',
  '-A -t 10.0.0.5:0 -s lc -p',
  '-A -f 42 -s lc -p 60',
  '-a -f 42 -r 192.168.1.30 -g -w 1',
  '-A -f 42 -6 -s rr',
  '-a -f 42 -6 -r [::1]:0 -i -w 1 -x 3 -y 1',
  '',
].join('\n');

function table(): ReturnType<typeof emptyState> {
  const s = emptyState();
  const r = runIpvsadm(s, ['-R'], { stdin: RESTORE });
  expect(r).toEqual({ stdout: '', stderr: '', exitCode: 0 });
  return s;
}

const withoutThresholds = (t: IpvsTable): IpvsTable => ({
  services: t.services.map((e) => ({ service: e.service, dests: e.dests.map((d) => ({ ...d, upperThreshold: 0, lowerThreshold: 0 })) })),
});

describe('parse', () => {
  it('-L -n plus --thresholds gives the full table back', () => {
    const s = table();
    const parsed = parseListing(formatList(s, { numeric: true }), formatList(s, { numeric: true, thresholds: true }));
    expect(parsed).toEqual(toIpvsTable(s));
    expect(parsed.services.map((e) => e.service.vaddr)).toEqual(['10.0.0.1:80', '10.0.0.5:0', '10.0.0.1:53', '[2001:db8::1]:443', '42', '42']);
    expect(parsed.services[1].service.persistent).toBe(360);
  });

  it('-L -n alone and -S -n give the table without thresholds', () => {
    const s = table();
    expect(parseList(formatList(s, { numeric: true }))).toEqual(withoutThresholds(toIpvsTable(s)));
    expect(parseSave(formatSave(s))).toEqual(withoutThresholds(toIpvsTable(s)));
  });

  it('rejects garbage with IpvsParseError (code LDIR_ERR_IPVSADM), never an empty table', () => {
    expect(() => parseList('Segmentation fault\n')).toThrow(IpvsParseError);
    expect(() => parseListing(formatList(table(), { numeric: true }), 'IP Virtual Server version 1.2.1 (size=4096)\n  -> 1.2.3.4:80 x\n')).toThrow(/line 2/);
    expect(() => parseSave('-A -t 10.0.0.1:80 -s\n')).toThrow(IpvsParseError);
    expect(caught(() => parseList('  -> 10.0.0.2:80                 Route   1      0          0\n'))).toMatchObject({ code: 'LDIR_ERR_IPVSADM', lineNo: 1 });
  });
});

describe('render', () => {
  it('renders every command kind; the lines are accepted by ipvsadm and re-create the table', () => {
    const orig = toIpvsTable(table());
    const cmds: IpvsCommand[] = [];
    for (const e of orig.services) {
      cmds.push({ op: 'add-service', service: e.service });
      const ref = { proto: e.service.proto, vaddr: e.service.vaddr, ...(e.service.ipv6Fwm ? { ipv6Fwm: true } : {}) };
      for (const d of e.dests) cmds.push({ op: 'add-dest', ...ref, dest: d });
    }
    const s = emptyState();
    const r = runIpvsadm(s, ['-R'], { stdin: cmds.map((c) => renderRestoreLine(c) + '\n').join('') });
    expect(r).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(toIpvsTable(s)).toEqual(orig);
  });

  it('argv, -R line and command line of edits and deletes', () => {
    const e: IpvsCommand = { op: 'edit-dest', proto: 'fwm', vaddr: '42', ipv6Fwm: true, dest: { rs: '[::1]:0', forward: 'ipip', weight: 0, upperThreshold: 3, lowerThreshold: 1 } };
    expect(renderArgs(e)).toEqual(['-e', '-f', '42', '-6', '-r', '[::1]:0', '-i', '-w', '0', '-x', '3', '-y', '1']);
    expect(renderRestoreLine({ op: 'delete-dest', proto: 'udp', vaddr: '10.0.0.1:53', rs: '10.0.0.4:53' })).toBe('-d -u 10.0.0.1:53 -r 10.0.0.4:53');
    expect(renderCommandLine({ op: 'delete-service', proto: 'tcp', vaddr: '10.0.0.1:80' }, '/sbin/ipvsadm')).toBe('/sbin/ipvsadm -D -t 10.0.0.1:80');
    expect(renderRestoreLine({ op: 'edit-service', service: { proto: 'tcp', vaddr: '[::1]:80', scheduler: 'sh', persistent: 10, netmask: '64', schedflags: 'sh-port', ops: false } }))
      .toBe('-E -t [::1]:80 -s sh -p 10 -M 64 -b sh-port');
  });
});

describe('locateIpvsadm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'locate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, 'sbin-ipvsadm');
  writeFileSync(exe, '#!/bin/sh\n');
  chmodSync(exe, 0o755);
  const plain = join(dir, 'not-exec');
  writeFileSync(plain, '');

  it('LDIRECTORD_IPVSADM wins over everything', () => {
    writeFileSync(join(dir, 'ipvsadm'), '');
    expect(locateIpvsadm({ debug: true, cwd: dir, env: { LDIRECTORD_IPVSADM: '/opt/x/ipvsadm' }, candidates: [exe] })).toBe('/opt/x/ipvsadm');
  });
  it('with -d, ./ipvsadm in the working directory (absolute path); without -d it is ignored', () => {
    expect(locateIpvsadm({ debug: true, cwd: dir, env: {}, candidates: [exe] })).toBe(join(dir, 'ipvsadm'));
    expect(locateIpvsadm({ debug: false, cwd: dir, env: {}, candidates: [exe] })).toBe(exe);
  });
  it('the first executable candidate; none → LDIR_ERR_IPVSADM_NOT_FOUND "Can not find ipvsadm"', () => {
    expect(locateIpvsadm({ debug: false, env: {}, candidates: [plain, join(dir, 'missing'), exe] })).toBe(exe);
    expect(() => locateIpvsadm({ debug: false, env: {}, candidates: [plain] })).toThrow('Can not find ipvsadm');
    expect(caught(() => locateIpvsadm({ debug: true, cwd: join(dir, 'nowhere'), env: {}, candidates: [] }))).toMatchObject({
      code: 'LDIR_ERR_IPVSADM_NOT_FOUND',
    });
  });
});

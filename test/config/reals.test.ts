import { describe, expect, it } from 'vitest';

import { parse, rejectLine, virtual } from './helpers.js';

const H = 'virtual=127.0.0.1:80';
const reals = async (...lines: string[]) => (await virtual(H, lines)).reals;

describe('real= address and port forms', () => {
  it('ip:port, ip without port (0), hostname, service-name port', async () => {
    const r = await reals('real=127.0.0.2:80 gate', 'real=127.0.0.3 gate', 'real=web1.example:www masq', 'real=127.0.0.4:syslog masq');
    expect(r.map((x) => [x.ip, x.port, x.family])).toEqual([
      ['127.0.0.2', 80, 4],
      ['127.0.0.3', 0, 4],
      ['127.0.0.1', 80, 4],
      // The real's port is looked up for any protocol (syslog is udp only).
      ['127.0.0.4', 514, 4],
    ]);
    expect(r[2]).toMatchObject({ source: 'web1.example:www masq', pos: { file: 'test.cf', line: 4 } });
  });

  it('[ipv6]:port in a virtual6 block', async () => {
    const v = await virtual('virtual6=[::1]:80', ['real6=[2001:DB8::5]:8080 masq', 'real6=localhost6 gate']);
    expect(v.reals.map((x) => [x.ip, x.port, x.family])).toEqual([
      ['2001:db8::5', 8080, 6],
      ['::1', 0, 6],
    ]);
  });

  it.each([
    ['real=127.0.0.2:80', 'no forwarding method (wrong format)'],
    ['real=127.0.0.2:80 route', 'unknown forwarding method'],
    ['real=127.0.0.2:70000 gate', 'port out of range'],
    ['real=127.0.0.2:nosuch gate', 'unknown service'],
    ['real=nohost.invalid:80 gate', 'unresolvable host'],
    ['real=[::1]:80 gate', 'IPv6 address in an IPv4 block'],
    ['real6=[::1]:80 gate', 'real6 in an IPv4 block'],
    ['real=127.0.0.2:80 gate 1 junk', 'leftover text'],
    ['real=127.0.0.2:80 gate "/x", "ok 200"', 'digits in the receive taken as weight'],
  ])('%s is rejected (%s)', async (line) => {
    expect(await rejectLine(`${H}\n\treal=127.0.0.9:80 gate\n\t${line}\n`)).toBe(3);
  });

  it('real instead of real6 in a virtual6 block, and an IPv4 real6', async () => {
    expect(await rejectLine('virtual6=[::1]:80\n\treal=127.0.0.2:80 gate\n')).toBe(2);
    expect(await rejectLine('virtual6=[::1]:80\n\treal6=127.0.0.2:80 gate\n')).toBe(2);
  });

  it('real errors come after the whole block was read (a later block error wins)', async () => {
    expect(await rejectLine(`${H}\n\treal=127.0.0.2:80 route\n\tscheduler=WRR\n`)).toBe(3);
    expect(await rejectLine(`${H}\n\treal=127.0.0.2:80 route\n\tscheduler=rr\n`)).toBe(2);
  });
});

describe('real= flags', () => {
  it('forwarding method and weight (default 1, 0 allowed)', async () => {
    const r = await reals('real=127.0.0.2:80 gate', 'real=127.0.0.3:80 masq 5', 'real=127.0.0.4:80 ipip 0');
    expect(r.map((x) => [x.forward, x.weight])).toEqual([
      ['gate', 1],
      ['masq', 5],
      ['ipip', 0],
    ]);
    expect(r[0]).toMatchObject({ upperThreshold: 0, lowerThreshold: 0 });
    expect(r[0].request).toBeUndefined();
    expect(r[0].receive).toBeUndefined();
  });

  it('per-real request/receive: "/" prepended, separated by comma or space', async () => {
    const r = await reals('real=127.0.0.2:80 masq 2 "check", "OK"', 'real=127.0.0.3:80 masq "a b" "c"');
    expect(r[0]).toMatchObject({ weight: 2, request: '/check', receive: 'OK' });
    expect(r[1]).toMatchObject({ weight: 1, request: '/a b', receive: 'c' });
  });

  it('thresholds l: and u:', async () => {
    const r = await reals('real=127.0.0.2:80 masq 1 l:10 u:20', 'real=127.0.0.3:80 masq "x", "y" l:3 u:4');
    expect(r[0]).toMatchObject({ lowerThreshold: 10, upperThreshold: 20 });
    expect(r[1]).toMatchObject({ request: '/x', receive: 'y', lowerThreshold: 3, upperThreshold: 4 });
  });

  it('u: before l: loses u (original\'s behaviour)', async () => {
    const r = await reals('real=127.0.0.2:80 masq 1 u:20 l:10');
    expect(r[0]).toMatchObject({ lowerThreshold: 10, upperThreshold: 0 });
  });

  it('per-real request with a leading "/" drops receive and everything after it (original\'s bug), with a warning', async () => {
    const c = await parse(`${H}\n\treal=127.0.0.2:80 masq 2 "/check", "OK" l:5 u:9 garbage\n`);
    const r = c.virtuals[0].reals[0];
    expect(r).toMatchObject({ weight: 2, request: '/check', lowerThreshold: 0, upperThreshold: 0 });
    expect(r.receive).toBeUndefined();
    expect(c.warnings).toEqual([expect.objectContaining({ line: 2 })]);
  });

  it('text between the flags is skipped silently, as in the original', async () => {
    const r = await reals('real=127.0.0.2:80 masq some words 3');
    expect(r[0]).toMatchObject({ forward: 'masq', weight: 3 });
  });

  it('warns when a gate/ipip real names a port other than the virtual\'s', async () => {
    const c = await parse(`${H}\n\treal=127.0.0.2:8080 gate\n\treal=127.0.0.3:8080 masq\n`);
    expect(c.warnings).toEqual([expect.objectContaining({ line: 2 })]);
  });
});

describe('ranges', () => {
  it('expand to one real per address, flags applied to each', async () => {
    const r = await reals('real=127.0.0.10->127.0.0.13:8080 masq 2 l:1 u:2');
    expect(r.map((x) => x.ip)).toEqual(['127.0.0.10', '127.0.0.11', '127.0.0.12', '127.0.0.13']);
    expect(r.every((x) => x.port === 8080 && x.weight === 2 && x.upperThreshold === 2)).toBe(true);
    expect(r[0].source).toBe('127.0.0.10->127.0.0.13:8080 masq 2 l:1 u:2');
  });

  it('a one-address range and a range across an octet boundary', async () => {
    expect((await reals('real=127.0.0.5->127.0.0.5 gate')).map((x) => x.ip)).toEqual(['127.0.0.5']);
    expect((await reals('real=127.0.0.254->127.0.1.1 masq')).map((x) => x.ip)).toEqual([
      '127.0.0.254', '127.0.0.255', '127.0.1.0', '127.0.1.1',
    ]);
  });

  it('compares the addresses as strings (original\'s bug) and warns', async () => {
    const c = await parse(`${H}\n\treal=0.0.0.1->0.0.0.9 masq\n`);
    // 1..9, then "10" <= "9" ... "89" <= "9" as strings; "90" stops.
    expect(c.virtuals[0].reals).toHaveLength(89);
    expect(c.warnings[0]).toMatchObject({ line: 2 });
  });

  it('reversed ranges and IPv6 ranges are rejected', async () => {
    expect(await rejectLine(`${H}\n\treal=127.0.0.9->127.0.0.2 masq\n`)).toBe(2);
    expect(await rejectLine('virtual6=[::1]:80\n\treal6=[::1]->[::1] masq\n')).toBe(2);
    expect(await rejectLine(`${H}\n\treal=127.0.0.2->nohost.invalid masq\n`)).toBe(2);
  });

  it('10 000 reals parse', async () => {
    const c = await parse(`${H}\n\treal=127.1.0.1->127.1.39.16:80 masq\n`);
    expect(c.virtuals[0].reals).toHaveLength(10000);
  });
});

describe('unanchored real= pattern', () => {
  it('skips leading text like the original (the Debian sample "ip::port") and warns', async () => {
    const c = await parse('virtual=127.0.0.1:5060\n\treal=192.0.2.2::5060 gate\n');
    expect(c.virtuals[0].reals[0]).toMatchObject({ ip: '0.0.19.196', port: 0, forward: 'gate' });
    expect(c.warnings).toEqual([expect.objectContaining({ line: 2, message: expect.stringContaining('skipped') })]);
  });
});

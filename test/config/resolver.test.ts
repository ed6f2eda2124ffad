import { describe, expect, it } from 'vitest';

import {
  hostsFileResolver,
  literalAddress,
  normalizeIPv6,
  parseInetAton,
  parseServices,
  servicePortFrom,
  systemResolver,
} from '../../src/config/resolver.js';

describe('IPv4 literals as inet_aton reads them', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['10.1.256', '10.1.1.0'],
    ['256.0.0.1', undefined],
    ['1.2.3.4.5', undefined],
    ['08.0.0.1', undefined],
    ['', undefined],
    ['a.b.c.d', undefined],
  ])('%s → %s', (text, want) => {
    expect(parseInetAton(text)).toBe(want);
  });
});

describe('IPv6 literals', () => {
  it('normalizes as getnameinfo prints', () => {
    expect(normalizeIPv6('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(normalizeIPv6('::1')).toBe('::1');
    expect(normalizeIPv6('1:::2')).toBeUndefined();
    expect(literalAddress('::1', 4)).toBeUndefined();
    expect(literalAddress('127.0.0.1', 6)).toBeUndefined();
  });
});

describe('services table', () => {
  const t = parseServices('# c\nhttp\t80/tcp\twww # web\ndomain 53/tcp\ndomain 53/udp\nsyslog 514/udp\n');
  it('looks up by name, alias and protocol; "" = first entry of any protocol', () => {
    expect(servicePortFrom(t, 'http', 'tcp')).toBe(80);
    expect(servicePortFrom(t, 'www', 'tcp')).toBe(80);
    expect(servicePortFrom(t, 'http', 'udp')).toBeUndefined();
    expect(servicePortFrom(t, 'syslog', '')).toBe(514);
    expect(servicePortFrom(t, 'nosuch', '')).toBeUndefined();
  });
});

describe('resolvers', () => {
  it('hosts-file resolver: literals and listed names only', async () => {
    const r = hostsFileResolver('127.0.0.1 localhost lo4\n::1 localhost ip6-localhost\n');
    expect(await r.lookupHost('LOCALHOST', 4)).toBe('127.0.0.1');
    expect(await r.lookupHost('localhost', 6)).toBe('::1');
    expect(await r.lookupHost('lo4', 6)).toBeUndefined();
    expect(await r.lookupHost('example.invalid', 4)).toBeUndefined();
    expect(await r.lookupHost('127.1', 4)).toBe('127.0.0.1');
  });

  it('system resolver: literals without lookup, localhost through getaddrinfo', async () => {
    expect(await systemResolver.lookupHost('192.0.2.1', 4)).toBe('192.0.2.1');
    expect(await systemResolver.lookupHost('192.0.2.1', 6)).toBeUndefined();
    expect(await systemResolver.lookupHost('2001:db8::0:1', 6)).toBe('2001:db8::1');
    expect(await systemResolver.lookupHost('', 4)).toBeUndefined();
    expect(await systemResolver.lookupHost('localhost', 4)).toMatch(/^127\./);
  });
});

import { expect } from 'vitest';

import { parseConfigText, type ParseOptions } from '../../src/config/parse.js';
import { hostsFileResolver } from '../../src/config/resolver.js';
import type { Config, VirtualService } from '../../src/model/config.js';
import { ConfigError } from '../../src/util/errors.js';

/** Offline resolver: literals, localhost (v4) and localhost6 (v6), a fixed services table. */
export const resolver = hostsFileResolver(
  '127.0.0.1 localhost web1.example\n::1 localhost6\n192.0.2.7 sorry.example\n',
  [
    'ftp 21/tcp', 'smtp 25/tcp', 'domain 53/tcp', 'domain 53/udp', 'http 80/tcp www', 'pop3 110/tcp',
    'https 443/tcp', 'https 443/udp', 'ldaps 636/tcp', 'mysql 3306/tcp', 'syslog 514/udp',
  ].join('\n'),
);

export const opts: ParseOptions = { resolver, hostname: 'lb1', checkFiles: false };

export function parse(text: string, extra: ParseOptions = {}): Promise<Config> {
  return parseConfigText(text, 'test.cf', { ...opts, ...extra });
}

/** Parses a file made of one virtual block (header plus indented lines) and returns that virtual. */
export async function virtual(header: string, lines: string[] = [], globals: string[] = []): Promise<VirtualService> {
  const c = await parse([...globals, header, ...lines.map((l) => `\t${l}`), ''].join('\n'));
  expect(c.virtuals.length).toBeGreaterThan(0);
  return c.virtuals[0];
}

/** Asserts a rejection and returns the error (its line is the caller's to check). */
export async function reject(text: string, extra: ParseOptions = {}): Promise<ConfigError> {
  try {
    await parse(text, extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected a rejection of:\n${text}`);
}

/** Line of the rejection of `text`. */
export async function rejectLine(text: string, extra: ParseOptions = {}): Promise<number> {
  return (await reject(text, extra)).line;
}

export const V = 'virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n';
